//! Rollout slots: at most `max_parallel` OTA sessions of a job at once in each network (see
//! [`crate::ota_network`]), and as many for the job's nodes without a network.
//!
//! A slot is an item of the `ota_jobs` table: `job_id`, `sk = "slot#<group>#<i>"` with `<group>`
//! `net#<network id>` or `job` and `i` in `0..max_parallel`, holding `node_id`, `started_at` and
//! `held_until` (ms: the session's start plus the job's timeout) and `expires_at` (TTL, 30 days
//! after `held_until`). A session takes a slot with a conditional write that succeeds only when
//! the slot is missing or its `held_until` has passed: two fetches racing for the last slot of a
//! network cannot both win, whichever function instances run them. The session names its slot
//! (`slot` on its `node#` item); `ota-status` frees the slot when the session ends (`success`,
//! `failed`, `rejected`: `held_until` 0), on condition that it is still that node's. A slot whose
//! session never ends is free again at `held_until`, whatever the node reported meanwhile.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;

use crate::ota_jobs::{number, text, Item, KEEP_DAYS};
use crate::store::condition_failed;

/// The key prefix of a group's slots.
pub fn prefix(group: &str) -> String {
    format!("slot#{group}#")
}

/// The key of slot `i` of a group.
pub fn key(group: &str, i: i64) -> String {
    format!("{}{i}", prefix(group))
}

/// The index of a slot item within its group (`None` for a key of another shape).
fn index(item: &Item) -> Option<i64> {
    text(item, "sk").rsplit_once('#')?.1.parse().ok()
}

/// Whether a slot item is held at `now_ms`.
pub fn held(item: &Item, now_ms: i64) -> bool {
    number(item, "held_until") > now_ms
}

/// The slots of a group that a new session may take at `now_ms`: none when `max_parallel` of them
/// are held (a lowered limit counts the slots held beyond it), else the free indices below it.
pub fn free(slots: &[Item], max_parallel: i64, now_ms: i64) -> Vec<i64> {
    let taken: Vec<i64> = slots
        .iter()
        .filter(|s| held(s, now_ms))
        .filter_map(index)
        .collect();
    if taken.len() as i64 >= max_parallel {
        return Vec::new();
    }
    (0..max_parallel).filter(|i| !taken.contains(i)).collect()
}

/// The slots of one group of a job, read consistently.
pub async fn read(db: &Client, table: &str, job_id: &str, group: &str) -> Result<Vec<Item>, Error> {
    crate::ota_jobs::items_under(db, table, job_id, &prefix(group), true).await
}

/// The item of slot `i` held by `node` from `now_ms` to `until_ms`.
pub fn item(job_id: &str, group: &str, i: i64, node: &str, now_ms: i64, until_ms: i64) -> Item {
    [
        ("job_id", AttributeValue::S(job_id.into())),
        ("sk", AttributeValue::S(key(group, i))),
        ("node_id", AttributeValue::S(node.into())),
        ("started_at", AttributeValue::N(now_ms.to_string())),
        ("held_until", AttributeValue::N(until_ms.to_string())),
        (
            "expires_at",
            AttributeValue::N(crate::store::expires_after(until_ms, KEEP_DAYS).to_string()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Take the slot `slot` (see [`item`]) when it is free at `now_ms`: `false` when another session
/// holds it.
pub async fn take(db: &Client, table: &str, slot: Item, now_ms: i64) -> Result<bool, Error> {
    let written = db
        .put_item()
        .table_name(table)
        .set_item(Some(slot))
        .condition_expression("attribute_not_exists(sk) OR held_until <= :now")
        .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
        .send()
        .await;
    match written {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Free the slot `slot_key` of a job when `node` still holds it (its `held_until` becomes 0,
/// `released_at` says when): `false` when it does not (the slot timed out and another session
/// took it). A put, not a delete: the functions that free slots write the table but delete
/// nothing from it.
pub async fn release(
    db: &Client,
    table: &str,
    job_id: &str,
    slot_key: &str,
    node: &str,
    at_ms: i64,
) -> Result<bool, Error> {
    let freed: Item = [
        ("job_id", AttributeValue::S(job_id.into())),
        ("sk", AttributeValue::S(slot_key.into())),
        ("node_id", AttributeValue::S(node.into())),
        ("held_until", AttributeValue::N("0".into())),
        ("released_at", AttributeValue::N(at_ms.to_string())),
        (
            "expires_at",
            AttributeValue::N(crate::store::expires_after(at_ms, KEEP_DAYS).to_string()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let written = db
        .put_item()
        .table_name(table)
        .set_item(Some(freed))
        .condition_expression("node_id = :n")
        .expression_attribute_values(":n", AttributeValue::S(node.into()))
        .send()
        .await;
    match written {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_slots_are_those_not_held_and_a_lowered_limit_counts_the_held_ones() {
        let now = 1_000_000;
        let slot = |i: i64, until: i64| item("j", "net#42", i, &format!("n{i}"), 0, until);
        // 0 held, 1 timed out, 2 missing
        let slots = [slot(0, now + 1), slot(1, now)];
        assert_eq!(free(&slots, 3, now), [1, 2]);
        assert_eq!(free(&slots, 1, now), Vec::<i64>::new());
        // two held beyond a limit lowered to 2: nothing free, though index 0 and 1 are
        let beyond = [slot(2, now + 5), slot(3, now + 5)];
        assert!(free(&beyond, 2, now).is_empty());
        assert_eq!(free(&beyond, 3, now), [0, 1]);
        assert_eq!(key("job", 4), "slot#job#4");
        assert_eq!(index(&slot(7, 0)), Some(7));
    }
}
