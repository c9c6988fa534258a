//! A params report as the topic rule delivers it.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub node_id: String,
    /// Milliseconds since the epoch, from the rule's `timestamp()`.
    pub received_at: i64,
    /// Sent on `params/local/init` (values after boot).
    pub init: bool,
    /// `{"<device>": {"<param>": value}}`.
    pub params: Value,
}

impl Report {
    pub fn parse(payload: Value) -> Result<Report, String> {
        let Value::Object(mut map) = payload else {
            return Err("the payload is not a JSON object".into());
        };
        let node_id = match map.remove("node_id") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => s,
            _ => {
                return Err("node_id is missing (is the rule's SQL `topic(2) AS node_id`?)".into())
            }
        };
        let received_at = map
            .remove("received_at")
            .and_then(|v| v.as_i64())
            .ok_or("received_at is missing")?;
        let init = map
            .remove("topic")
            .and_then(|t| t.as_str().map(|t| t.ends_with("/params/local/init")))
            .unwrap_or(false);
        if map.is_empty() {
            return Err("the report holds no devices".into());
        }
        for (device, params) in &map {
            if !params.is_object() {
                return Err(format!("device `{device}` is not an object of params"));
            }
        }
        Ok(Report {
            node_id,
            received_at,
            init,
            params: Value::Object(Map::from_iter(map)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_device_report_as_the_rule_delivers_it() {
        // what ESP RainMaker firmware publishes on node/<id>/params/local, plus the rule's fields
        let r = Report::parse(json!({
            "Light": {"Power": true, "Brightness": 75},
            "Time": {"TZ": "Asia/Shanghai"},
            "node_id": "9C9E6E2A1B2C",
            "received_at": 1_764_000_000_123_i64,
            "topic": "node/9C9E6E2A1B2C/params/local"
        }))
        .unwrap();
        assert_eq!(r.node_id, "9C9E6E2A1B2C");
        assert!(!r.init);
        assert_eq!(
            r.params,
            json!({"Light": {"Power": true, "Brightness": 75}, "Time": {"TZ": "Asia/Shanghai"}})
        );
    }

    #[test]
    fn init_reports_are_marked() {
        let r = Report::parse(json!({"Switch": {"Power": false}, "node_id": "n1", "received_at": 1, "topic": "node/n1/params/local/init"})).unwrap();
        assert!(r.init);
    }

    #[test]
    fn malformed_reports_are_refused_with_a_reason() {
        for (payload, reason) in [
            (json!("text"), "not a JSON object"),
            (
                json!({"Light": {"Power": true}, "received_at": 1}),
                "node_id is missing",
            ),
            (
                json!({"Light": {"Power": true}, "node_id": "n"}),
                "received_at is missing",
            ),
            (json!({"node_id": "n", "received_at": 1}), "no devices"),
            (
                json!({"Light": 5, "node_id": "n", "received_at": 1}),
                "device `Light`",
            ),
        ] {
            let err = Report::parse(payload).unwrap_err();
            assert!(err.contains(reason), "{err}");
        }
    }
}
