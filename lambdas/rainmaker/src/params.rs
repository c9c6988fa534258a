//! The `esp_set_params` and `esp_init_params` rules: a node's reported parameter values
//! (`{"<device>": {"<param>": value}}`). The latest values are kept per node, each report also
//! as a history item that expires. A duplicate delivery (QoS 1) changes nothing; a malformed
//! payload is logged and dropped, never retried.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::Value;

use crate::event::RuleEvent;
use crate::store::{condition_failed, expires_after};

/// How long history items are kept.
pub const HISTORY_DAYS: i64 = 30;

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
    pub fn parse(event: Value) -> Result<Report, String> {
        let e = RuleEvent::parse(event)?;
        let init = e.suffix() == "params/local/init" || e.topic.ends_with("/params/local/init");
        if e.payload.is_empty() {
            return Err("the report holds no devices".into());
        }
        for (device, params) in &e.payload {
            if !params.is_object() {
                return Err(format!("device `{device}` is not an object of params"));
            }
        }
        Ok(Report {
            node_id: e.node_id,
            received_at: e.received_at,
            init,
            params: Value::Object(e.payload),
        })
    }
}

pub async fn handle(db: &Client, table: &str, payload: Value) -> Result<Value, Error> {
    let report = match Report::parse(payload) {
        Ok(report) => report,
        Err(why) => {
            tracing::warn!(reason = %why, "dropping a malformed params report");
            return Ok(serde_json::json!({ "stored": false, "reason": why }));
        }
    };
    let node = AttributeValue::S(report.node_id.clone());
    let at = AttributeValue::N(report.received_at.to_string());
    let params = AttributeValue::S(report.params.to_string());

    // History first: a redelivered report has the same key and is refused by the condition.
    let history = db
        .put_item()
        .table_name(table)
        .item("node_id", node.clone())
        .item(
            "sk",
            AttributeValue::S(format!("hist#{:013}", report.received_at)),
        )
        .item("params", params.clone())
        .item("init", AttributeValue::Bool(report.init))
        .item(
            "expires_at",
            AttributeValue::N(expires_after(report.received_at, HISTORY_DAYS).to_string()),
        )
        .condition_expression("attribute_not_exists(sk)")
        .send()
        .await;
    if let Err(err) = history {
        if condition_failed(&err) {
            tracing::info!(node_id = %report.node_id, "duplicate delivery, nothing to do");
            return Ok(serde_json::json!({ "stored": false, "reason": "duplicate" }));
        }
        return Err(err.into());
    }

    // Latest state: only a newer report replaces it (reports can arrive out of order).
    let state = db
        .update_item()
        .table_name(table)
        .key("node_id", node)
        .key("sk", AttributeValue::S("state".into()))
        .update_expression("SET params = :p, reported_at = :t")
        .condition_expression("attribute_not_exists(reported_at) OR reported_at < :t")
        .expression_attribute_values(":p", params)
        .expression_attribute_values(":t", at)
        .send()
        .await;
    match state {
        Ok(_) => Ok(serde_json::json!({ "stored": true })),
        Err(err) if condition_failed(&err) => {
            Ok(serde_json::json!({ "stored": true, "reason": "older than the stored state" }))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{node_message, rule_output};
    use serde_json::json;

    #[test]
    fn a_device_report_as_the_rule_delivers_it() {
        // what ESP RainMaker firmware publishes on node/<id>/params/local
        let r = Report::parse(node_message(
            "9C9E6E2A1B2C",
            "params/local",
            &json!({"Light": {"Power": true, "Brightness": 75}, "Time": {"TZ": "Asia/Shanghai"}}),
            1_764_000_000_123,
        ))
        .unwrap();
        assert_eq!(r.node_id, "9C9E6E2A1B2C");
        assert_eq!(r.received_at, 1_764_000_000_123);
        assert!(!r.init);
        assert_eq!(
            r.params,
            json!({"Light": {"Power": true, "Brightness": 75}, "Time": {"TZ": "Asia/Shanghai"}})
        );
    }

    #[test]
    fn init_reports_are_marked() {
        let r = Report::parse(node_message(
            "n1",
            "params/local/init",
            &json!({"Switch": {"Power": false}}),
            1,
        ))
        .unwrap();
        assert!(r.init);
    }

    #[test]
    fn malformed_reports_are_refused_with_a_reason() {
        for (event, reason) in [
            (
                rule_output("n", "node/n/params/local", b"text", 1),
                "not a JSON object",
            ),
            (
                json!({"Light": {"Power": true}, "received_at": 1}),
                "node_id is missing",
            ),
            (
                node_message("n", "params/local", &json!({}), 1),
                "no devices",
            ),
            (
                node_message("n", "params/local", &json!({"Light": 5}), 1),
                "device `Light`",
            ),
            (
                node_message("n", "params/local", &json!({"node_id": "m", "L": {}}), 1),
                "names node_id",
            ),
        ] {
            let err = Report::parse(event).unwrap_err();
            assert!(err.contains(reason), "{err}");
        }
    }
}
