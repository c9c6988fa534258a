//! What `ota-fetch` keeps in its function instance between requests: job lookups
//! ([`JOB_CACHE_MS`]), a job's sessions and a network's slots ([`SESSIONS_CACHE_MS`]). A kept
//! view decides only that a node waits; a slot is taken by a conditional write
//! ([`crate::ota_slots`]), never on the strength of a kept view alone.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;

use crate::ota_jobs::{self, chip_name, Job};
use crate::ota_slots;

/// How long the function keeps a job lookup (an abort or a new job reaches nodes this late).
pub const JOB_CACHE_MS: i64 = 30_000;

/// How long the function keeps a job's sessions, and a network's slots, for deciding whether a
/// new session may start.
pub const SESSIONS_CACHE_MS: i64 = 5_000;

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

    /// Keep only the values whose key passes `keep`.
    pub fn retain(&self, keep: impl Fn(&K) -> bool) {
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|k, _| keep(k));
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

/// The slots of a (job, group), read at most once per [`SESSIONS_CACHE_MS`] by a function
/// instance; a slot the instance takes is put in the kept view as it takes it.
pub struct SlotCache(Kept<(String, String), Vec<ota_jobs::Item>>);

impl Default for SlotCache {
    fn default() -> SlotCache {
        SlotCache(Kept::new(SESSIONS_CACHE_MS))
    }
}

impl SlotCache {
    /// The slots of a job's group, kept or read.
    pub async fn slots(
        &self,
        db: &Client,
        table: &str,
        job_id: &str,
        group: &str,
        now_ms: i64,
    ) -> Result<Vec<ota_jobs::Item>, Error> {
        self.0
            .get_or_read((job_id.to_string(), group.to_string()), now_ms, || {
                ota_slots::read(db, table, job_id, group)
            })
            .await
    }

    /// Read a group's slots afresh next time (a write found the kept view stale).
    pub fn forget(&self, job_id: &str, group: &str) {
        self.0.forget(&(job_id.to_string(), group.to_string()));
    }

    /// Read every group of a job afresh (an offer round starts).
    pub fn forget_job(&self, job_id: &str) {
        self.0.retain(|(job, _)| job != job_id);
    }

    /// A slot this instance took: replaces the kept item of the same key.
    pub fn took(&self, job_id: &str, group: &str, slot: ota_jobs::Item) {
        let key = ota_jobs::text(&slot, "sk");
        self.0
            .update(&(job_id.to_string(), group.to_string()), |items| {
                items.retain(|i| ota_jobs::text(i, "sk") != key);
                items.push(slot);
            });
    }
}
