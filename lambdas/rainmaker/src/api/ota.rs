//! `admin/otajobs`: the OTA jobs `rmdeploy firmware publish` registered, with each job's
//! progress (GET), and stopping or resuming a rollout or letting it downgrade (POST
//! `{"ota_job_id", "operation": "abort" | "resume", "allow_downgrade": true | false}`, either or
//! both; a resumed job, or one allowed to downgrade, is offered to the online nodes at once, see
//! `ota_offer`). Only for users in the `admin` group.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use super::{code, internal, Answer, Ctx, Request};
use crate::ota_jobs;

fn admin(req: &Request) -> Result<(), Answer> {
    req.user()?;
    if req.is_admin() {
        Ok(())
    } else {
        Err(Answer::failure(
            403,
            code::FORBIDDEN,
            "OTA jobs are for users in the admin group (the profile's identity.admin_group)",
        ))
    }
}

pub async fn list(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    admin(req)?;
    let mut jobs = ota_jobs::all(&ctx.db, &ctx.tables.jobs)
        .await
        .map_err(|e| internal("listing OTA jobs", e))?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at));
    let now = crate::runtime::now_ms();
    let mut out = Vec::new();
    for job in jobs {
        let sessions = ota_jobs::sessions(&ctx.db, &ctx.tables.jobs, &job.job_id)
            .await
            .map_err(|e| internal("reading OTA sessions", e))?;
        out.push(json!({
            "ota_job_id": job.job_id, "project": job.project, "chip": job.chip,
            "fw_version": job.fw_version, "file_size": job.file_size, "state": job.state,
            "allow_downgrade": job.allow_downgrade,
            "created_at": job.created_at, "max_parallel": job.max_parallel,
            "max_per_minute": job.max_per_minute, "timeout_s": job.timeout_s,
            "progress": ota_jobs::progress(&job, &sessions, now),
        }));
    }
    Ok(Answer::ok(json!({ "ota_jobs": out })))
}

/// What a POST asks: a new state (`operation`), a new `allow_downgrade`, or both.
fn requested(req: &Request) -> Result<(Option<&'static str>, Option<bool>), Answer> {
    let body = req.body.as_ref();
    let state = match body.and_then(|b| b.get("operation")) {
        None | Some(serde_json::Value::Null) => None,
        Some(op) => match op.as_str() {
            Some("abort") => Some("aborted"),
            Some("resume") => Some("active"),
            _ => {
                return Err(Answer::failure(
                    400,
                    code::BAD_REQUEST,
                    format!("operation {op} is not \"abort\" or \"resume\""),
                ))
            }
        },
    };
    let downgrade = match body.and_then(|b| b.get("allow_downgrade")) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(Answer::failure(
                400,
                code::BAD_REQUEST,
                format!("allow_downgrade is {other}: give true or false"),
            ))
        }
    };
    if state.is_none() && downgrade.is_none() {
        return Err(Answer::failure(
            400,
            code::BAD_REQUEST,
            "The body needs `operation` (\"abort\" or \"resume\") or `allow_downgrade` (true or false)",
        ));
    }
    Ok((state, downgrade))
}

pub async fn change(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    admin(req)?;
    let job = req.field("ota_job_id")?;
    let (state, downgrade) = requested(req)?;
    let mut sets = Vec::new();
    let mut update = ctx
        .db
        .update_item()
        .table_name(&ctx.tables.jobs)
        .key("job_id", AttributeValue::S(job.into()))
        .key("sk", AttributeValue::S("job".into()))
        .condition_expression("attribute_exists(job_id)")
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
    if let Some(state) = state {
        sets.push("#s = :s");
        update = update
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":s", AttributeValue::S(state.into()));
    }
    if let Some(allow) = downgrade {
        sets.push("#d = :d");
        update = update
            .expression_attribute_names("#d", "allow_downgrade")
            .expression_attribute_values(":d", AttributeValue::Bool(allow));
    }
    let updated = update
        .update_expression(format!("SET {}", sets.join(", ")))
        .send()
        .await;
    match updated {
        Ok(out) => {
            let now = ota_jobs::Job::from_item(&out.attributes().cloned().unwrap_or_default());
            // a resumed job, or one that may now go to newer nodes, goes to the nodes online
            // now, not only to those that boot later
            let wider = state == Some("active") || downgrade == Some(true);
            let offered = match (&ctx.ota_fetch, now.state == "active" && wider) {
                (Some(function), true) => {
                    let request = crate::ota_jobs::offer_request(job);
                    match crate::sigv4::invoke_async(&ctx.config, function, &request).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::warn!(job, error = %e, "could not ask ota-fetch to offer the job");
                            false
                        }
                    }
                }
                _ => false,
            };
            Ok(Answer::ok(
                json!({"status": "success", "ota_job_id": job, "state": now.state,
                                 "allow_downgrade": now.allow_downgrade, "offered_online": offered}),
            ))
        }
        Err(e) if crate::store::condition_failed(&e) => Err(Answer::failure(
            404,
            code::NOT_FOUND,
            format!("No OTA job {job}"),
        )),
        Err(e) => Err(internal(
            "changing the OTA job",
            aws_sdk_dynamodb::error::DisplayErrorContext(e),
        )),
    }
}
