//! User-node mapping. The phone app gives the device a user id and a random secret; the app asks
//! the API to add the mapping (`PUT user/nodes/mapping`), the device publishes the same user id
//! and secret on `node/<id>/user/mapping`. The mapping is confirmed when both sides agree within
//! [`WINDOW_MS`], whichever comes first. `"reset": true` from the device removes every mapping of
//! the node (a factory reset).
//!
//! Items of the mapping-requests table (`request_id` is the key; secrets are stored as SHA-256):
//! - `<id>`: the app's request: user, node, operation, status, time.
//! - `pair#<node>#<user>`: the app's latest request for that pair (id, secret, time).
//! - `node#<node>#<user>`: the device's latest report for that pair (secret, time).
//!
//! Every write is safe to repeat: a redelivered report or a retried request confirms the same
//! mapping once.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::Value;

use crate::event::{sha256_hex as digest, RuleEvent};
use crate::store::{condition_failed, dropped};

/// How far apart the app's request and the device's report may be.
pub const WINDOW_MS: i64 = 60_000;
/// How long request items stay readable (`GET user/nodes/mapping`).
pub const KEEP_SECONDS: i64 = 86_400;

/// The tables the mapping uses.
#[derive(Debug, Clone)]
pub struct Tables {
    pub requests: String,
    pub user_nodes: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The user id stock firmware sends to reset its mapping (`esp_rmaker_reset_user_node_mapping`,
/// with the secret `failed` and `"reset": true`): not a user.
pub const RESET_USER_ID: &str = "esp-rmaker";

/// What a device publishes on `user/mapping` (`{"node_id", "user_id", "secret_key", "reset"}`),
/// as the rule hands it over: the secret only as its SHA-256 (`secret_sha256`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    pub node_id: String,
    pub user_id: String,
    /// Lower-case hex SHA-256 of the device's `secret_key`.
    pub secret_sha256: String,
    pub reset: bool,
    pub received_at: i64,
}

impl NodeReport {
    pub fn parse(event: Value) -> Result<NodeReport, String> {
        let e = RuleEvent::parse_selected(event)?;
        let reset = e
            .payload
            .get("reset")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let user_id = e
            .payload
            .get("user_id")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty() && v.len() <= 256 && *v != RESET_USER_ID)
            .map(str::to_string);
        let secret = e
            .payload
            .get("secret_sha256")
            .and_then(Value::as_str)
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        if !reset && (user_id.is_none() || secret.is_none()) {
            return Err("user_id and secret_key are required (or \"reset\": true)".into());
        }
        Ok(NodeReport {
            node_id: e.node_id,
            user_id: user_id.unwrap_or_default(),
            secret_sha256: secret.unwrap_or_default(),
            reset,
            received_at: e.received_at,
        })
    }
}

async fn get(
    db: &Client,
    table: &str,
    id: &str,
) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, Error> {
    Ok(db
        .get_item()
        .table_name(table)
        .key("request_id", s(id))
        .consistent_read(true)
        .send()
        .await?
        .item)
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

/// Map the user to the node and mark the request confirmed (both idempotent).
pub(crate) async fn confirm(
    db: &Client,
    t: &Tables,
    request_id: &str,
    user: &str,
    node: &str,
    at: i64,
) -> Result<(), Error> {
    db.put_item()
        .table_name(&t.user_nodes)
        .item("user_id", s(user))
        .item("node_id", s(node))
        .item("mapped_at", n(at))
        .send()
        .await?;
    // The new user is the node's primary user: earlier owners lose it (secondary access is
    // granted only by sharing, never kept from an earlier mapping).
    let removed = unmap_node_except(db, t, node, Some(user)).await?;
    if removed > 0 {
        tracing::info!(node_id = %node, removed, "earlier users of the node unmapped");
    }
    let update = db
        .update_item()
        .table_name(&t.requests)
        .key("request_id", s(request_id))
        .update_expression("SET #s = :c, confirmed_at = :t")
        .condition_expression("#s = :r")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":c", s("confirmed"))
        .expression_attribute_values(":r", s("requested"))
        .expression_attribute_values(":t", n(at))
        .send()
        .await;
    match update {
        Ok(_) => Ok(()),
        Err(err) if condition_failed(&err) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Remove every mapping of a node (device reset), but `keep`'s.
async fn unmap_node_except(
    db: &Client,
    t: &Tables,
    node: &str,
    keep: Option<&str>,
) -> Result<usize, Error> {
    let users = db
        .query()
        .table_name(&t.user_nodes)
        .index_name("by_node")
        .key_condition_expression("node_id = :n")
        .expression_attribute_values(":n", s(node))
        .send()
        .await?;
    let mut removed = 0;
    for item in users.items() {
        let user = text(item, "user_id");
        if Some(user.as_str()) == keep {
            continue;
        }
        db.delete_item()
            .table_name(&t.user_nodes)
            .key("user_id", s(&user))
            .key("node_id", s(node))
            .send()
            .await?;
        removed += 1;
    }
    Ok(removed)
}

/// The device's side (`esp_user_node_mapping`).
pub async fn handle(db: &Client, t: &Tables, event: Value) -> Result<Value, Error> {
    let r = match NodeReport::parse(event) {
        Ok(r) => r,
        Err(why) => return Ok(dropped("user mapping report", &why)),
    };
    if r.reset {
        let removed = unmap_node_except(db, t, &r.node_id, None).await?;
        tracing::info!(node_id = %r.node_id, removed, "node reset: mappings removed");
        if r.user_id.is_empty() {
            return Ok(serde_json::json!({ "reset": true, "removed": removed }));
        }
    }
    if r.user_id.is_empty() || r.secret_sha256.is_empty() {
        return Ok(dropped(
            "user mapping report",
            "user_id and secret_key are required",
        ));
    }
    let secret = r.secret_sha256.clone();
    db.put_item()
        .table_name(&t.requests)
        .item(
            "request_id",
            s(&format!("node#{}#{}", r.node_id, r.user_id)),
        )
        .item("secret", s(&secret))
        .item("reported_at", n(r.received_at))
        .item("expires_at", n(r.received_at / 1000 + KEEP_SECONDS))
        .send()
        .await?;
    let Some(pair) = get(
        db,
        &t.requests,
        &format!("pair#{}#{}", r.node_id, r.user_id),
    )
    .await?
    else {
        return Ok(
            serde_json::json!({ "confirmed": false, "reason": "no request from the app yet" }),
        );
    };
    let requested_at = number(&pair, "requested_at");
    if text(&pair, "secret") != secret || (r.received_at - requested_at).abs() > WINDOW_MS {
        return Ok(
            serde_json::json!({ "confirmed": false, "reason": "no matching request within a minute" }),
        );
    }
    confirm(
        db,
        t,
        &text(&pair, "id"),
        &r.user_id,
        &r.node_id,
        r.received_at,
    )
    .await?;
    Ok(serde_json::json!({ "confirmed": true }))
}

/// What the app asks for (`PUT user/nodes/mapping`).
#[derive(Debug, Clone)]
pub struct AppRequest<'a> {
    /// The id the app polls with; made by the caller (random).
    pub request_id: &'a str,
    pub user: &'a str,
    pub node: &'a str,
    pub secret: &'a str,
    /// `add` (true) or `remove`.
    pub add: bool,
    pub now_ms: i64,
}

/// The app's side: record the request, and confirm it when the device has already reported.
pub async fn request(db: &Client, t: &Tables, req: &AppRequest<'_>) -> Result<String, Error> {
    let AppRequest {
        request_id,
        user,
        node,
        secret,
        add,
        now_ms,
    } = req.clone();
    let mut item = db
        .put_item()
        .table_name(&t.requests)
        .item("request_id", s(request_id))
        .item("user_id", s(user))
        .item("node_id", s(node))
        .item("operation", s(if add { "add" } else { "remove" }))
        .item("requested_at", n(now_ms))
        .item("expires_at", n(now_ms / 1000 + KEEP_SECONDS));
    if !add {
        db.delete_item()
            .table_name(&t.user_nodes)
            .key("user_id", s(user))
            .key("node_id", s(node))
            .send()
            .await?;
        item = item.item("status", s("confirmed"));
        item.send().await?;
        return Ok(request_id.to_string());
    }
    let secret = digest(secret);
    item.item("status", s("requested")).send().await?;
    db.put_item()
        .table_name(&t.requests)
        .item("request_id", s(&format!("pair#{node}#{user}")))
        .item("id", s(request_id))
        .item("secret", s(&secret))
        .item("requested_at", n(now_ms))
        .item("expires_at", n(now_ms / 1000 + KEEP_SECONDS))
        .send()
        .await?;
    if let Some(report) = get(db, &t.requests, &format!("node#{node}#{user}")).await? {
        if text(&report, "secret") == secret
            && (now_ms - number(&report, "reported_at")).abs() <= WINDOW_MS
        {
            confirm(db, t, request_id, user, node, now_ms).await?;
        }
    }
    Ok(request_id.to_string())
}

/// `requested`, `confirmed` or `timedout` (requested and older than the window), for the user
/// who made the request; `None` when there is no such request of theirs.
pub async fn status(
    db: &Client,
    t: &Tables,
    user: &str,
    request_id: &str,
    now_ms: i64,
) -> Result<Option<String>, Error> {
    let Some(item) = get(db, &t.requests, request_id).await? else {
        return Ok(None);
    };
    if text(&item, "user_id") != user {
        return Ok(None);
    }
    let status = text(&item, "status");
    Ok(Some(
        if status == "requested" && now_ms - number(&item, "requested_at") > WINDOW_MS {
            "timedout".into()
        } else {
            status
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(payload: Value) -> Result<NodeReport, String> {
        NodeReport::parse(crate::event::mapping_message("n1", &payload, 5))
    }

    #[test]
    fn device_reports_as_firmware_sends_them() {
        let r = report(json!({"node_id": "n1", "user_id": "u-1", "secret_key": "s3cr3t"})).unwrap();
        assert_eq!(
            (r.user_id.as_str(), r.secret_sha256.as_str(), r.reset),
            ("u-1", digest("s3cr3t").as_str(), false)
        );
        let reset = report(json!({"node_id": "n1", "user_id": RESET_USER_ID,
            "secret_key": "failed", "reset": true}))
        .unwrap();
        assert!(reset.reset && reset.user_id.is_empty());
        assert!(report(json!({"node_id": "n1", "user_id": "u-1"})).is_err());
    }

    #[test]
    fn a_report_for_another_node_is_refused() {
        let err = report(
            json!({"node_id": "victim", "user_id": "u-1", "secret_key": "s",
            "reset": true}),
        )
        .unwrap_err();
        assert!(err.contains("victim"), "{err}");
    }

    #[test]
    fn the_rule_never_hands_over_the_secret() {
        let event = crate::event::mapping_message(
            "n1",
            &json!({"node_id": "n1", "user_id": "u-1", "secret_key": "s3cr3t-plain"}),
            5,
        );
        assert!(!event.to_string().contains("s3cr3t-plain"), "{event}");
        // a whole payload (the old rule's `SELECT *`) is refused rather than read
        let mut whole = event.clone();
        whole["payload"] = json!("eyJ9");
        assert!(NodeReport::parse(whole).is_err());
    }

    #[test]
    fn secrets_are_stored_as_digests() {
        assert_eq!(digest("abc").len(), 64);
        assert_ne!(digest("abc"), "abc");
    }
}
