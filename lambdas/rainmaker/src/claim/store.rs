//! The `claims` table (hash key `pk`, TTL `expires_at`): who claimed which chip, the claim a user
//! has under way, and the per-user rate of claims.
//!
//! - `mac#<MAC>`: `node_id`, `owner` (the user whose claim was verified), `platform`,
//!   `certificate_id` (the active one), `claimed_at`, and `reclaim_by` (a user id, or `*` for any
//!   user) when an admin allows another user to claim the chip again. Never expires.
//! - `pending#<user>`: the user's last `claim/initiate` (`mac`, `node_id`, `platform`,
//!   `project`), which `claim/verify` completes; expires after [`PENDING_SECONDS`].
//! - `rate#<user>#<hour>`: the claims a user initiated in that hour (`count`); expires an hour
//!   after it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;

use crate::store::condition_failed;

/// How long a `claim/initiate` waits for its `claim/verify`.
pub const PENDING_SECONDS: i64 = 600;

type Item = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A conditional write's outcome: `Some` of what it answered, `None` when its condition did not
/// hold.
fn held<T, E>(
    out: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<Option<T>, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match out {
        Ok(o) => Ok(Some(o)),
        Err(e) if condition_failed(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn text(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// A claim under way.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub mac: String,
    pub node_id: String,
    pub platform: String,
    pub project: Option<String>,
}

/// Count one claim of `user` in the hour of `now_s`; false when the user has had `limit`.
pub async fn take_rate(
    db: &Client,
    table: &str,
    user: &str,
    now_s: i64,
    limit: u32,
) -> Result<bool, Error> {
    let hour = now_s / 3600;
    let out = db
        .update_item()
        .table_name(table)
        .key("pk", s(&format!("rate#{user}#{hour}")))
        .update_expression("ADD #c :one SET expires_at = :exp")
        .condition_expression("attribute_not_exists(#c) OR #c < :limit")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
        .expression_attribute_values(":exp", AttributeValue::N(((hour + 2) * 3600).to_string()))
        .send()
        .await;
    Ok(held(out)?.is_some())
}

/// The record of a chip, if it was ever claimed.
pub async fn chip(db: &Client, table: &str, mac: &str) -> Result<Option<Item>, Error> {
    let out = db
        .get_item()
        .table_name(table)
        .key("pk", s(&format!("mac#{mac}")))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out.item)
}

/// Whether `user` may claim a chip with this record: nobody owns it, the user does, or an admin
/// allowed the user (or anyone) to claim it again.
pub fn may_claim(record: Option<&Item>, user: &str) -> bool {
    let Some(record) = record else { return true };
    match text(record, "owner") {
        None => true,
        Some(owner) if owner == user => true,
        Some(_) => {
            matches!(text(record, "reclaim_by").as_deref(), Some(u) if u == user || u == "*")
        }
    }
}

pub async fn put_pending(
    db: &Client,
    table: &str,
    user: &str,
    p: &Pending,
    now_s: i64,
) -> Result<(), Error> {
    let mut put = db
        .put_item()
        .table_name(table)
        .item("pk", s(&format!("pending#{user}")))
        .item("mac", s(&p.mac))
        .item("node_id", s(&p.node_id))
        .item("platform", s(&p.platform))
        .item(
            "expires_at",
            AttributeValue::N((now_s + PENDING_SECONDS).to_string()),
        );
    if let Some(project) = &p.project {
        put = put.item("project", s(project));
    }
    put.send().await?;
    Ok(())
}

/// The user's claim under way, unless it expired (TTL deletion lags: the time is checked here).
pub async fn pending(
    db: &Client,
    table: &str,
    user: &str,
    now_s: i64,
) -> Result<Option<Pending>, Error> {
    let out = db
        .get_item()
        .table_name(table)
        .key("pk", s(&format!("pending#{user}")))
        .consistent_read(true)
        .send()
        .await?;
    let Some(item) = out.item else {
        return Ok(None);
    };
    let expires = item
        .get("expires_at")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    if expires <= now_s {
        return Ok(None);
    }
    Ok(Some(Pending {
        mac: text(&item, "mac").unwrap_or_default(),
        node_id: text(&item, "node_id").unwrap_or_default(),
        platform: text(&item, "platform").unwrap_or_default(),
        project: text(&item, "project"),
    }))
}

pub async fn clear_pending(db: &Client, table: &str, user: &str) -> Result<(), Error> {
    db.delete_item()
        .table_name(table)
        .key("pk", s(&format!("pending#{user}")))
        .send()
        .await?;
    Ok(())
}

/// Make `user` the chip's owner with its new certificate, if the user still may claim it (the
/// check and the write are one conditional write: two users verifying at once cannot both
/// win). The previous record (empty when there was none), or `None` when the chip is another
/// user's.
pub async fn take_chip(
    db: &Client,
    table: &str,
    user: &str,
    p: &Pending,
    certificate_id: &str,
    now_s: i64,
) -> Result<Option<Item>, Error> {
    let out = db
        .update_item()
        .table_name(table)
        .key("pk", s(&format!("mac#{}", p.mac)))
        .update_expression(
            "SET #o = :u, node_id = :n, platform = :p, certificate_id = :c, claimed_at = :t REMOVE reclaim_by",
        )
        .condition_expression(
            "attribute_not_exists(#o) OR #o = :u OR reclaim_by = :u OR reclaim_by = :any",
        )
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(":u", s(user))
        .expression_attribute_values(":n", s(&p.node_id))
        .expression_attribute_values(":p", s(&p.platform))
        .expression_attribute_values(":c", s(certificate_id))
        .expression_attribute_values(":t", AttributeValue::N(now_s.to_string()))
        .expression_attribute_values(":any", s("*"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await;
    Ok(held(out)?.map(|o| o.attributes.unwrap_or_default()))
}

/// An admin's word on a chip: `reclaim_by` another user (or `*`), so that its next claim by them
/// replaces the owner. False when the chip was never claimed.
pub async fn allow_reclaim(db: &Client, table: &str, mac: &str, by: &str) -> Result<bool, Error> {
    let out = db
        .update_item()
        .table_name(table)
        .key("pk", s(&format!("mac#{mac}")))
        .update_expression("SET reclaim_by = :b")
        .condition_expression("attribute_exists(#o)")
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(":b", s(by))
        .send()
        .await;
    Ok(held(out)?.is_some())
}
