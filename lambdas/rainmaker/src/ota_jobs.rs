//! OTA jobs in the `ota_jobs` table, shared by `ota-fetch`, `ota-status`, the API and
//! `rmdeploy firmware publish` (which writes them).
//!
//! Items (`job_id` is the key, `sk` the sort key):
//! - `job`: the firmware the job serves: `project`, `chip`, `fw_version`, `key` (object in the
//!   firmware bucket), `file_size`, `sha256`, `created_at` (ms), `state` (`active`, `aborted`),
//!   `allow_downgrade` (a boolean, absent is false: whether the job also goes to nodes that run a
//!   newer version, see [`crate::fw_version::verdict`]), and the rollout limits `max_parallel`
//!   (sessions at once per network, see [`crate::ota_slots`]), `max_per_minute` (new sessions a
//!   minute for the whole job), `timeout_s`. Never expires.
//! - `node#<node_id>`: a node's session, made only by `ota-fetch` when it offers the job:
//!   `status`, `active`, `started_at`, `updated_at` (ms), `network` (the node's network, when it
//!   has one), `slot` (the key of the slot it holds, when the job has a limit), `expires_at`
//!   (TTL).
//! - `slot#<group>#<i>`: a rollout slot ([`crate::ota_slots`]).
//! - `status#<node_id>#<ms>`: every status report `ota-status` accepted for an open session,
//!   `expires_at` (TTL).
//!
//! Only `job` items carry `project`: the index [`INDEX`] (hash `sk`, range `project`, keys only)
//! holds them and nothing else, so jobs are found by key (`sk = "job"`, and the project) and the
//! functions never scan the table.

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
    /// Offered to nodes on a newer version too (a rollback).
    pub allow_downgrade: bool,
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

pub use crate::online::chip_name;

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
            allow_downgrade: item
                .get("allow_downgrade")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            max_parallel: number(item, "max_parallel"),
            max_per_minute: number(item, "max_per_minute"),
            timeout_s: number(item, "timeout_s"),
        }
    }
}

/// The sparse index of the `job` items (see the module's comment).
pub const INDEX: &str = "by_project";

/// Days a session or a status report stays after its last write (the table's TTL removes it).
pub const KEEP_DAYS: i64 = 30;

/// A session's slot is held at most this long when the job sets no timeout (as its URL).
pub const DEFAULT_TIMEOUT_S: i64 = 3600;

/// The newest active job among `jobs` for a chip.
pub fn newest_of(jobs: Vec<Job>, chip: &str) -> Option<Job> {
    jobs.into_iter()
        .filter(|j| j.state == "active" && chip_name(&j.chip) == chip_name(chip))
        .max_by_key(|j| (j.created_at, j.job_id.clone()))
}

/// The newest active job for a project and chip: a query of the index by key and a read of the
/// project's job items, no scan.
pub async fn newest(
    db: &Client,
    table: &str,
    project: &str,
    chip: &str,
) -> Result<Option<Job>, Error> {
    if project.is_empty() {
        return Ok(None);
    }
    let jobs = of_project(db, table, Some(project)).await?;
    Ok(newest_of(jobs, chip))
}

/// Every job (the API's listing): the index, queried by key.
pub async fn all(db: &Client, table: &str) -> Result<Vec<Job>, Error> {
    of_project(db, table, None).await
}

/// The job items of one project, or of all: their keys from the index, then the items.
async fn of_project(db: &Client, table: &str, project: Option<&str>) -> Result<Vec<Job>, Error> {
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let mut query = db
            .query()
            .table_name(table)
            .index_name(INDEX)
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":job", AttributeValue::S("job".into()))
            .set_exclusive_start_key(start);
        query = match project {
            Some(p) => query
                .key_condition_expression("#sk = :job AND #p = :p")
                .expression_attribute_names("#p", "project")
                .expression_attribute_values(":p", AttributeValue::S(p.into())),
            None => query.key_condition_expression("#sk = :job"),
        };
        let page = query.send().await?;
        ids.extend(page.items().iter().map(|i| text(i, "job_id")));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    ids.sort();
    ids.dedup();
    let mut jobs = Vec::new();
    for chunk in ids.chunks(100) {
        let mut keys: Vec<Item> = chunk
            .iter()
            .map(|id| {
                Item::from([
                    ("job_id".to_string(), AttributeValue::S(id.clone())),
                    ("sk".to_string(), AttributeValue::S("job".into())),
                ])
            })
            .collect();
        // BatchGetItem may leave keys unprocessed under load: ask again for those (the SDK
        // retries throttling itself).
        for _ in 0..8 {
            if keys.is_empty() {
                break;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()?;
            let out = db
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await?;
            if let Some(items) = out.responses().and_then(|r| r.get(table)) {
                jobs.extend(items.iter().map(Job::from_item));
            }
            keys = out
                .unprocessed_keys()
                .and_then(|u| u.get(table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err("DynamoDB left OTA job keys unprocessed after 8 tries".into());
        }
    }
    Ok(jobs)
}

/// A node's session in a job, when it has one (read consistently: `ota-status` may follow the
/// offer within milliseconds).
pub async fn session(
    db: &Client,
    table: &str,
    job_id: &str,
    node_id: &str,
) -> Result<Option<Item>, Error> {
    Ok(db
        .get_item()
        .table_name(table)
        .key("job_id", AttributeValue::S(job_id.into()))
        .key("sk", AttributeValue::S(format!("node#{node_id}")))
        .consistent_read(true)
        .send()
        .await?
        .item)
}

/// The event that asks `ota-fetch` to offer a job to the online nodes it is for (`ota_offer`).
pub fn offer_request(job_id: &str) -> serde_json::Value {
    serde_json::json!({ "offer_job": job_id })
}

/// One job, read consistently (`None` when there is no such job).
pub async fn job(db: &Client, table: &str, job_id: &str) -> Result<Option<Job>, Error> {
    Ok(db
        .get_item()
        .table_name(table)
        .key("job_id", AttributeValue::S(job_id.into()))
        .key("sk", AttributeValue::S("job".into()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .as_ref()
        .map(Job::from_item))
}

/// The node sessions of a job.
pub async fn sessions(db: &Client, table: &str, job_id: &str) -> Result<Vec<Item>, Error> {
    items_under(db, table, job_id, "node#", false).await
}

/// A job's items whose sort key starts with `prefix`, every page (read consistently when asked).
pub async fn items_under(
    db: &Client,
    table: &str,
    job_id: &str,
    prefix: &str,
    consistent: bool,
) -> Result<Vec<Item>, Error> {
    let items = db
        .query()
        .table_name(table)
        .key_condition_expression("job_id = :j AND begins_with(sk, :p)")
        .expression_attribute_values(":j", AttributeValue::S(job_id.into()))
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .consistent_read(consistent)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<Item>, _>>()
        .await?;
    Ok(items)
}

/// How long a session of this job holds its slot, in ms: the job's timeout (an hour without one).
pub fn timeout_ms(job: &Job) -> i64 {
    let s = if job.timeout_s > 0 {
        job.timeout_s
    } else {
        DEFAULT_TIMEOUT_S
    };
    s.saturating_mul(1000)
}

/// Whether a session holds a rollout slot: not ended, and started less than the job's timeout
/// ago. News from the node (an "in progress" every minute) does not extend it: after the timeout
/// the slot is free whatever the node last said.
pub fn holds_slot(session: &Item, job: &Job, now_ms: i64) -> bool {
    let active = session
        .get("active")
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    active && now_ms.saturating_sub(number(session, "started_at")) < timeout_ms(job)
}

/// Progress of a job: sessions by status, how many hold a slot now, and those by network (`""`
/// for the nodes without one).
pub fn progress(job: &Job, sessions: &[Item], now_ms: i64) -> serde_json::Value {
    let mut by_status: std::collections::BTreeMap<String, u64> = Default::default();
    let mut by_network: std::collections::BTreeMap<String, u64> = Default::default();
    for s in sessions {
        *by_status.entry(text(s, "status")).or_default() += 1;
        if holds_slot(s, job, now_ms) {
            *by_network.entry(text(s, "network")).or_default() += 1;
        }
    }
    let active: u64 = by_network.values().sum();
    serde_json::json!({ "sessions": sessions.len(), "active": active, "by_status": by_status,
                        "active_by_network": by_network })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(chip: &str, created_at: i64, state: &str, timeout_s: i64) -> Job {
        Job {
            job_id: format!("j{created_at}"),
            project: "light".into(),
            chip: chip.into(),
            fw_version: "1.0.0".into(),
            key: "k".into(),
            file_size: 1,
            created_at,
            state: state.into(),
            allow_downgrade: false,
            max_parallel: 1,
            max_per_minute: 0,
            timeout_s,
        }
    }

    #[test]
    fn the_newest_active_job_of_the_chip_is_chosen() {
        let jobs = vec![
            job("ESP32-C3", 1, "active", 60),
            job("esp32c3", 3, "aborted", 60),
            job("esp32c3", 2, "active", 60),
            job("esp32s3", 4, "active", 60),
        ];
        assert_eq!(newest_of(jobs.clone(), "esp32-c3").unwrap().job_id, "j2");
        assert_eq!(newest_of(jobs, "esp32c6"), None);
    }

    #[test]
    fn news_from_the_node_does_not_extend_its_slot() {
        let j = job("esp32c3", 1, "active", 600);
        let session = |started_at: i64, updated_at: i64| -> Item {
            Item::from([
                ("active".to_string(), AttributeValue::Bool(true)),
                (
                    "started_at".to_string(),
                    AttributeValue::N(started_at.to_string()),
                ),
                (
                    "updated_at".to_string(),
                    AttributeValue::N(updated_at.to_string()),
                ),
            ])
        };
        let now = 10_000_000;
        assert!(holds_slot(&session(now - 599_000, now - 599_000), &j, now));
        // "in progress" a second ago, but started 601 s ago: the slot is free
        assert!(!holds_slot(&session(now - 601_000, now - 1_000), &j, now));
        // no timeout on the job: an hour
        let forever = job("esp32c3", 1, "active", 0);
        assert!(holds_slot(&session(now - 3_599_000, now), &forever, now));
        assert!(!holds_slot(&session(now - 3_601_000, now), &forever, now));
    }
}
