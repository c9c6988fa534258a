//! The `esp_node_otafetch` rule: a node asks for an update on `node/<id>/otafetch`
//! (`{"node_id", "fw_version"}`). The cloud answers on `node/<id>/otaurl` with a presigned S3 GET
//! of the newest active job's firmware for the node's project and chip:
//! `{"ota_job_id", "url", "fw_version", "file_size"}`.
//!
//! The project and chip are the registry's, not the node's: the IoT thing named after the node
//! carries the attributes `project_name` and `chip`, set when the node is registered
//! (`DescribeThing`). The project and platform the node reported in its `config` must agree with
//! them; a node without the attributes, or whose report disagrees, is logged and refused.
//!
//! The rollout is throttled per job: at most `max_parallel` sessions at once and `max_per_minute`
//! new ones per minute (seed 004: too many parallel OTA sessions take a Thread mesh down). A node
//! over the limit gets no answer now and asks again on its next check. A session ends with the
//! node's `success`, `failed` or `rejected` status (`ota-status`) or when the job's timeout has
//! passed since it started, whatever the node said meanwhile.
//!
//! Jobs are looked up by key (the `ota_jobs` index, see [`crate::ota_jobs`]) and kept
//! [`JOB_CACHE_MS`] in the function, so a fetch reads the node, its registry entry and its own
//! session, and the job's other sessions only when a new session would start. Those are kept
//! [`SESSIONS_CACHE_MS`] per job: a node that asks again and again while it waits for a slot
//! costs one read of the job's sessions per function instance every few seconds, not one a
//! message (the limits may then let a few more sessions start than they name, as they may when
//! instances run at once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::ota_jobs::{self, chip_name, holds_slot, number, text, Job};
use crate::registry;
use crate::store::dropped;

/// How long an `otaurl` stays usable when the job sets no timeout.
pub const DEFAULT_URL_SECONDS: u64 = 3600;

/// How long the function keeps a job lookup (an abort or a new job reaches nodes this late).
pub const JOB_CACHE_MS: i64 = 30_000;

/// How long the function keeps a job's sessions for deciding whether a new one may start.
pub const SESSIONS_CACHE_MS: i64 = 5_000;

/// The thing attributes that bind a node to its firmware, set when the node is registered.
pub const PROJECT_ATTRIBUTE: &str = "project_name";
pub const CHIP_ATTRIBUTE: &str = "chip";

/// Milliseconds since the epoch; tests pass their own.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

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

/// Values kept for `ttl_ms` in the function instance, each with the time it was read.
pub struct Kept<K, V> {
    ttl_ms: i64,
    entries: Mutex<HashMap<K, (i64, V)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Kept<K, V> {
    pub fn new(ttl_ms: i64) -> Kept<K, V> {
        Kept {
            ttl_ms,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value kept for `key`, or `read`'s, kept from `now_ms` on.
    pub async fn get_or_read<F, Fut>(&self, key: K, now_ms: i64, read: F) -> Result<V, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, Error>>,
    {
        if let Some((at, v)) = self.entries.lock().expect("cache lock").get(&key) {
            if (0..self.ttl_ms).contains(&(now_ms - at)) {
                return Ok(v.clone());
            }
        }
        let v = read().await?;
        let mut entries = self.entries.lock().expect("cache lock");
        entries.retain(|_, (at, _)| now_ms - *at < self.ttl_ms);
        entries.insert(key, (now_ms, v.clone()));
        Ok(v)
    }

    /// Forget the value kept for `key`: the next read is fresh.
    pub fn forget(&self, key: &K) {
        self.entries.lock().expect("cache lock").remove(key);
    }

    /// Change the value kept for `key`, if one is kept.
    pub fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some((_, v)) = self.entries.lock().expect("cache lock").get_mut(key) {
            change(v);
        }
    }
}

/// Job lookups by (project, chip name), kept [`JOB_CACHE_MS`].
pub struct JobCache(Kept<(String, String), Option<Job>>);

impl Default for JobCache {
    fn default() -> JobCache {
        JobCache(Kept::new(JOB_CACHE_MS))
    }
}

impl JobCache {
    /// The newest active job for a project and chip.
    pub async fn newest(
        &self,
        db: &Client,
        table: &str,
        project: &str,
        chip: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, Error> {
        let key = (project.to_string(), chip_name(chip));
        self.0
            .get_or_read(key, now_ms, || ota_jobs::newest(db, table, project, chip))
            .await
    }

    /// Read a project and chip's newest job afresh next time (a job was just resumed).
    pub fn forget(&self, project: &str, chip: &str) {
        self.0.forget(&(project.to_string(), chip_name(chip)));
    }
}

/// A job's sessions, read at most once per [`SESSIONS_CACHE_MS`] by a function instance; the
/// sessions the instance opens are added as it opens them.
pub struct SessionCache(Kept<String, Vec<ota_jobs::Item>>);

impl Default for SessionCache {
    fn default() -> SessionCache {
        SessionCache(Kept::new(SESSIONS_CACHE_MS))
    }
}

impl SessionCache {
    pub async fn sessions(
        &self,
        db: &Client,
        table: &str,
        job_id: &str,
        now_ms: i64,
    ) -> Result<Vec<ota_jobs::Item>, Error> {
        self.0
            .get_or_read(job_id.to_string(), now_ms, || {
                ota_jobs::sessions(db, table, job_id)
            })
            .await
    }

    /// Read a job's sessions afresh next time (a slot was just freed).
    pub fn forget(&self, job_id: &str) {
        self.0.forget(&job_id.to_string());
    }

    /// A session this instance opened: counted until the job's sessions are read again.
    pub fn opened(&self, job_id: &str, session: ota_jobs::Item) {
        self.0
            .update(&job_id.to_string(), |items| items.push(session));
    }
}

/// What the registry says a node is: its thing's `project_name` and `chip` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub project: Option<String>,
    pub chip: Option<String>,
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
    pub clock: Clock,
}

impl Ctx {
    /// A context with an empty job cache and the real clock.
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
            clock: std::sync::Arc::new(crate::runtime::now_ms),
        }
    }
}

/// What a fetch comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The node has not sent its config yet.
    NoConfig,
    /// The registry does not bind the node to what it reports.
    Refused(String),
    NoJob(String),
    UpToDate {
        job_id: String,
    },
    /// Over a rollout limit: no answer now.
    Wait {
        job_id: String,
        why: String,
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
            Outcome::Wait { job_id, why } => {
                json!({ "answered": false, "reason": why, "ota_job_id": job_id })
            }
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

/// Answer a fetch: the registry binding, the newest job, the rollout limits, the session and the
/// `otaurl`.
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
            let r = registered.unwrap_or(Registered {
                project: None,
                chip: None,
            });
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
    if fetch.fw_version.as_deref() == Some(job.fw_version.as_str()) {
        return Ok(Outcome::UpToDate { job_id: job.job_id });
    }
    // The node's own session first: an open one gets its offer again without reading the others.
    let mine = ota_jobs::session(&ctx.db, &ctx.jobs_table, &job.job_id, &fetch.node_id).await?;
    let holding = mine.as_ref().is_some_and(|s| holds_slot(s, &job, now));
    let sessions = if holding {
        Vec::new()
    } else {
        ctx.sessions
            .sessions(&ctx.db, &ctx.jobs_table, &job.job_id, now)
            .await?
    };
    match decide(&job, fetch, mine.as_ref(), &sessions, now) {
        Decision::UpToDate => return Ok(Outcome::UpToDate { job_id: job.job_id }),
        Decision::Wait(why) => {
            tracing::info!(node_id = %fetch.node_id, job = %job.job_id, reason = %why, "rollout limit reached");
            return Ok(Outcome::Wait {
                job_id: job.job_id,
                why,
            });
        }
        Decision::Offer { new_session } => {
            if new_session {
                let expires = crate::store::expires_after(
                    now + ota_jobs::timeout_ms(&job),
                    ota_jobs::KEEP_DAYS,
                );
                let session: ota_jobs::Item = [
                    ("job_id", AttributeValue::S(job.job_id.clone())),
                    ("sk", AttributeValue::S(format!("node#{}", fetch.node_id))),
                    ("node_id", AttributeValue::S(fetch.node_id.clone())),
                    ("status", AttributeValue::S("offered".into())),
                    ("active", AttributeValue::Bool(true)),
                    ("started_at", AttributeValue::N(now.to_string())),
                    ("updated_at", AttributeValue::N(now.to_string())),
                    ("expires_at", AttributeValue::N(expires.to_string())),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                ctx.db
                    .put_item()
                    .table_name(&ctx.jobs_table)
                    .set_item(Some(session.clone()))
                    .send()
                    .await?;
                ctx.sessions.opened(&job.job_id, session);
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
    let offer = json!({
        "ota_job_id": job.job_id,
        "url": url,
        "fw_version": job.fw_version,
        "file_size": job.file_size,
    });
    crate::publish::publish(&ctx.iot, &fetch.node_id, "otaurl", &offer).await?;
    Ok(Outcome::Offered {
        job_id: job.job_id,
        fw_version: job.fw_version,
    })
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
        Fetch::parse(crate::event::node_message(
            "n9",
            "otafetch",
            &serde_json::json!({"node_id": "n9", "fw_version": version}),
            1,
        ))
        .unwrap()
    }

    #[test]
    fn a_device_request_is_read() {
        let f = fetch("1.0.0");
        assert_eq!(
            (f.node_id.as_str(), f.fw_version.as_deref()),
            ("n9", Some("1.0.0"))
        );
        assert!(Fetch::parse(crate::event::node_message(
            "n9",
            "otafetch",
            &serde_json::json!({"fw_version": 7}),
            1
        ))
        .is_err());
    }

    #[test]
    fn the_registry_binds_a_node_to_its_project_and_chip() {
        let reg = |p: Option<&str>, c: Option<&str>| Registered {
            project: p.map(str::to_string),
            chip: c.map(str::to_string),
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
