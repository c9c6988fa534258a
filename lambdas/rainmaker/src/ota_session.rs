//! Opening a node's OTA session in a job, under the job's rollout limits: `max_per_minute` new
//! sessions a minute for the whole job (counted from its sessions, kept a few seconds per
//! function instance), then one of the `max_parallel` slots of the node's network, or of the
//! job's nodes without a network ([`crate::ota_slots`], taken by a conditional write), then the
//! session item, written only when the node holds no open session (a repeated fetch racing with
//! itself keeps one session and one slot).

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::Error;

use crate::ota_fetch::Ctx;
use crate::ota_jobs::{self, number, Item, Job};
use crate::ota_network::{self, Network};
use crate::ota_slots;
use crate::store::condition_failed;

/// Free slots one view is tried for before the slots are read again.
pub const SLOT_TRIES: usize = 4;

/// The limit that makes a node wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// The job's `max_per_minute`: no node of the job starts now.
    Rate,
    /// Every slot of the node's network (`None`: of the job's nodes without one) is held.
    Slots { network: Option<String> },
}

/// What opening a session came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new session, holding this slot (`None` for a job without `max_parallel`).
    New { slot: Option<String> },
    /// The node opened one a moment ago (a repeated fetch): offer it again.
    Open,
    /// A limit says wait, and why.
    Wait(Limit, String),
}

/// Why the job's rate says wait, when it does.
pub fn rate_limited(job: &Job, sessions: &[Item], now_ms: i64) -> Option<String> {
    if job.max_per_minute <= 0 {
        return None;
    }
    let last_minute = sessions
        .iter()
        .filter(|s| now_ms - number(s, "started_at") < 60_000)
        .count() as i64;
    (last_minute >= job.max_per_minute).then(|| {
        format!(
            "{last_minute} sessions started in the last minute, the job allows {}",
            job.max_per_minute
        )
    })
}

/// Why a node waits for a slot of its group.
pub fn slots_full(job: &Job, network: Option<&Network>, held: usize) -> String {
    match network {
        Some(n) => format!(
            "{held} sessions in progress in network `{}`, the job allows {} at once per network",
            n.id, job.max_parallel
        ),
        None => format!(
            "{held} sessions in progress among the job's nodes without a network, the job allows {} at once",
            job.max_parallel
        ),
    }
}

/// Open `node`'s session in `job` (see the module's comment).
pub async fn open(
    ctx: &Ctx,
    job: &Job,
    node: &str,
    network: Option<&Network>,
    now_ms: i64,
) -> Result<Opened, Error> {
    if job.max_per_minute > 0 {
        let sessions = ctx
            .sessions
            .sessions(&ctx.db, &ctx.jobs_table, &job.job_id, now_ms)
            .await?;
        if let Some(why) = rate_limited(job, &sessions, now_ms) {
            return Ok(Opened::Wait(Limit::Rate, why));
        }
    }
    let group = ota_network::slot_group(network);
    let slot = if job.max_parallel > 0 {
        match take_slot(ctx, job, &group, node, network, now_ms).await? {
            Ok(key) => Some(key),
            Err(why) => {
                let network = network.map(|n| n.id.clone());
                return Ok(Opened::Wait(Limit::Slots { network }, why));
            }
        }
    } else {
        None
    };
    let session = session_item(job, node, network, slot.as_deref(), now_ms);
    let written = ctx
        .db
        .put_item()
        .table_name(&ctx.jobs_table)
        .set_item(Some(session.clone()))
        .condition_expression("attribute_not_exists(sk) OR #a = :no OR #s <= :stale")
        .expression_attribute_names("#a", "active")
        .expression_attribute_names("#s", "started_at")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .expression_attribute_values(
            ":stale",
            AttributeValue::N((now_ms - ota_jobs::timeout_ms(job)).to_string()),
        )
        .send()
        .await;
    match written {
        Ok(_) => {
            ctx.sessions.opened(&job.job_id, session);
            Ok(Opened::New { slot })
        }
        Err(e) if condition_failed(&e) => {
            // the node's own session, opened since it was read: give back the slot taken here
            if let Some(key) = &slot {
                ota_slots::release(&ctx.db, &ctx.jobs_table, &job.job_id, key, node, now_ms)
                    .await?;
                ctx.slots.forget(&job.job_id, &group);
            }
            Ok(Opened::Open)
        }
        Err(e) => Err(e.into()),
    }
}

/// A free slot of `group`, taken: its key, or why there is none. The kept view is tried first;
/// when each write finds its slot taken, the slots are read afresh once and tried again.
async fn take_slot(
    ctx: &Ctx,
    job: &Job,
    group: &str,
    node: &str,
    network: Option<&Network>,
    now_ms: i64,
) -> Result<Result<String, String>, Error> {
    let until = now_ms + ota_jobs::timeout_ms(job);
    for fresh in [false, true] {
        if fresh {
            ctx.slots.forget(&job.job_id, group);
        }
        let slots = ctx
            .slots
            .slots(&ctx.db, &ctx.jobs_table, &job.job_id, group, now_ms)
            .await?;
        let free = ota_slots::free(&slots, job.max_parallel, now_ms);
        if free.is_empty() {
            let held = slots.iter().filter(|s| ota_slots::held(s, now_ms)).count();
            return Ok(Err(slots_full(job, network, held)));
        }
        for i in free.into_iter().take(SLOT_TRIES) {
            let slot = ota_slots::item(&job.job_id, group, i, node, now_ms, until);
            if ota_slots::take(&ctx.db, &ctx.jobs_table, slot.clone(), now_ms).await? {
                ctx.slots.took(&job.job_id, group, slot);
                return Ok(Ok(ota_slots::key(group, i)));
            }
        }
    }
    Ok(Err(format!(
        "the free slots were taken by other nodes a moment ago; {}",
        slots_full(job, network, job.max_parallel as usize)
    )))
}

/// A new session's item.
fn session_item(
    job: &Job,
    node: &str,
    network: Option<&Network>,
    slot: Option<&str>,
    now_ms: i64,
) -> Item {
    let expires =
        crate::store::expires_after(now_ms + ota_jobs::timeout_ms(job), ota_jobs::KEEP_DAYS);
    let mut item: Item = [
        ("job_id", AttributeValue::S(job.job_id.clone())),
        ("sk", AttributeValue::S(format!("node#{node}"))),
        ("node_id", AttributeValue::S(node.into())),
        ("status", AttributeValue::S("offered".into())),
        ("active", AttributeValue::Bool(true)),
        ("started_at", AttributeValue::N(now_ms.to_string())),
        ("updated_at", AttributeValue::N(now_ms.to_string())),
        ("expires_at", AttributeValue::N(expires.to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(n) = network {
        item.insert("network".into(), AttributeValue::S(n.id.clone()));
    }
    if let Some(s) = slot {
        item.insert("slot".into(), AttributeValue::S(s.into()));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ota_network::Source;

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
            allow_downgrade: false,
            max_parallel,
            max_per_minute,
            timeout_s: 600,
        }
    }

    #[test]
    fn the_rate_counts_the_sessions_of_the_last_minute() {
        let now = 1_000_000;
        let started = |at: i64| -> Item {
            [("started_at".to_string(), AttributeValue::N(at.to_string()))].into()
        };
        let recent = [started(now - 10_000), started(now - 70_000)];
        assert!(rate_limited(&job(0, 1), &recent, now)
            .unwrap()
            .contains("1 sessions started in the last minute, the job allows 1"));
        assert_eq!(rate_limited(&job(0, 2), &recent, now), None);
        assert_eq!(rate_limited(&job(5, 0), &recent, now), None, "no rate");
    }

    #[test]
    fn a_session_names_its_network_and_slot_and_a_wait_names_the_network() {
        let net = Network {
            id: "42".into(),
            source: Source::Config,
        };
        let item = session_item(&job(2, 0), "n1", Some(&net), Some("slot#net#42#0"), 5_000);
        assert_eq!(item["network"], AttributeValue::S("42".into()));
        assert_eq!(item["slot"], AttributeValue::S("slot#net#42#0".into()));
        let wifi = session_item(&job(0, 0), "n1", None, None, 5_000);
        assert!(!wifi.contains_key("network") && !wifi.contains_key("slot"));
        assert!(slots_full(&job(2, 0), Some(&net), 2).contains("network `42`"));
        assert!(slots_full(&job(1, 0), None, 1).contains("allows 1 at once"));
    }
}
