//! The `esp_node_otafetch` rule: a node asks for an update on `node/<id>/otafetch`
//! (`{"node_id", "fw_version"}`). The cloud answers on `node/<id>/otaurl` with a presigned S3 GET
//! of the newest active job's firmware for the node's project and chip (both from its stored
//! `config`): `{"ota_job_id", "url", "fw_version", "file_size"}`.
//!
//! The rollout is throttled per job: at most `max_parallel` sessions at once and `max_per_minute`
//! new ones per minute (seed 004: too many parallel OTA sessions take a Thread mesh down). A node
//! over the limit gets no answer now and asks again on its next check. A session ends with the
//! node's `success`, `failed` or `rejected` status (`ota-status`) or after the job's timeout.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::ota_jobs::{self, holds_slot, number, text, Job};
use crate::store::dropped;

/// How long an `otaurl` stays usable when the job sets no timeout.
pub const DEFAULT_URL_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub node_id: String,
    pub fw_version: Option<String>,
    pub received_at: i64,
}

impl Fetch {
    pub fn parse(event: Value) -> Result<Fetch, String> {
        let e = RuleEvent::parse(event)?;
        let fw_version = match e.payload.get("fw_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) if v.len() <= 32 => Some(v.clone()),
            Some(other) => return Err(format!("fw_version is not a version string: {other}")),
        };
        Ok(Fetch {
            node_id: e.node_id,
            fw_version,
            received_at: e.received_at,
        })
    }
}

/// What to do with a request, decided from the job, the node's session and the others.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Offer the job (a new session, or the node's open one again).
    Offer {
        new_session: bool,
    },
    UpToDate,
    /// Over a rollout limit: no answer now.
    Wait(String),
}

pub fn decide(
    job: &Job,
    fetch: &Fetch,
    node_session: Option<&ota_jobs::Item>,
    sessions: &[ota_jobs::Item],
    now_ms: i64,
) -> Decision {
    if fetch.fw_version.as_deref() == Some(job.fw_version.as_str()) {
        return Decision::UpToDate;
    }
    if node_session.is_some_and(|s| holds_slot(s, job, now_ms)) {
        return Decision::Offer { new_session: false };
    }
    let active = sessions
        .iter()
        .filter(|s| holds_slot(s, job, now_ms))
        .count() as i64;
    if job.max_parallel > 0 && active >= job.max_parallel {
        return Decision::Wait(format!(
            "{active} sessions in progress, the job allows {} at once",
            job.max_parallel
        ));
    }
    let last_minute = sessions
        .iter()
        .filter(|s| now_ms - number(s, "started_at") < 60_000)
        .count() as i64;
    if job.max_per_minute > 0 && last_minute >= job.max_per_minute {
        return Decision::Wait(format!(
            "{last_minute} sessions started in the last minute, the job allows {}",
            job.max_per_minute
        ));
    }
    Decision::Offer { new_session: true }
}

pub struct Ctx {
    pub db: Client,
    pub iot: aws_sdk_iotdataplane::Client,
    pub config: aws_config::SdkConfig,
    pub nodes_table: String,
    pub jobs_table: String,
    pub bucket: String,
}

pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let fetch = match Fetch::parse(event) {
        Ok(f) => f,
        Err(why) => return Ok(dropped("OTA fetch", &why)),
    };
    let node = ctx
        .db
        .get_item()
        .table_name(&ctx.nodes_table)
        .key("node_id", AttributeValue::S(fetch.node_id.clone()))
        .send()
        .await?
        .item;
    let Some(node) = node else {
        return Ok(dropped("OTA fetch", "the node has not sent its config yet"));
    };
    let (project, chip) = (text(&node, "project"), text(&node, "platform"));
    let Some(job) = ota_jobs::newest(&ctx.db, &ctx.jobs_table, &project, &chip).await? else {
        tracing::info!(node_id = %fetch.node_id, %project, %chip, "no firmware for this node");
        return Ok(
            json!({ "answered": false, "reason": format!("no active job for project `{project}` on `{chip}`") }),
        );
    };
    let now = crate::runtime::now_ms();
    let sessions = ota_jobs::sessions(&ctx.db, &ctx.jobs_table, &job.job_id).await?;
    let key = format!("node#{}", fetch.node_id);
    let mine = sessions.iter().find(|s| text(s, "sk") == key);
    match decide(&job, &fetch, mine, &sessions, now) {
        Decision::UpToDate => {
            return Ok(
                json!({ "answered": false, "reason": "up to date", "ota_job_id": job.job_id }),
            )
        }
        Decision::Wait(why) => {
            tracing::info!(node_id = %fetch.node_id, job = %job.job_id, reason = %why, "rollout limit reached");
            return Ok(json!({ "answered": false, "reason": why, "ota_job_id": job.job_id }));
        }
        Decision::Offer { new_session } => {
            if new_session {
                ctx.db
                    .put_item()
                    .table_name(&ctx.jobs_table)
                    .item("job_id", AttributeValue::S(job.job_id.clone()))
                    .item("sk", AttributeValue::S(key))
                    .item("node_id", AttributeValue::S(fetch.node_id.clone()))
                    .item("status", AttributeValue::S("offered".into()))
                    .item("active", AttributeValue::Bool(true))
                    .item("started_at", AttributeValue::N(now.to_string()))
                    .item("updated_at", AttributeValue::N(now.to_string()))
                    .send()
                    .await?;
            }
        }
    }
    let seconds = if job.timeout_s > 0 {
        job.timeout_s as u64
    } else {
        DEFAULT_URL_SECONDS
    };
    let url = crate::presign::get_url(
        &ctx.config,
        &ctx.bucket,
        &job.key,
        Duration::from_secs(seconds.min(604_800)),
        SystemTime::now(),
    )
    .await?;
    let answer = json!({
        "ota_job_id": job.job_id,
        "url": url,
        "fw_version": job.fw_version,
        "file_size": job.file_size,
    });
    crate::publish::publish(&ctx.iot, &fetch.node_id, "otaurl", &answer).await?;
    Ok(json!({ "answered": true, "ota_job_id": job.job_id, "fw_version": job.fw_version }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(max_parallel: i64, max_per_minute: i64) -> Job {
        Job {
            job_id: "j1".into(),
            project: "light".into(),
            chip: "esp32c3".into(),
            fw_version: "1.1.0".into(),
            key: "firmware/k.bin".into(),
            file_size: 10,
            created_at: 1,
            state: "active".into(),
            max_parallel,
            max_per_minute,
            timeout_s: 600,
        }
    }

    fn session(node: &str, active: bool, started_at: i64) -> ota_jobs::Item {
        [
            ("sk", AttributeValue::S(format!("node#{node}"))),
            ("active", AttributeValue::Bool(active)),
            ("started_at", AttributeValue::N(started_at.to_string())),
            ("updated_at", AttributeValue::N(started_at.to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn fetch(version: &str) -> Fetch {
        Fetch::parse(serde_json::json!({"node_id": "n9", "fw_version": version, "received_at": 1, "topic": "node/n9/otafetch"})).unwrap()
    }

    #[test]
    fn a_device_request_is_read() {
        let f = fetch("1.0.0");
        assert_eq!(
            (f.node_id.as_str(), f.fw_version.as_deref()),
            ("n9", Some("1.0.0"))
        );
        assert!(Fetch::parse(
            serde_json::json!({"node_id": "n9", "fw_version": 7, "received_at": 1})
        )
        .is_err());
    }

    #[test]
    fn the_rollout_limits_hold() {
        let now = 1_000_000;
        let j = job(2, 0);
        let busy = [
            session("a", true, now - 1000),
            session("b", true, now - 2000),
        ];
        assert!(
            matches!(decide(&j, &fetch("1.0.0"), None, &busy, now), Decision::Wait(w) if w.contains("allows 2 at once"))
        );
        // a finished session frees its slot, a timed-out one too
        let freed = [
            session("a", false, now - 1000),
            session("b", true, now - 601_000),
        ];
        assert_eq!(
            decide(&j, &fetch("1.0.0"), None, &freed, now),
            Decision::Offer { new_session: true }
        );
        // a node with an open session gets its offer again, even when the job is full
        assert_eq!(
            decide(&j, &fetch("1.0.0"), Some(&busy[0]), &busy, now),
            Decision::Offer { new_session: false }
        );
        // per minute
        let m = job(0, 1);
        let recent = [session("a", false, now - 10_000)];
        assert!(
            matches!(decide(&m, &fetch("1.0.0"), None, &recent, now), Decision::Wait(w) if w.contains("last minute"))
        );
        assert_eq!(
            decide(&j, &fetch("1.1.0"), None, &[], now),
            Decision::UpToDate
        );
    }
}
