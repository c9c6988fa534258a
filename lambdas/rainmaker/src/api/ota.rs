//! `admin/otajobs`: the OTA jobs `rmdeploy firmware publish` registered, with each job's
//! progress (GET), and stopping or resuming a rollout (POST `{"ota_job_id", "operation":
//! "abort" | "resume"}`; a resumed job is offered to the online nodes at once, see
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
            "created_at": job.created_at, "max_parallel": job.max_parallel,
            "max_per_minute": job.max_per_minute, "timeout_s": job.timeout_s,
            "progress": ota_jobs::progress(&job, &sessions, now),
        }));
    }
    Ok(Answer::ok(json!({ "ota_jobs": out })))
}

pub async fn change(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    admin(req)?;
    let job = req.field("ota_job_id")?;
    let state = match req.field("operation")? {
        "abort" => "aborted",
        "resume" => "active",
        other => {
            return Err(Answer::failure(
                400,
                code::BAD_REQUEST,
                format!("operation `{other}` is not abort or resume"),
            ))
        }
    };
    let updated = ctx
        .db
        .update_item()
        .table_name(&ctx.tables.jobs)
        .key("job_id", AttributeValue::S(job.into()))
        .key("sk", AttributeValue::S("job".into()))
        .update_expression("SET #s = :s")
        .condition_expression("attribute_exists(job_id)")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(":s", AttributeValue::S(state.into()))
        .send()
        .await;
    match updated {
        Ok(_) => {
            // a resumed job goes to the nodes online now, not only to those that boot later
            let offered = match (&ctx.ota_fetch, state) {
                (Some(function), "active") => {
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
                json!({"status": "success", "ota_job_id": job, "state": state, "offered_online": offered}),
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
