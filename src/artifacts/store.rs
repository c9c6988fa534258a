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
    let size = bytes.len();
    if exists(clients, bucket, key).await? {
        return Ok(Stored {
            key: key.to_string(),
            bytes: size,
            uploaded: false,
        });
    }
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| AwsError::call("PutObject", &e))?;
    Ok(Stored {
        key: key.to_string(),
        bytes: size,
        uploaded: true,
    })
}

/// Upload every absent object, [`PARALLEL_UPLOADS`] at a time; results in the input's order.
/// The first failure is returned after the uploads under way have ended.
pub async fn put_all(
    clients: &Clients,
    bucket: &str,
    objects: Vec<(String, Vec<u8>)>,
) -> Result<Vec<Stored>, AwsError> {
    let permits = Arc::new(Semaphore::new(PARALLEL_UPLOADS));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (key, bytes)) in objects.into_iter().enumerate() {
        let (clients, bucket, permits) = (clients.clone(), bucket.to_string(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            (index, put_if_absent(&clients, &bucket, &key, bytes).await)
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
