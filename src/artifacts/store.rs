//! Content-addressed uploads: an object whose key is its SHA-256 is uploaded only when the bucket
//! does not have it yet, several at once.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::aws::AwsError;
use crate::aws::Clients;

/// Uploads at once.
pub const PARALLEL_UPLOADS: usize = 4;

/// Existence checks (HeadObject) at once: small calls, made for every object before any upload.
pub const PARALLEL_CHECKS: usize = 16;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub bytes: usize,
    /// False when the bucket already had it.
    pub uploaded: bool,
}

/// Whether the bucket holds the key.
pub async fn exists(clients: &Clients, bucket: &str, key: &str) -> Result<bool, AwsError> {
    match clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(err) => Err(AwsError::call("HeadObject", &err)),
    }
}

/// Upload `bytes` under `key` unless it is already there.
pub async fn put_if_absent(
    clients: &Clients,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<Stored, AwsError> {
    put_payload_if_absent(clients, bucket, key, bytes, None).await
}

/// How many existence checks and uploads [`put_all`] makes at once.
#[derive(Debug)]
struct Limits {
    checks: Semaphore,
    uploads: Semaphore,
}

/// The bytes of an object to upload: taken (copied, if shared) only when the bucket lacks it.
pub trait Payload: Send + 'static {
    fn size(&self) -> usize;
    fn into_bytes(self) -> Vec<u8>;
}

impl Payload for Vec<u8> {
    fn size(&self) -> usize {
        self.len()
    }
    fn into_bytes(self) -> Vec<u8> {
        self
    }
}

impl Payload for Arc<Vec<u8>> {
    fn size(&self) -> usize {
        self.len()
    }
    fn into_bytes(self) -> Vec<u8> {
        Arc::try_unwrap(self).unwrap_or_else(|shared| shared.as_ref().clone())
    }
}

async fn put_payload_if_absent(
    clients: &Clients,
    bucket: &str,
    key: &str,
    bytes: impl Payload,
    limits: Option<&Limits>,
) -> Result<Stored, AwsError> {
    let size = bytes.size();
    let present = {
        let _permit = match limits {
            Some(l) => Some(l.checks.acquire().await.expect("never closed")),
            None => None,
        };
        exists(clients, bucket, key).await?
    };
    if present {
        return Ok(Stored {
            key: key.to_string(),
            bytes: size,
            uploaded: false,
        });
    }
    let _permit = match limits {
        Some(l) => Some(l.uploads.acquire().await.expect("never closed")),
        None => None,
    };
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes.into_bytes()))
        .send()
        .await
        .map_err(|e| AwsError::call("PutObject", &e))?;
    Ok(Stored {
        key: key.to_string(),
        bytes: size,
        uploaded: true,
    })
}

/// Upload every absent object, [`PARALLEL_UPLOADS`] at a time (the bucket asked about
/// [`PARALLEL_CHECKS`] objects at a time); results in the input's order. The first failure is
/// returned after the uploads under way have ended.
pub async fn put_all(
    clients: &Clients,
    bucket: &str,
    objects: Vec<(String, impl Payload)>,
) -> Result<Vec<Stored>, AwsError> {
    let limits = Arc::new(Limits {
        checks: Semaphore::new(PARALLEL_CHECKS),
        uploads: Semaphore::new(PARALLEL_UPLOADS),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (key, bytes)) in objects.into_iter().enumerate() {
        let (clients, bucket, limits) = (clients.clone(), bucket.to_string(), limits.clone());
        tasks.spawn(async move {
            let stored = put_payload_if_absent(&clients, &bucket, &key, bytes, Some(&limits)).await;
            (index, stored)
        });
    }
    let mut results: Vec<(usize, Stored)> = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.expect("upload tasks do not panic");
        match result {
            Ok(stored) => results.push((index, stored)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, s)| s).collect())
}
