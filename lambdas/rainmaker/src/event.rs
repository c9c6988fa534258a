//! What a topic rule hands a function: the node's payload with `node_id` (from the topic),
//! `received_at` (ms) and `topic` added by the rule's SQL
//! (`SELECT *, topic(2) AS node_id, topic() AS topic, timestamp() AS received_at`). The same for a
//! direct publish and for basic ingest (`$aws/rules/<rule>/node/<id>/...`: `topic()` is the part
//! after the rule name).

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct RuleEvent {
    pub node_id: String,
    /// Milliseconds since the epoch, from the rule's `timestamp()`.
    pub received_at: i64,
    pub topic: String,
    /// The node's payload without the fields the rule added.
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

impl RuleEvent {
    /// Split a rule event; a payload that is not an object, or lacks the rule's fields, is an
    /// error (to be logged and dropped, never retried).
    pub fn parse(event: Value) -> Result<RuleEvent, String> {
        let Value::Object(mut map) = event else {
            return Err("the payload is not a JSON object".into());
        };
        let node_id = match map.remove("node_id") {
            Some(Value::String(s)) if valid_node_id(&s) => s,
            Some(other) => return Err(format!("node_id is not a valid node id: {other}")),
            None => {
                return Err("node_id is missing (is the rule's SQL `topic(2) AS node_id`?)".into())
            }
        };
        let received_at = map
            .remove("received_at")
            .and_then(|v| v.as_i64())
            .ok_or("received_at is missing (the rule's `timestamp() AS received_at`)")?;
        let topic = map
            .remove("topic")
            .and_then(|t| t.as_str().map(str::to_string))
            .unwrap_or_default();
        Ok(RuleEvent {
            node_id,
            received_at,
            topic,
            payload: map,
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
    use serde_json::json;

    #[test]
    fn rule_fields_are_split_from_the_payload() {
        let e = RuleEvent::parse(json!({
            "Light": {"Power": true},
            "node_id": "9C9E6E2A1B2C",
            "received_at": 1_764_000_000_123_i64,
            "topic": "node/9C9E6E2A1B2C/params/local/init"
        }))
        .unwrap();
        assert_eq!(e.node_id, "9C9E6E2A1B2C");
        assert_eq!(e.suffix(), "params/local/init");
        assert_eq!(Value::Object(e.payload), json!({"Light": {"Power": true}}));
    }

    #[test]
    fn basic_ingest_topics_have_the_same_suffix() {
        let e = RuleEvent::parse(
            json!({"node_id": "n1", "received_at": 1, "topic": "node/n1/otastatus"}),
        )
        .unwrap();
        assert_eq!(e.suffix(), "otastatus");
    }

    #[test]
    fn events_without_the_rule_fields_or_with_odd_ids_are_refused() {
        for bad in [
            json!([1, 2]),
            json!({"received_at": 1}),
            json!({"node_id": "", "received_at": 1}),
            json!({"node_id": "a/b", "received_at": 1}),
            json!({"node_id": 7, "received_at": 1}),
            json!({"node_id": "n1"}),
        ] {
            assert!(RuleEvent::parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
