//! Offering a job to the online nodes it is for, without waiting for them to ask. Stock firmware
//! fetches once per boot (`CONFIG_ESP_RMAKER_OTA_AUTOFETCH`, `ESP_RMAKER_OTA_AUTOFETCH_PERIOD` 0):
//! a node that is online when a job is created or resumed, or that was told to wait for a slot,
//! would otherwise wait for its next reboot. So `ota-fetch` also takes `{"offer_job": "<id>"}`,
//! sent (asynchronously) by `rmdeploy firmware publish` when it registers a job, by the API when
//! an admin resumes one or allows it to downgrade, and by `ota-status` when a session ends and
//! frees a slot.
//!
//! A round reads the online nodes of the job's project and chip whose version text differs from
//! the job's (the nodes table's sparse index, see `node_config`: two queries by key, `fw_version`
//! below and above the job's as text, which leaves out the nodes already on it), at most
//! [`MAX_CANDIDATES_READ`] of them. The index cannot order versions ("1.10.0" sorts before
//! "1.9.0" as text), so the round keeps those the job may go to by [`fw_version::verdict`]: older
//! ones, or any with `allow_downgrade`. It skips those that have had a session of the job, and
//! answers each of the others as if it had asked (`ota_fetch::answer`: the registry binding, the
//! version, the rollout limits, the session, the `otaurl`). A full network makes its node wait
//! and the round goes on to the others (another network may have a free slot); the job's rate
//! stops the round. A round answers at most [`MAX_NODES_PER_ROUND`] nodes, so its cost and time
//! are bounded whatever the fleet's size.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::fw_version::{self, Verdict};
use crate::online::{node_key, ONLINE_INDEX};
use crate::ota_fetch::{answer, Ctx, Fetch, Outcome};
use crate::ota_jobs;
use crate::ota_session::Limit;

/// The most nodes one round answers.
pub const MAX_NODES_PER_ROUND: usize = 500;

/// The most index entries one round reads (nodes on a newer or unreadable version are read and
/// left out).
pub const MAX_CANDIDATES_READ: usize = 2_000;

/// The request to offer a job, when the event is one (not a rule's message).
pub fn requested_job(event: &Value) -> Option<String> {
    let id = event.get("offer_job")?.as_str()?;
    (!id.is_empty() && id.len() <= 128).then(|| id.to_string())
}

/// Online nodes of a project and chip whose version text is not `fw_version`, at most `limit`:
/// (node, version).
pub async fn online_other_versions(
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

/// The candidates a job may go to by version (see [`fw_version::verdict`]), at most `limit`.
pub fn eligible(
    job: &ota_jobs::Job,
    candidates: Vec<(String, String)>,
    limit: usize,
) -> Vec<(String, String)> {
    candidates
        .into_iter()
        .filter(|(_, version)| {
            fw_version::verdict(&job.fw_version, Some(version), job.allow_downgrade)
                == Verdict::Offer
        })
        .take(limit)
        .collect()
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
    ctx.slots.forget_job(job_id);
    let candidates = online_other_versions(
        &ctx.db,
        &ctx.nodes_table,
        &job.project,
        &job.chip,
        &job.fw_version,
        MAX_CANDIDATES_READ,
    )
    .await?;
    let read = candidates.len();
    let nodes = eligible(&job, candidates, MAX_NODES_PER_ROUND);
    let (mut offered, mut skipped, mut waiting) = (0, 0, 0);
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
            network_id: None,
            received_at: now,
        };
        match answer(ctx, &fetch).await? {
            Outcome::Offered { .. } => offered += 1,
            Outcome::Wait {
                limit: Limit::Slots { .. },
                ..
            } => waiting += 1,
            Outcome::Wait { why, .. } => {
                stopped = Some(why);
                break;
            }
            _ => skipped += 1,
        }
    }
    tracing::info!(job = %job_id, read, eligible = nodes.len(), offered, waiting, skipped, "offered a job to online nodes");
    Ok(
        json!({ "offer_job": job_id, "online": nodes.len(), "read": read, "offered": offered,
               "waiting": waiting, "skipped": skipped, "stopped": stopped }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_keeps_the_nodes_the_job_may_go_to_by_version() {
        let mut job = ota_jobs::Job {
            job_id: "j".into(),
            project: "light".into(),
            chip: "esp32c3".into(),
            fw_version: "1.9.0".into(),
            key: "k".into(),
            file_size: 1,
            created_at: 1,
            state: "active".into(),
            allow_downgrade: false,
            max_parallel: 1,
            max_per_minute: 0,
            timeout_s: 60,
        };
        // as the index gives them: text order, below then above the job's version
        let candidates = || {
            ["1.10.0", "1.2.0", "1.9.0-rc1", "v1.9", "2.0.0", "custom"]
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("n{i}"), v.to_string()))
                .collect::<Vec<_>>()
        };
        let versions = |kept: Vec<(String, String)>| -> Vec<String> {
            kept.into_iter().map(|(_, v)| v).collect()
        };
        assert_eq!(
            versions(eligible(&job, candidates(), 10)),
            ["1.2.0", "1.9.0-rc1"]
        );
        assert_eq!(versions(eligible(&job, candidates(), 1)), ["1.2.0"]);
        job.allow_downgrade = true;
        assert_eq!(
            versions(eligible(&job, candidates(), 10)),
            ["1.10.0", "1.2.0", "1.9.0-rc1", "2.0.0", "custom"],
            "all but the same version"
        );
    }
}
