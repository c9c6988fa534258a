//! Publishing checked images: each goes to the firmware bucket under a content-addressed key
//! (`firmware/<project>/<version>/<sha256>.bin`, with version, SHA-256 and MD5 as metadata; S3
//! checks the MD5 on upload), is registered as the OTA job the `ota-fetch` function serves, and,
//! when the profile asks, as an AWS IoT Job with the manifest's rollout, abort and timeout
//! settings. What is already there is skipped. A failure undoes what this run made for that
//! image, so nothing half-published remains.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::Serialize;

use super::image;
use super::manifest::Checked;
use crate::aws::AwsError;
use crate::aws::Clients;

/// Where images go: the deployed stack's firmware bucket and OTA jobs table.
#[derive(Debug, Clone)]
pub struct Target {
    pub stack: String,
    pub bucket: String,
    pub jobs_table: String,
    /// Also create AWS IoT Jobs (profile `firmware.iot_jobs`).
    pub iot_jobs: bool,
}

/// Rollout limits a profile sets over the manifest's, by image name.
pub type Overrides = BTreeMap<String, (Option<i64>, Option<i64>)>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    pub name: String,
    pub key: String,
    pub version: String,
    pub project: String,
    pub chip: String,
    pub sha256: String,
    pub bytes: usize,
    /// False when the bucket already held it.
    pub uploaded: bool,
    pub ota_job_id: String,
    /// False when the job was already registered.
    pub registered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iot_job: Option<String>,
    /// For a newly registered job: whether `ota-fetch` was asked to offer it to the nodes online
    /// now (they get it at once rather than at their next boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_online: Option<bool>,
    /// Why it could not be asked (the nodes then get the job when they next ask).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_error: Option<String>,
}

/// The bucket key of an image: its project, version and content.
pub fn key_of(c: &Checked) -> String {
    format!(
        "firmware/{}/{}/{}.bin",
        c.spec.project, c.spec.version, c.sha256
    )
}

/// The longest OTA job id: stock firmware keeps the id it is offered in a 64-byte buffer with
/// its terminating NUL (`esp_rmaker_ota_using_topics.c`, `char job_id[64]`).
pub const MAX_JOB_ID: usize = 63;

/// The OTA job id of an image (also its AWS IoT job id: letters, digits, `-` and `_`), at most
/// [`MAX_JOB_ID`] characters: a long project or version loses its start, never the digest.
pub fn job_id_of(c: &Checked) -> String {
    job_id(&c.spec.project, &c.spec.version, &c.sha256)
}

fn job_id(project: &str, version: &str, sha256: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '-' {
                    ch
                } else {
                    '_'
                }
            })
            .collect()
    };
    let id = format!("{}-{}-{}", clean(project), clean(version), &sha256[..12]);
    id.chars()
        .rev()
        .take(MAX_JOB_ID)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// The deployed stack's bucket and table, from its resources.
pub async fn target(clients: &Clients, stack: &str, iot_jobs: bool) -> Result<Target, AwsError> {
    let ids = crate::deploy::outputs::physical_ids(clients, stack)
        .await
        .map_err(|e| match e {
            AwsError::Call { message, .. } if message.contains("does not exist") => {
                AwsError::Call {
                    operation: "ListStackResources".into(),
                    message,
                    help: Some(format!(
                        "stack {stack} is not deployed in {}: run `rmdeploy apply` first",
                        clients.region
                    )),
                }
            }
            other => other,
        })?;
    let get = |logical: &str| {
        ids.get(logical).cloned().ok_or_else(|| AwsError::Call {
            operation: "ListStackResources".into(),
            message: format!("stack {stack} has no {logical}"),
            help: Some(
                "the stack is not an rmdeploy stack, or is being created; run `rmdeploy apply`"
                    .into(),
            ),
        })
    };
    Ok(Target {
        stack: stack.to_string(),
        bucket: get("FirmwareBucket")?,
        jobs_table: get("OtaJobsTable")?,
        iot_jobs,
    })
}

/// What this run made for one image, to undo on a failure.
#[derive(Default)]
struct Made {
    object_version: Option<Option<String>>,
    job_item: bool,
}

async fn undo(clients: &Clients, target: &Target, key: &str, job_id: &str, made: &Made) {
    if made.job_item {
        let _ = clients
            .dynamodb
            .delete_item()
            .table_name(&target.jobs_table)
            .key("job_id", AttributeValue::S(job_id.into()))
            .key("sk", AttributeValue::S("job".into()))
            .send()
            .await;
    }
    if let Some(version) = &made.object_version {
        let _ = clients
            .s3
            .delete_object()
            .bucket(&target.bucket)
            .key(key)
            .set_version_id(version.clone())
            .send()
            .await;
    }
}

/// Publish every image (in order); stop at the first failure, having undone that image's part.
pub async fn publish(
    clients: &Clients,
    target: &Target,
    images: &[Checked],
    overrides: &Overrides,
) -> Result<Vec<Published>, AwsError> {
    let mut out = Vec::new();
    for c in images {
        let key = key_of(c);
        let job_id = job_id_of(c);
        let mut made = Made::default();
        match publish_one(clients, target, c, &key, &job_id, overrides, &mut made).await {
            Ok(mut p) => {
                if p.registered {
                    let offered = offer_online(clients, target, &job_id).await;
                    p.offered_online = Some(offered.is_ok());
                    p.offer_error = offered.err();
                }
                out.push(p)
            }
            Err(e) => {
                undo(clients, target, &key, &job_id, &made).await;
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Ask the stack's `ota-fetch` function (asynchronously) to offer a new job to the nodes online
/// now: stock firmware asks for updates only when it boots.
async fn offer_online(clients: &Clients, target: &Target, job_id: &str) -> Result<(), String> {
    let function = format!(
        "{}-{}",
        target.stack,
        crate::catalog::function(crate::catalog::FunctionKey::OtaFetch).name
    );
    let event = serde_json::json!({ "offer_job": job_id });
    clients
        .lambda
        .invoke_async(&function, &event)
        .await
        .map_err(|e| format!("invoking {function}: {}", AwsError::from(e)))
}

async fn publish_one(
    clients: &Clients,
    target: &Target,
    c: &Checked,
    key: &str,
    job_id: &str,
    overrides: &Overrides,
    made: &mut Made,
) -> Result<Published, AwsError> {
    let head = clients
        .s3
        .head_object()
        .bucket(&target.bucket)
        .key(key)
        .send()
        .await;
    let present = match head {
        Ok(h) => h.metadata().and_then(|m| m.get("sha256")) == Some(&c.sha256),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
        Err(e) => return Err(AwsError::call("HeadObject", &e)),
    };
    if !present {
        let md5 = hex_bytes(&c.md5);
        let put = clients
            .s3
            .put_object()
            .bucket(&target.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(
                c.bytes.as_ref().clone(),
            ))
            .content_type("application/octet-stream")
            .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
            .metadata("fw-version", &c.spec.version)
            .metadata("sha256", &c.sha256)
            .metadata("md5", &c.md5)
            .send()
            .await
            .map_err(|e| AwsError::call("PutObject", &e))?;
        made.object_version = Some(put.version_id().map(str::to_string));
    }
    let (parallel, per_minute) = overrides.get(&c.spec.name).copied().unwrap_or_default();
    let rollout = &c.spec.rollout;
    let chip = image::chip_name(c.image.chip_id)
        .unwrap_or(&c.spec.chip)
        .to_string();
    let n = |v: i64| AttributeValue::N(v.to_string());
    let s = |v: &str| AttributeValue::S(v.to_string());
    let registered = clients
        .dynamodb
        .put_item()
        .table_name(&target.jobs_table)
        .item("job_id", s(job_id))
        .item("sk", s("job"))
        .item("project", s(&c.spec.project))
        .item("chip", s(&chip))
        .item("fw_version", s(&c.spec.version))
        .item("key", s(key))
        .item("file_size", n(c.bytes.len() as i64))
        .item("sha256", s(&c.sha256))
        .item("created_at", n(now_ms()))
        .item("state", s("active"))
        .item(
            "max_parallel",
            n(parallel.unwrap_or(rollout.max_parallel_per_network)),
        )
        .item(
            "max_per_minute",
            n(per_minute.unwrap_or(rollout.max_per_minute)),
        )
        .item(
            "abort_threshold_percent",
            n(rollout.abort_threshold_percent),
        )
        .item("timeout_s", n(rollout.timeout_minutes * 60))
        .item(
            "allow_downgrade",
            AttributeValue::Bool(rollout.allow_downgrade),
        )
        .condition_expression("attribute_not_exists(job_id)")
        .send()
        .await;
    let registered = match registered {
        Ok(_) => {
            made.job_item = true;
            true
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            false
        }
        Err(e) => return Err(AwsError::call("PutItem (OTA job)", &e)),
    };
    let iot_job = if target.iot_jobs {
        Some(iot_job(clients, target, c, key, job_id, per_minute).await?)
    } else {
        None
    };
    Ok(Published {
        name: c.spec.name.clone(),
        key: key.to_string(),
        version: c.spec.version.clone(),
        project: c.spec.project.clone(),
        chip,
        sha256: c.sha256.clone(),
        bytes: c.bytes.len(),
        uploaded: !present,
        ota_job_id: job_id.to_string(),
        registered,
        iot_job,
        offered_online: None,
        offer_error: None,
    })
}

/// The thing group of a project's nodes (`<stack>-<project>`): IoT jobs target it.
pub fn thing_group(stack: &str, project: &str) -> String {
    format!("{stack}-{project}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_:".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

async fn iot_job(
    clients: &Clients,
    target: &Target,
    c: &Checked,
    key: &str,
    job_id: &str,
    per_minute: Option<i64>,
) -> Result<String, AwsError> {
    let name = thing_group(&target.stack, &c.spec.project);
    let group_arn = clients.iot.ensure_thing_group(&name).await?;
    let rollout = &c.spec.rollout;
    let document = serde_json::json!({
        "operation": "rainmaker.ota",
        "ota_job_id": job_id,
        "fw_version": c.spec.version,
        "file_size": c.bytes.len(),
        "sha256": c.sha256,
        "bucket": target.bucket,
        "key": key,
    });
    let job = serde_json::json!({
        "targets": [group_arn],
        "targetSelection": "CONTINUOUS",
        "description": format!("OTA {} {} ({})", c.spec.project, c.spec.version, c.spec.name),
        "document": document.to_string(),
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": per_minute.unwrap_or(rollout.max_per_minute),
        },
        "abortConfig": {
            "criteriaList": [{
                "failureType": "FAILED",
                "action": "CANCEL",
                "thresholdPercentage": rollout.abort_threshold_percent as f64,
                "minNumberOfExecutedThings": 1,
            }],
        },
        "timeoutConfig": { "inProgressTimeoutInMinutes": rollout.timeout_minutes },
    });
    // A job of that id exists already when a publish is run again: the same job.
    clients.iot.create_job(job_id, job).await?;
    Ok(job_id.to_string())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One published job, as `firmware list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub ota_job_id: String,
    pub project: String,
    pub chip: String,
    pub version: String,
    pub key: String,
    pub bytes: i64,
    pub state: String,
    pub created_at: i64,
    /// Node sessions by status (`offered`, `in-progress`, `success`, ...).
    pub sessions: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iot_job_status: Option<String>,
}

/// Every registered job with its progress, newest first.
pub async fn list(clients: &Clients, target: &Target) -> Result<Vec<Listed>, AwsError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(&target.jobs_table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| AwsError::call("Scan (OTA jobs)", &e))?;
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let text = |i: &std::collections::HashMap<String, AttributeValue>, k: &str| -> String {
        i.get(k)
            .and_then(|v| v.as_s().ok().or(v.as_n().ok()))
            .cloned()
            .unwrap_or_default()
    };
    let mut jobs: Vec<Listed> = items
        .iter()
        .filter(|i| text(i, "sk") == "job")
        .map(|i| Listed {
            ota_job_id: text(i, "job_id"),
            project: text(i, "project"),
            chip: text(i, "chip"),
            version: text(i, "fw_version"),
            key: text(i, "key"),
            bytes: text(i, "file_size").parse().unwrap_or(0),
            state: text(i, "state"),
            created_at: text(i, "created_at").parse().unwrap_or(0),
            sessions: BTreeMap::new(),
            iot_job_status: None,
        })
        .collect();
    for i in items.iter().filter(|i| text(i, "sk").starts_with("node#")) {
        if let Some(job) = jobs.iter_mut().find(|j| j.ota_job_id == text(i, "job_id")) {
            *job.sessions.entry(text(i, "status")).or_default() += 1;
        }
    }
    if target.iot_jobs {
        for job in &mut jobs {
            let status = clients.iot.job_status(&job.ota_job_id).await?;
            job.iot_job_status = Some(status.unwrap_or_else(|| "none".into()));
        }
    }
    jobs.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(a.ota_job_id.cmp(&b.ota_job_id))
    });
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_fit_the_firmware_buffer_and_keep_the_digest() {
        let sha = "0123456789abcdef".repeat(4);
        assert_eq!(job_id("light", "1.2.0", &sha), "light-1_2_0-0123456789ab");
        let long = job_id(&"p".repeat(80), "1.0.0+build.7", &sha);
        assert_eq!(long.len(), MAX_JOB_ID);
        assert!(long.ends_with("-1_0_0_build_7-0123456789ab"), "{long}");
    }
}

/// Published images as `firmware publish` and `apply` show them: one line each, and whether the
/// nodes online now were offered the job.
pub struct PublishedList<'a>(pub &'a [Published]);

impl std::fmt::Display for PublishedList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in self.0 {
            writeln!(
                f,
                "{} {} {} ({}, {} bytes): {}, OTA job {} {}{}",
                p.name,
                p.project,
                p.version,
                p.chip,
                p.bytes,
                if p.uploaded {
                    "uploaded"
                } else {
                    "already in the bucket"
                },
                p.ota_job_id,
                if p.registered {
                    "registered"
                } else {
                    "already registered"
                },
                p.iot_job
                    .as_ref()
                    .map(|j| format!(", IoT job {j}"))
                    .unwrap_or_default()
            )?;
            match (&p.offered_online, &p.offer_error) {
                (Some(true), _) => writeln!(f, "  offered to the nodes online now")?,
                (_, Some(why)) => writeln!(
                    f,
                    "  not offered to the nodes online now ({why}); they get it when they next ask"
                )?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// What `firmware publish` did.
#[derive(Debug, Serialize)]
pub struct PublishedReport {
    pub published: Vec<Published>,
}

impl std::fmt::Display for PublishedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::output::nested(f, &PublishedList(&self.published))
    }
}

/// The published images and each job's progress (`firmware list`).
#[derive(Debug, Serialize)]
pub struct Jobs {
    pub jobs: Vec<Listed>,
}

impl std::fmt::Display for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.jobs.is_empty() {
            return writeln!(f, "No firmware published.");
        }
        writeln!(
            f,
            "{:<40} {:<10} {:<10} {:<8} {:>9}  progress",
            "OTA job", "project", "version", "state", "bytes"
        )?;
        for j in &self.jobs {
            let progress: Vec<String> = j
                .sessions
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect();
            let progress = if progress.is_empty() {
                "no node yet".to_string()
            } else {
                progress.join(", ")
            };
            let iot = j
                .iot_job_status
                .as_ref()
                .map(|s| format!(" (IoT job {s})"))
                .unwrap_or_default();
            writeln!(
                f,
                "{:<40} {:<10} {:<10} {:<8} {:>9}  {progress}{iot}",
                j.ota_job_id, j.project, j.version, j.state, j.bytes
            )?;
        }
        Ok(())
    }
}
