//! OTA jobs in the `ota_jobs` table, shared by `ota-fetch`, `ota-status`, the API and
//! `rmdeploy firmware publish` (which writes them).
//!
//! Items (`job_id` is the key, `sk` the sort key):
//! - `job`: the firmware the job serves: `project`, `chip`, `fw_version`, `key` (object in the
//!   firmware bucket), `file_size`, `sha256`, `created_at` (ms), `state` (`active`, `aborted`),
//!   and the rollout limits `max_parallel`, `max_per_minute`, `timeout_s`.
//! - `node#<node_id>`: a node's session: `status`, `active`, `started_at`, `updated_at` (ms).
//! - `status#<node_id>#<ms>`: every status report (written by `ota-status`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub project: String,
    pub chip: String,
    pub fw_version: String,
    pub key: String,
    pub file_size: i64,
    pub created_at: i64,
    pub state: String,
    pub max_parallel: i64,
    pub max_per_minute: i64,
    pub timeout_s: i64,
}

pub fn text(item: &Item, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

pub fn number(item: &Item, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Chip names compare without case and dashes: `ESP32-C3` is `esp32c3`.
pub fn chip_name(chip: &str) -> String {
    chip.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Job {
    pub fn from_item(item: &Item) -> Job {
        Job {
            job_id: text(item, "job_id"),
            project: text(item, "project"),
            chip: text(item, "chip"),
            fw_version: text(item, "fw_version"),
            key: text(item, "key"),
            file_size: number(item, "file_size"),
            created_at: number(item, "created_at"),
            state: text(item, "state"),
            max_parallel: number(item, "max_parallel"),
            max_per_minute: number(item, "max_per_minute"),
            timeout_s: number(item, "timeout_s"),
        }
    }
}

/// The newest active job for a project and chip.
pub async fn newest(
    db: &Client,
    table: &str,
    project: &str,
    chip: &str,
) -> Result<Option<Job>, Error> {
    let mut jobs = all(db, table).await?;
    jobs.retain(|j| {
        j.state == "active" && j.project == project && chip_name(&j.chip) == chip_name(chip)
    });
    Ok(jobs
        .into_iter()
        .max_by_key(|j| (j.created_at, j.job_id.clone())))
}

/// Every job (a scan of the `job` items: there are few).
pub async fn all(db: &Client, table: &str) -> Result<Vec<Job>, Error> {
    let mut jobs = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .scan()
            .table_name(table)
            .filter_expression("#sk = :job")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":job", AttributeValue::S("job".into()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        jobs.extend(page.items().iter().map(Job::from_item));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(jobs);
        }
    }
}

/// The node sessions of a job.
pub async fn sessions(db: &Client, table: &str, job_id: &str) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .query()
            .table_name(table)
            .key_condition_expression("job_id = :j AND begins_with(sk, :p)")
            .expression_attribute_values(":j", AttributeValue::S(job_id.into()))
            .expression_attribute_values(":p", AttributeValue::S("node#".into()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Whether a session holds a rollout slot: active and not timed out.
pub fn holds_slot(session: &Item, job: &Job, now_ms: i64) -> bool {
    let active = session
        .get("active")
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    let timeout_ms = job.timeout_s.max(1) * 1000;
    active && now_ms - number(session, "updated_at").max(number(session, "started_at")) < timeout_ms
}

/// Progress of a job: sessions by status, and how many hold a slot now.
pub fn progress(job: &Job, sessions: &[Item], now_ms: i64) -> serde_json::Value {
    let mut by_status: std::collections::BTreeMap<String, u64> = Default::default();
    for s in sessions {
        *by_status.entry(text(s, "status")).or_default() += 1;
    }
    let active = sessions
        .iter()
        .filter(|s| holds_slot(s, job, now_ms))
        .count();
    serde_json::json!({ "sessions": sessions.len(), "active": active, "by_status": by_status })
}
