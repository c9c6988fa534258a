//! What a topic rule hands a function. The rule's SQL keeps what the node sent apart from what
//! AWS IoT vouches for:
//!
//! ```sql
//! SELECT encode(*, 'base64') AS payload, topic(2) AS node_id, topic() AS topic,
//!        timestamp() AS received_at FROM 'node/+/<suffix>'
//! ```
//!
//! The node's bytes arrive base64-encoded under `payload`, so nothing a node writes can set or
//! shadow `node_id`, `topic` or `received_at` (with `SELECT *, topic(2) AS node_id` the payload's
//! own `node_id` and the rule's share one object, and which one wins is not documented). The node
//! policy lets a node publish only under its own thing name, so `node_id` (from the topic) is who
//! sent the message. A JSON payload that names a different `node_id` is refused: it is a node
//! speaking for another. The same holds for basic ingest (`$aws/rules/<rule>/node/<id>/...`:
//! `topic()` is the part after the rule name) and for presence events, which AWS IoT writes.

use base64::Engine;
use serde_json::{json, Map, Value};

/// The largest payload AWS IoT Core accepts (128 KB); anything longer did not come from a rule.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct RuleEvent {
    /// The node that published, from the topic (never from the payload).
    pub node_id: String,
    /// Milliseconds since the epoch, from the rule's `timestamp()` (never from the payload).
    pub received_at: i64,
    pub topic: String,
    /// The node's payload as it was published.
    pub bytes: Vec<u8>,
    /// The payload as a JSON object (empty for [`RuleEvent::parse_bytes`]).
    pub payload: Map<String, Value>,
}

/// Node ids are printable and short (RainMaker uses 12 hex digits or a UUID-like id).
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':')
}

/// What a rule with the SQL above hands its function for `bytes` published on `topic` by
/// `node_id`: the one shape every handler reads, used by the tests and by local runs.
pub fn rule_output(node_id: &str, topic: &str, bytes: &[u8], received_at: i64) -> Value {
    json!({
        "payload": base64::engine::general_purpose::STANDARD.encode(bytes),
        "node_id": node_id,
        "topic": topic,
        "received_at": received_at,
    })
}

/// [`rule_output`] for a JSON payload published on `node/<node_id>/<suffix>`.
pub fn node_message(node_id: &str, suffix: &str, payload: &Value, received_at: i64) -> Value {
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    rule_output(
        node_id,
        &format!("node/{node_id}/{suffix}"),
        &bytes,
        received_at,
    )
}

/// Lower-case hex SHA-256 of a text, as IoT SQL's `sha256()` gives it: how the mapping rule hands
/// over a secret, and so how the app's side must digest its own to compare.
pub fn sha256_hex(text: &str) -> String {
    sha256_hex_bytes(text.as_bytes())
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the `user/mapping` rule hands its function for a JSON payload: the named fields it
/// selects, the secret replaced by its SHA-256 (lower-case hex, as IoT SQL's `sha256()` gives it),
/// and the fields AWS IoT vouches for. A field the payload lacks is left out, as IoT SQL does.
pub fn mapping_message(node_id: &str, payload: &Value, received_at: i64) -> Value {
    let mut out = Map::new();
    let field = |k: &str| payload.get(k).filter(|v| !v.is_null()).cloned();
    if let Some(v) = field("node_id") {
        out.insert("claimed_node_id".into(), v);
    }
    if let Some(v) = field("user_id") {
        out.insert("user_id".into(), v);
    }
    if let Some(Value::String(secret)) = field("secret_key") {
        out.insert("secret_sha256".into(), Value::String(sha256_hex(&secret)));
    }
    if let Some(v) = field("reset") {
        out.insert("reset".into(), v);
    }
    out.insert("node_id".into(), json!(node_id));
    out.insert(
        "topic".into(),
        json!(format!("node/{node_id}/user/mapping")),
    );
    out.insert("received_at".into(), json!(received_at));
    Value::Object(out)
}

/// A payload may name its node (stock firmware does), but only the one whose topic it came on.
fn same_node(claimed: Option<&Value>, node_id: &str) -> Result<(), String> {
    match claimed {
        None => Ok(()),
        Some(Value::String(c)) if c == node_id => Ok(()),
        Some(c) => Err(format!(
            "the payload names node_id {c} but was published on node {node_id}'s topic"
        )),
    }
}

impl RuleEvent {
    /// A rule event whose SQL selects named fields (`user/mapping`): they are the payload, and
    /// `claimed_node_id` (the payload's own `node_id`) must be the topic's node.
    pub fn parse_selected(event: Value) -> Result<RuleEvent, String> {
        let Value::Object(mut map) = event else {
            return Err("the rule event is not a JSON object".into());
        };
        let mut trusted = Map::new();
        for k in ["node_id", "topic", "received_at"] {
            if let Some(v) = map.remove(k) {
                trusted.insert(k.into(), v);
            }
        }
        if map.contains_key("payload") {
            return Err("the rule selects named fields, not the whole payload".into());
        }
        trusted.insert("payload".into(), json!(""));
        let mut e = RuleEvent::parse_bytes(Value::Object(trusted))?;
        same_node(map.remove("claimed_node_id").as_ref(), &e.node_id)?;
        e.payload = map;
        Ok(e)
    }

    /// A rule event whose payload must be a JSON object (every rule but `from-node`). An event
    /// without the rule's fields, a payload that is not an object, or one that names another
    /// node is an error (to be logged and dropped, never retried).
    pub fn parse(event: Value) -> Result<RuleEvent, String> {
        let mut e = RuleEvent::parse_bytes(event)?;
        e.payload = e.json_object()?;
        Ok(e)
    }

    /// The bytes as a JSON object that names no other node than the topic's.
    pub fn json_object(&self) -> Result<Map<String, Value>, String> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&self.bytes) else {
            return Err("the payload is not a JSON object".into());
        };
        same_node(map.get("node_id"), &self.node_id)?;
        Ok(map)
    }

    /// A rule event whose payload is bytes (`from-node`: TLV8 command responses).
    pub fn parse_bytes(event: Value) -> Result<RuleEvent, String> {
        let Value::Object(map) = event else {
            return Err("the rule event is not a JSON object".into());
        };
        let node_id = match map.get("node_id") {
            Some(Value::String(s)) if valid_node_id(s) => s.clone(),
            Some(other) => return Err(format!("node_id is not a valid node id: {other}")),
            None => {
                return Err("node_id is missing (is the rule's SQL `topic(2) AS node_id`?)".into())
            }
        };
        let received_at = map
            .get("received_at")
            .and_then(Value::as_i64)
            .filter(|t| *t > 0)
            .ok_or("received_at is missing (the rule's `timestamp() AS received_at`)")?;
        let topic = map
            .get("topic")
            .and_then(Value::as_str)
            .ok_or("topic is missing (the rule's `topic() AS topic`)")?
            .to_string();
        let encoded = map
            .get("payload")
            .and_then(Value::as_str)
            .ok_or("payload is missing (the rule's `encode(*, 'base64') AS payload`)")?;
        if encoded.len() > MAX_PAYLOAD_BYTES.div_ceil(3) * 4 {
            return Err(format!(
                "the payload is over AWS IoT's {MAX_PAYLOAD_BYTES} bytes"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|err| format!("payload is not base64: {err}"))?;
        Ok(RuleEvent {
            node_id,
            received_at,
            topic,
            bytes,
            payload: Map::new(),
        })
    }

    /// The topic's suffix after `node/<id>/`.
    pub fn suffix(&self) -> &str {
        let prefix = format!("node/{}/", self.node_id);
        self.topic
            .find(&prefix)
            .map(|i| &self.topic[i + prefix.len()..])
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_fields_are_kept_apart_from_the_payload() {
        let payload = json!({"Light": {"Power": true}, "received_at": 1, "topic": "x"});
        let e = RuleEvent::parse(node_message(
            "9C9E6E2A1B2C",
            "params/local/init",
            &payload,
            1_764_000_000_123,
        ))
        .unwrap();
        assert_eq!(e.node_id, "9C9E6E2A1B2C");
        assert_eq!(e.received_at, 1_764_000_000_123);
        assert_eq!(e.suffix(), "params/local/init");
        assert_eq!(Value::Object(e.payload), payload);
    }

    #[test]
    fn a_payload_naming_another_node_is_refused() {
        let forged = json!({"node_id": "victim", "user_id": "u", "secret_key": "s"});
        let err =
            RuleEvent::parse(node_message("attacker", "user/mapping", &forged, 5)).unwrap_err();
        assert!(err.contains("victim") && err.contains("attacker"), "{err}");
        let not_text = json!({"node_id": 7});
        assert!(RuleEvent::parse(node_message("n1", "config", &not_text, 5)).is_err());
        let own = json!({"node_id": "n1", "fw_version": "1.0"});
        let e = RuleEvent::parse(node_message("n1", "otafetch", &own, 5)).unwrap();
        assert_eq!(e.payload["node_id"], "n1");
    }

    #[test]
    fn basic_ingest_topics_have_the_same_suffix() {
        let e = RuleEvent::parse(rule_output("n1", "node/n1/otastatus", b"{}", 1)).unwrap();
        assert_eq!(e.suffix(), "otastatus");
    }

    #[test]
    fn bytes_are_kept_as_sent() {
        let e = RuleEvent::parse_bytes(rule_output("n1", "node/n1/from-node", &[0, 255, 7], 1))
            .unwrap();
        assert_eq!(e.bytes, [0, 255, 7]);
        assert!(RuleEvent::parse(rule_output("n1", "node/n1/config", &[0, 255], 1)).is_err());
    }

    #[test]
    fn events_without_the_rule_fields_or_with_odd_ids_are_refused() {
        let ok = rule_output("n1", "node/n1/config", b"{}", 1);
        let without = |k: &str| {
            let mut e = ok.clone();
            e.as_object_mut().unwrap().remove(k);
            e
        };
        let with = |k: &str, v: Value| {
            let mut e = ok.clone();
            e[k] = v;
            e
        };
        for bad in [
            json!([1, 2]),
            without("node_id"),
            without("received_at"),
            without("topic"),
            without("payload"),
            with("node_id", json!("")),
            with("node_id", json!("a/b")),
            with("node_id", json!(7)),
            with("received_at", json!(-1)),
            with("payload", json!("%%%")),
            with("payload", json!("A".repeat(MAX_PAYLOAD_BYTES * 2))),
            // the old, flat shape: a payload mixed with the rule's fields
            json!({"node_id": "n1", "received_at": 1, "topic": "node/n1/config", "devices": []}),
        ] {
            assert!(RuleEvent::parse(bad.clone()).is_err(), "{bad}");
        }
        assert!(RuleEvent::parse(ok).is_ok());
    }
}
