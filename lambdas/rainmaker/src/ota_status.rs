//! The `esp_node_otastatus` rule: a node's OTA progress on `node/<id>/otastatus`
//! (`{"ota_job_id", "status", "additional_info", "ts"}`). A status counts only for a session
//! `ota-fetch` offered to that node (its `node#<node>` item in that job) and not ended yet: any
//! other (a made-up job, another node's job, after the end) is logged and nothing is written.
//! Every accepted status is recorded once (a repeated delivery is refused by its key), the
//! node's latest status in the job is updated only by a newer one, and both expire
//! [`ota_jobs::KEEP_DAYS`] after it (the table's TTL). A status that ends the session frees the
//! rollout slot it held in its network ([`crate::ota_slots`]).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::Value;

use crate::event::RuleEvent;
use crate::ota_jobs;
use crate::store::{condition_failed, dropped};

/// The statuses a node reports.
pub const STATUSES: &[&str] = &["in-progress", "success", "failed", "rejected", "delayed"];

#[derive(Debug, Clone, PartialEq)]
pub struct OtaStatus {
    pub node_id: String,
    pub received_at: i64,
    pub job_id: String,
    pub status: String,
    pub info: Option<String>,
}

impl OtaStatus {
    pub fn parse(event: Value) -> Result<OtaStatus, String> {
        let e = RuleEvent::parse(event)?;
        let job_id = e
            .payload
            .get("ota_job_id")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= 128)
            .ok_or("ota_job_id is missing")?
            .to_string();
        let status = e
            .payload
            .get("status")
            .and_then(Value::as_str)
            .ok_or("status is missing")?;
        if !STATUSES.contains(&status) {
            return Err(format!(
                "status `{status}` is not one of {}",
                STATUSES.join(", ")
            ));
        }
        let info = e
            .payload
            .get("additional_info")
            .and_then(Value::as_str)
            .map(|s| s.chars().take(1024).collect());
        Ok(OtaStatus {
            node_id: e.node_id,
            received_at: e.received_at,
            job_id,
            status: status.to_string(),
            info,
        })
    }

    /// Success, failure and rejection end a node's OTA session.
    pub fn ends_session(&self) -> bool {
        matches!(self.status.as_str(), "success" | "failed" | "rejected")
    }
}

/// Why a status is not for an open session, when it is not.
pub fn not_open(session: Option<&ota_jobs::Item>) -> Option<&'static str> {
    match session {
        None => Some("no OTA session was offered to this node for this job"),
        Some(s)
            if !s
                .get("active")
                .is_some_and(|a| matches!(a, AttributeValue::Bool(true))) =>
        {
            Some("the node's OTA session in this job has ended")
        }
        Some(_) => None,
    }
}

pub async fn handle(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    let s = match OtaStatus::parse(event) {
        Ok(s) => s,
        Err(why) => return Ok(dropped("OTA status", &why)),
    };
    let session = ota_jobs::session(db, table, &s.job_id, &s.node_id).await?;
    if let Some(why) = not_open(session.as_ref()) {
        tracing::warn!(node_id = %s.node_id, job = %s.job_id, status = %s.status, reason = why, "ignoring an OTA status");
        return Ok(serde_json::json!({ "stored": false, "reason": why }));
    }
    let job = AttributeValue::S(s.job_id.clone());
    let at = AttributeValue::N(s.received_at.to_string());
    let expires = AttributeValue::N(
        crate::store::expires_after(s.received_at, ota_jobs::KEEP_DAYS).to_string(),
    );
    let mut history = db
        .put_item()
        .table_name(table)
        .item("job_id", job.clone())
        .item(
            "sk",
            AttributeValue::S(format!("status#{}#{:013}", s.node_id, s.received_at)),
        )
        .item("node_id", AttributeValue::S(s.node_id.clone()))
        .item("status", AttributeValue::S(s.status.clone()))
        .item("at", at.clone())
        .item("expires_at", expires.clone())
        .condition_expression("attribute_not_exists(sk)");
    if let Some(info) = &s.info {
        history = history.item("info", AttributeValue::S(info.clone()));
    }
    match history.send().await {
        Ok(_) => {}
        Err(err) if condition_failed(&err) => {
            return Ok(serde_json::json!({ "stored": false, "reason": "duplicate" }))
        }
        Err(err) => return Err(err.into()),
    }
    // The session was there a moment ago; the condition keeps a status from making one.
    let latest = db
        .update_item()
        .table_name(table)
        .key("job_id", job)
        .key("sk", AttributeValue::S(format!("node#{}", s.node_id)))
        .update_expression("SET #s = :s, #u = :t, #a = :a, #e = :e")
        .condition_expression("attribute_exists(sk) AND (attribute_not_exists(#u) OR #u < :t)")
        .expression_attribute_names("#s", "status")
        .expression_attribute_names("#u", "updated_at")
        .expression_attribute_names("#a", "active")
        .expression_attribute_names("#e", "expires_at")
        .expression_attribute_values(":s", AttributeValue::S(s.status.clone()))
        .expression_attribute_values(":t", at)
        .expression_attribute_values(":a", AttributeValue::Bool(!s.ends_session()))
        .expression_attribute_values(":e", expires)
        .send()
        .await;
    match latest {
        Ok(_) => {
            if s.ends_session() {
                free_slot(db, table, &s, session.as_ref()).await?;
            }
            Ok(serde_json::json!({ "stored": true }))
        }
        Err(err) if condition_failed(&err) => Ok(
            serde_json::json!({ "stored": true, "reason": "older than the node's latest status" }),
        ),
        Err(err) => Err(err.into()),
    }
}

/// Free the rollout slot an ended session held ([`crate::ota_slots`]), when the node still
/// holds it (after the job's timeout another session may have taken it).
async fn free_slot(
    db: &Client,
    table: &str,
    s: &OtaStatus,
    session: Option<&ota_jobs::Item>,
) -> Result<(), Error> {
    let slot = session
        .map(|i| ota_jobs::text(i, "slot"))
        .unwrap_or_default();
    if slot.is_empty() {
        return Ok(());
    }
    let freed =
        crate::ota_slots::release(db, table, &s.job_id, &slot, &s.node_id, s.received_at).await?;
    tracing::info!(node_id = %s.node_id, job = %s.job_id, %slot, freed, "OTA session ended");
    Ok(())
}

/// What the function needs to also free slots for waiting nodes.
pub struct Ctx {
    pub db: Client,
    pub table: String,
    pub config: aws_config::SdkConfig,
    /// The `ota-fetch` function (`FUNCTION_OTA_FETCH`).
    pub ota_fetch: Option<String>,
}

/// [`handle`], and when the status ended a session (its slot is free), ask `ota-fetch` to offer
/// the job to an online node that waits (see `ota_offer`). A failed request is logged:
/// the waiting nodes still get the job when they next ask.
pub async fn handle_and_free(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let ended = OtaStatus::parse(event.clone())
        .ok()
        .filter(OtaStatus::ends_session)
        .map(|s| s.job_id);
    let mut out = handle(&ctx.db, &ctx.table, event).await?;
    if let (Some(job), Some(function)) = (ended, &ctx.ota_fetch) {
        if out == serde_json::json!({ "stored": true }) {
            let request = crate::ota_jobs::offer_request(&job);
            let asked = match crate::sigv4::invoke_async(&ctx.config, function, &request).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(job = %job, error = %e, "could not ask ota-fetch to offer the freed slot");
                    false
                }
            };
            out["offered_online"] = serde_json::json!(asked);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(status: &str) -> Value {
        json!({"ota_job_id": "job-42", "status": status, "additional_info": "Downloading 40%",
               "ts": 1_764_000_000})
    }

    fn report(status: &str) -> Value {
        message(payload(status))
    }

    fn message(payload: Value) -> Value {
        crate::event::node_message("9C9E6E2A1B2C", "otastatus", &payload, 1_764_000_000_500)
    }

    #[test]
    fn every_status_a_node_sends_is_read() {
        for status in STATUSES {
            let s = OtaStatus::parse(report(status)).unwrap();
            assert_eq!(s.job_id, "job-42");
            assert_eq!(
                s.ends_session(),
                matches!(*status, "success" | "failed" | "rejected")
            );
        }
        assert_eq!(
            OtaStatus::parse(report("in-progress"))
                .unwrap()
                .info
                .as_deref(),
            Some("Downloading 40%")
        );
    }

    #[test]
    fn unknown_statuses_and_missing_jobs_are_refused() {
        assert!(OtaStatus::parse(report("done"))
            .unwrap_err()
            .contains("not one of"));
        let mut no_job = payload("success");
        no_job.as_object_mut().unwrap().remove("ota_job_id");
        assert!(OtaStatus::parse(message(no_job)).is_err());
    }

    #[test]
    fn only_an_open_session_takes_a_status() {
        let session = |active: bool| -> ota_jobs::Item {
            [("active".to_string(), AttributeValue::Bool(active))].into()
        };
        assert!(not_open(None).unwrap().contains("no OTA session"));
        assert!(not_open(Some(&session(false))).unwrap().contains("ended"));
        assert_eq!(not_open(Some(&session(true))), None);
    }
}
