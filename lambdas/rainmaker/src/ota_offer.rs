//! Offering a job to the online nodes it is for, without waiting for them to ask. Stock firmware
//! fetches once per boot (`CONFIG_ESP_RMAKER_OTA_AUTOFETCH`, `ESP_RMAKER_OTA_AUTOFETCH_PERIOD` 0):
//! a node that is online when a job is created or resumed, or that was told to wait for a slot,
//! would otherwise wait for its next reboot. So `ota-fetch` also takes `{"offer_job": "<id>"}`,
//! sent (asynchronously) by `rmdeploy firmware publish` when it registers a job, by the API when
//! an admin resumes one, and by `ota-status` when a session ends and frees a slot.
//!
//! A round reads the online nodes of the job's project and chip that run another version (the
//! nodes table's sparse index, see `node_config`: two queries by key, `fw_version` below
//! and above the job's), skips those that have had a session of the job, and answers each of
//! the others as if it had asked (`ota_fetch::answer`: the registry binding, the rollout limits,
//! the session, the `otaurl`), until the limits say wait. A round looks at no more than
//! [`MAX_NODES_PER_ROUND`] nodes, so its cost and time are bounded whatever the fleet's size.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::online::{node_key, ONLINE_INDEX};
use crate::ota_fetch::{answer, Ctx, Fetch, Outcome};
use crate::ota_jobs;

/// The most nodes one round looks at.
pub const MAX_NODES_PER_ROUND: usize = 500;

/// The request to offer a job, when the event is one (not a rule's message).
pub fn requested_job(event: &Value) -> Option<String> {
    let id = event.get("offer_job")?.as_str()?;
    (!id.is_empty() && id.len() <= 128).then(|| id.to_string())
}

/// Online nodes of a project and chip whose version is not `fw_version`: (node, version).
pub async fn online_outdated(
    db: &Client,
    nodes_table: &str,
    project: &str,
    chip: &str,
    fw_version: &str,
    limit: usize,
) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for comparison in ["<", ">"] {
        let mut start = None;
        loop {
            let page = db
                .query()
                .table_name(nodes_table)
                .index_name(ONLINE_INDEX)
                .key_condition_expression(format!("online_key = :k AND fw_version {comparison} :v"))
                .expression_attribute_values(":k", AttributeValue::S(node_key(project, chip)))
                .expression_attribute_values(":v", AttributeValue::S(fw_version.into()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items() {
                let text = |k: &str| ota_jobs::text(item, k);
                out.push((text("node_id"), text("fw_version")));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// One round of offers for a job (see the module's comment).
pub async fn offer_job(ctx: &Ctx, job_id: &str) -> Result<Value, Error> {
    let now = (ctx.clock)();
    let Some(job) = ota_jobs::job(&ctx.db, &ctx.jobs_table, job_id).await? else {
        return Ok(json!({ "offer_job": job_id, "offered": 0, "reason": "no such job" }));
    };
    if job.state != "active" {
        return Ok(
            json!({ "offer_job": job_id, "offered": 0, "reason": format!("the job is {}", job.state) }),
        );
    }
    // a round follows a change (a new or resumed job, a freed slot): nothing kept from before it
    ctx.jobs.forget(&job.project, &job.chip);
    ctx.sessions.forget(job_id);
    let nodes = online_outdated(
        &ctx.db,
        &ctx.nodes_table,
        &job.project,
        &job.chip,
        &job.fw_version,
        MAX_NODES_PER_ROUND,
    )
    .await?;
    let (mut offered, mut skipped) = (0, 0);
    let mut stopped = None;
    for (node, version) in &nodes {
        // a node that has had a session of this job (open, or ended: an update that succeeded
        // before the node rebooted into it, a failure, a refusal) is not offered it again here;
        // it gets it again only by asking
        if ota_jobs::session(&ctx.db, &ctx.jobs_table, job_id, node)
            .await?
            .is_some()
        {
            skipped += 1;
            continue;
        }
        let fetch = Fetch {
            node_id: node.clone(),
            fw_version: Some(version.clone()),
            received_at: now,
        };
        match answer(ctx, &fetch).await? {
            Outcome::Offered { .. } => offered += 1,
            Outcome::Wait { why, .. } => {
                stopped = Some(why);
                break;
            }
            _ => skipped += 1,
        }
    }
    tracing::info!(job = %job_id, online = nodes.len(), offered, skipped, "offered a job to online nodes");
    Ok(
        json!({ "offer_job": job_id, "online": nodes.len(), "offered": offered,
               "skipped": skipped, "stopped": stopped }),
    )
}
