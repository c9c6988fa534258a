//! The `esp_node_otafetch` rule: a node asks for an update on `node/<id>/otafetch`
//! (`{"node_id", "fw_version"[, "network_id"]}`). The cloud answers on `node/<id>/otaurl` with a
//! presigned S3 GET of the newest active job's firmware for the node's project and chip:
//! `{"ota_job_id", "url", "fw_version", "file_size"}`.
//!
//! The project and chip are the registry's, not the node's: the IoT thing named after the node
//! carries the attributes `project_name` and `chip`, set when the node is registered
//! (`DescribeThing`). The project and platform the node reported in its `config` must agree with
//! them; a node without the attributes, or whose report disagrees, is logged and refused.
//!
//! Only a newer version is offered: the job's version and the node's (the fetch's `fw_version`,
//! else its config's) are compared as versions ([`crate::fw_version`]); a node on the same or a
//! newer version, or on a version that does not parse, gets nothing unless the job allows
//! downgrades (`allow_downgrade`).
//!
//! The rollout is throttled (seed 004: too many parallel OTA sessions take a Thread mesh down):
//! at most `max_parallel` sessions at once in each network ([`crate::ota_network`]: the Thread
//! network the node is in; the job's nodes without one share as many), and `max_per_minute` new
//! ones a minute for the job ([`crate::ota_session`]). A node over a limit gets no answer now
//! and asks again on its next check. A session ends with the node's `success`, `failed` or
//! `rejected` status (`ota-status`, which frees its slot) or when the job's timeout has passed
//! since it started, whatever the node said meanwhile.
//!
//! Jobs are looked up by key (the `ota_jobs` index, see [`crate::ota_jobs`]) and kept
//! [`JOB_CACHE_MS`] in the function, so a fetch reads the node, its registry entry and its own
//! session, and the slots of its network only when a new session would start. Those are kept
//! [`SESSIONS_CACHE_MS`]: a node that asks again and again while it waits for a slot costs one
//! read of its network's slots per function instance every few seconds, not one a message. A
//! slot itself is taken by a conditional write, so no limit is exceeded by instances that run at
//! once.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::fw_version::{self, Verdict};
use crate::ota_jobs::{self, chip_name, holds_slot, text, Job};
use crate::ota_network::{self, Network, Source};
use crate::ota_session::{self, Limit, Opened};
use crate::registry;
use crate::store::dropped;

pub use crate::ota_cache::{JobCache, SessionCache, SlotCache, JOB_CACHE_MS, SESSIONS_CACHE_MS};

/// How long an `otaurl` stays usable when the job sets no timeout.
pub const DEFAULT_URL_SECONDS: u64 = 3600;

/// The thing attributes that bind a node to its firmware, set when the node is registered.
pub const PROJECT_ATTRIBUTE: &str = "project_name";
pub const CHIP_ATTRIBUTE: &str = "chip";

/// Milliseconds since the epoch; tests pass their own.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub node_id: String,
    pub fw_version: Option<String>,
    /// The Thread network the node says it is in (`esp_rmaker_get_network_id()`).
    pub network_id: Option<String>,
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
        let network_id = match e.payload.get(ota_network::FIELD) {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => {
                ota_network::check(id).map_err(|why| format!("network_id: {why}"))?;
                Some(id.clone())
            }
            Some(other) => return Err(format!("network_id is not a string: {other}")),
        };
        Ok(Fetch {
            node_id: e.node_id,
            fw_version,
            network_id,
            received_at: e.received_at,
        })
    }
}

/// What the registry says a node is: its thing's `project_name`, `chip` and `network_id`
/// attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Registered {
    pub project: Option<String>,
    pub chip: Option<String>,
    /// The network the node's sessions count against, when the registry pins it.
    pub network: Option<String>,
}

/// Read a node's registration from its thing (`DescribeThing`, see [`crate::registry`]); `None`
/// when there is no such thing.
pub async fn registration(
    config: &aws_config::SdkConfig,
    node: &str,
) -> Result<Option<Registered>, Error> {
    let Some(thing) = registry::describe_thing(config, node).await? else {
        return Ok(None);
    };
    let attribute = |name: &str| {
        thing
            .pointer(&format!("/attributes/{name}"))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Ok(Some(Registered {
        project: attribute(PROJECT_ATTRIBUTE),
        chip: attribute(CHIP_ATTRIBUTE),
        network: attribute(ota_network::REGISTRY_ATTRIBUTE),
    }))
}

/// The project and chip a node may fetch firmware for: the registry's, when the node's own
/// report agrees with them.
pub fn bind(
    registered: Option<&Registered>,
    reported_project: &str,
    reported_chip: &str,
) -> Result<(String, String), String> {
    let Some(Registered {
        project: Some(project),
        chip: Some(chip),
        ..
    }) = registered
    else {
        return Err(format!(
            "the node's thing has no `{PROJECT_ATTRIBUTE}` and `{CHIP_ATTRIBUTE}` attributes (set them when registering it)"
        ));
    };
    if project != reported_project || chip_name(chip) != chip_name(reported_chip) {
        return Err(format!(
            "the node reports project `{reported_project}` on `{reported_chip}`, the registry says `{project}` on `{chip}`"
        ));
    }
    Ok((project.clone(), chip.clone()))
}

pub struct Ctx {
    pub db: Client,
    pub iot: aws_sdk_iotdataplane::Client,
    pub config: aws_config::SdkConfig,
    pub nodes_table: String,
    pub jobs_table: String,
    pub bucket: String,
    pub jobs: JobCache,
    pub sessions: SessionCache,
    pub slots: SlotCache,
    pub clock: Clock,
}

impl Ctx {
    /// A context with empty caches and the real clock.
    pub fn new(
        db: Client,
        iot: aws_sdk_iotdataplane::Client,
        config: aws_config::SdkConfig,
        nodes_table: String,
        jobs_table: String,
        bucket: String,
    ) -> Ctx {
        Ctx {
            db,
            iot,
            config,
            nodes_table,
            jobs_table,
            bucket,
            jobs: JobCache::default(),
            sessions: SessionCache::default(),
            slots: SlotCache::default(),
            clock: std::sync::Arc::new(crate::runtime::now_ms),
        }
    }
}

/// What a fetch comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The node has not sent its config yet.
    NoConfig,
    /// The registry does not bind the node to what it reports, or its network id is not one.
    Refused(String),
    NoJob(String),
    UpToDate {
        job_id: String,
    },
    /// The job's version is not newer than the node's (or either does not parse), and the job
    /// does not allow downgrades.
    NotOffered {
        job_id: String,
        why: String,
    },
    /// Over a rollout limit: no answer now.
    Wait {
        job_id: String,
        why: String,
        limit: Limit,
    },
    /// `otaurl` sent.
    Offered {
        job_id: String,
        fw_version: String,
    },
}

impl Outcome {
    pub fn to_json(&self, fetch: &Fetch) -> Value {
        match self {
            Outcome::NoConfig => json!({ "answered": false, "reason": NO_CONFIG }),
            Outcome::Refused(why) => {
                json!({ "answered": false, "refused": true, "reason": why, "node_id": fetch.node_id })
            }
            Outcome::NoJob(why) => json!({ "answered": false, "reason": why }),
            Outcome::UpToDate { job_id } => {
                json!({ "answered": false, "reason": "up to date", "ota_job_id": job_id })
            }
            Outcome::NotOffered { job_id, why } => {
                json!({ "answered": false, "reason": why, "ota_job_id": job_id })
            }
            Outcome::Wait { job_id, why, limit } => match limit {
                Limit::Rate => json!({ "answered": false, "reason": why, "ota_job_id": job_id }),
                Limit::Slots { network } => json!({ "answered": false, "reason": why,
                    "ota_job_id": job_id, "network": network }),
            },
            Outcome::Offered { job_id, fw_version } => {
                json!({ "answered": true, "ota_job_id": job_id, "fw_version": fw_version })
            }
        }
    }
}

const NO_CONFIG: &str = "the node has not sent its config yet";

/// A node's request (`otafetch`), or `{"offer_job"}` (see [`crate::ota_offer`]).
///
/// A fetch that comes before the node's config is stored (the firmware sends both right after
/// connecting) fails, so that Lambda tries it again a minute later rather than leaving the node
/// without an answer until its next boot.
pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    if let Some(job_id) = crate::ota_offer::requested_job(&event) {
        return crate::ota_offer::offer_job(ctx, &job_id).await;
    }
    let fetch = match Fetch::parse(event) {
        Ok(f) => f,
        Err(why) => return Ok(dropped("OTA fetch", &why)),
    };
    match answer(ctx, &fetch).await? {
        Outcome::NoConfig => Err(format!("node {}: {NO_CONFIG}; retried", fetch.node_id).into()),
        outcome => Ok(outcome.to_json(&fetch)),
    }
}

/// The network a node counts against, logged when the registry overrides what the node says.
fn network_of(
    fetch: &Fetch,
    registered: Option<&Registered>,
    node: &ota_jobs::Item,
) -> Result<Option<Network>, String> {
    let kept = node
        .get(ota_network::FIELD)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str);
    let pinned = registered.and_then(|r| r.network.as_deref());
    let network = ota_network::resolve(pinned, fetch.network_id.as_deref(), kept)?;
    if let Some(n) = network.as_ref().filter(|n| n.source == Source::Registry) {
        let said = fetch.network_id.as_deref().or(kept);
        if said.is_some_and(|s| s != n.id) {
            tracing::info!(node_id = %fetch.node_id, registered = %n.id, reported = said.unwrap_or(""),
                "the node reports another network than its registry entry; the registry's counts");
        }
    }
    Ok(network)
}

/// Answer a fetch: the registry binding, the newest job, the version order, the rollout limits,
/// the session and the `otaurl`.
pub async fn answer(ctx: &Ctx, fetch: &Fetch) -> Result<Outcome, Error> {
    let node = ctx
        .db
        .get_item()
        .table_name(&ctx.nodes_table)
        .key("node_id", AttributeValue::S(fetch.node_id.clone()))
        .send()
        .await?
        .item;
    let Some(node) = node.filter(|n| n.contains_key("config_at")) else {
        return Ok(Outcome::NoConfig);
    };
    let (reported_project, reported_chip) = (text(&node, "project"), text(&node, "platform"));
    let registered = registration(&ctx.config, &fetch.node_id).await?;
    let (project, chip) = match bind(registered.as_ref(), &reported_project, &reported_chip) {
        Ok(bound) => bound,
        Err(why) => {
            let r = registered.unwrap_or_default();
            tracing::warn!(
                node_id = %fetch.node_id,
                %reported_project,
                %reported_chip,
                registered_project = r.project.as_deref().unwrap_or("(none)"),
                registered_chip = r.chip.as_deref().unwrap_or("(none)"),
                "OTA fetch refused: the node's report and the registry disagree"
            );
            return Ok(Outcome::Refused(why));
        }
    };
    let network = match network_of(fetch, registered.as_ref(), &node) {
        Ok(n) => n,
        Err(why) => {
            tracing::warn!(node_id = %fetch.node_id, reason = %why, "OTA fetch refused");
            return Ok(Outcome::Refused(why));
        }
    };
    let now = (ctx.clock)();
    let Some(job) = ctx
        .jobs
        .newest(&ctx.db, &ctx.jobs_table, &project, &chip, now)
        .await?
    else {
        tracing::info!(node_id = %fetch.node_id, %project, %chip, "no firmware for this node");
        return Ok(Outcome::NoJob(format!(
            "no active job for project `{project}` on `{chip}`"
        )));
    };
    let kept_version = Some(text(&node, "fw_version")).filter(|v| !v.is_empty());
    let version = fetch.fw_version.clone().or(kept_version);
    match fw_version::verdict(&job.fw_version, version.as_deref(), job.allow_downgrade) {
        Verdict::Offer => {}
        Verdict::Same => return Ok(Outcome::UpToDate { job_id: job.job_id }),
        Verdict::NotOffered(why) => {
            tracing::info!(node_id = %fetch.node_id, job = %job.job_id, reason = %why, "not offered");
            return Ok(Outcome::NotOffered {
                job_id: job.job_id,
                why,
            });
        }
    }
    // The node's own session first: an open one gets its offer again without reading the others.
    let mine = ota_jobs::session(&ctx.db, &ctx.jobs_table, &job.job_id, &fetch.node_id).await?;
    if !mine.as_ref().is_some_and(|s| holds_slot(s, &job, now)) {
        match ota_session::open(ctx, &job, &fetch.node_id, network.as_ref(), now).await? {
            Opened::New { .. } | Opened::Open => {}
            Opened::Wait(limit, why) => {
                tracing::info!(node_id = %fetch.node_id, job = %job.job_id, reason = %why, "rollout limit reached");
                return Ok(Outcome::Wait {
                    job_id: job.job_id,
                    why,
                    limit,
                });
            }
        }
    }
    offer(ctx, &job, &fetch.node_id).await?;
    Ok(Outcome::Offered {
        job_id: job.job_id,
        fw_version: job.fw_version,
    })
}

/// Publish the job's `otaurl` to the node.
async fn offer(ctx: &Ctx, job: &Job, node: &str) -> Result<(), Error> {
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
    let offer = json!({
        "ota_job_id": job.job_id,
        "url": url,
        "fw_version": job.fw_version,
        "file_size": job.file_size,
    });
    crate::publish::publish(&ctx.iot, node, "otaurl", &offer).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(payload: Value) -> Result<Fetch, String> {
        Fetch::parse(crate::event::node_message("n9", "otafetch", &payload, 1))
    }

    #[test]
    fn a_device_request_is_read() {
        let f = fetch(json!({"node_id": "n9", "fw_version": "1.0.0"})).unwrap();
        assert_eq!(
            (f.node_id.as_str(), f.fw_version.as_deref(), f.network_id),
            ("n9", Some("1.0.0"), None)
        );
        assert!(fetch(json!({"fw_version": 7})).is_err());
        // a Thread node's fetch names its network; a made-up one is refused
        let thread =
            fetch(json!({"node_id": "n9", "fw_version": "1.0.0", "network_id": "1819624384"}));
        assert_eq!(thread.unwrap().network_id.as_deref(), Some("1819624384"));
        for bad in [json!("net#1"), json!(""), json!(42)] {
            let why = fetch(json!({"fw_version": "1.0.0", "network_id": bad})).unwrap_err();
            assert!(why.contains("network_id"), "{why}");
        }
    }

    #[test]
    fn the_registry_binds_a_node_to_its_project_and_chip() {
        let reg = |p: Option<&str>, c: Option<&str>| Registered {
            project: p.map(str::to_string),
            chip: c.map(str::to_string),
            network: None,
        };
        assert_eq!(
            bind(
                Some(&reg(Some("light"), Some("esp32c3"))),
                "light",
                "ESP32-C3"
            ),
            Ok(("light".into(), "esp32c3".into()))
        );
        for (registered, project, chip) in [
            (
                Some(reg(Some("light"), Some("esp32c3"))),
                "switch",
                "esp32c3",
            ),
            (
                Some(reg(Some("switch"), Some("esp32c3"))),
                "light",
                "esp32c3",
            ),
            (
                Some(reg(Some("light"), Some("esp32c3"))),
                "light",
                "esp32s3",
            ),
            (Some(reg(Some("light"), None)), "light", "esp32c3"),
            (Some(reg(None, None)), "light", "esp32c3"),
            (None, "light", "esp32c3"),
        ] {
            assert!(
                bind(registered.as_ref(), project, chip).is_err(),
                "{registered:?} {project} {chip}"
            );
        }
    }

    #[test]
    fn the_network_is_the_registry_s_then_the_fetch_s_then_the_config_s() {
        let kept: ota_jobs::Item =
            [("network_id".to_string(), AttributeValue::S("kept".into()))].into();
        let asked = fetch(json!({"fw_version": "1", "network_id": "said"})).unwrap();
        let plain = fetch(json!({"fw_version": "1"})).unwrap();
        let pinned = Registered {
            network: Some("pinned".into()),
            ..Default::default()
        };
        let id = |f: &Fetch, r: Option<&Registered>, n: &ota_jobs::Item| {
            network_of(f, r, n).unwrap().map(|n| n.id)
        };
        assert_eq!(id(&asked, Some(&pinned), &kept).as_deref(), Some("pinned"));
        assert_eq!(id(&asked, None, &kept).as_deref(), Some("said"));
        assert_eq!(id(&plain, None, &kept).as_deref(), Some("kept"));
        assert_eq!(id(&plain, None, &ota_jobs::Item::new()), None);
        let bad = Registered {
            network: Some("a b".into()),
            ..Default::default()
        };
        assert!(network_of(&plain, Some(&bad), &kept).is_err());
    }
}
