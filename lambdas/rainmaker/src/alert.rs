//! The `esp_node_alert` rule: what a node raises on `node/<id>/alert`. Stock firmware sends two
//! kinds (components/esp_rainmaker/src/core/esp_rmaker_param.c):
//! - a text alert, `esp_rmaker_raise_alert()`: `{"esp.alert.str": "<text>"}` (at most 100
//!   characters; the firmware writes the text unescaped, so a `"` in it makes the payload
//!   invalid JSON: such a payload is read as the text between the key and the closing `"}`);
//! - a param notification, `esp_rmaker_param_notify()` (and `esp_rmaker_param_update_and_notify`):
//!   the notified params, shaped as a params report `{"<device>": {"<param>": value}}`. The same
//!   values follow on `params/local`, where they are stored.
//!
//! Either goes to the node's users: to the push topic (SNS) when push notifications are on, and
//! to the webhook queue (SQS, read by `webhook-dispatch`) when webhooks are on.
//!
//! Each alert is recorded in the node's params table (`alert#<ms>`) before it is sent, and
//! marked delivered after: a repeated invocation finds it delivered and sends nothing again; one
//! that failed half-way sends again (at least once, never lost).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Map, Value};

use crate::event::RuleEvent;
use crate::store::{condition_failed, dropped, expires_after};

/// How long alerts are kept.
pub const KEEP_DAYS: i64 = 30;
/// Longest alert text kept (firmware sends at most 100 characters).
pub const MAX_TEXT: usize = 1024;
/// The key of a text alert (`ESP_RMAKER_ALERT_KEY`).
pub const TEXT_KEY: &str = "esp.alert.str";

/// What a node raised.
#[derive(Debug, Clone, PartialEq)]
pub enum Raised {
    Text(String),
    /// `{"<device>": {"<param>": value}}`.
    Params(Map<String, Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub node_id: String,
    pub received_at: i64,
    pub raised: Raised,
}

fn text_of(value: &Value) -> Result<String, String> {
    match value {
        Value::String(t) if !t.trim().is_empty() => Ok(t.chars().take(MAX_TEXT).collect()),
        Value::String(_) => Err("the alert text is empty".into()),
        other => Err(format!("{TEXT_KEY} is not text: {other}")),
    }
}

/// The text of a text alert the firmware wrote without escaping a `"` or `\` in it.
fn unescaped_text(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?.trim();
    let text = s
        .strip_prefix(&format!("{{\"{TEXT_KEY}\":\""))?
        .strip_suffix("\"}")?;
    Some(text.to_string())
}

impl Alert {
    pub fn parse(event: Value) -> Result<Alert, String> {
        let e = RuleEvent::parse_bytes(event)?;
        let payload = match e.json_object() {
            Ok(payload) => payload,
            Err(why) => {
                let text = unescaped_text(&e.bytes).ok_or(why)?;
                return Ok(Alert {
                    node_id: e.node_id,
                    received_at: e.received_at,
                    raised: Raised::Text(text_of(&Value::String(text))?),
                });
            }
        };
        let raised = if let Some(text) = payload.get(TEXT_KEY) {
            Raised::Text(text_of(text)?)
        } else {
            let mut params = payload;
            params.remove("node_id");
            if params.is_empty() {
                return Err(format!(
                    "the alert has neither {TEXT_KEY} nor notified params"
                ));
            }
            if let Some((device, _)) = params.iter().find(|(_, v)| !v.is_object()) {
                return Err(format!(
                    "`{device}` is neither {TEXT_KEY} nor a device's params"
                ));
            }
            Raised::Params(params)
        };
        Ok(Alert {
            node_id: e.node_id,
            received_at: e.received_at,
            raised,
        })
    }

    /// What is recorded of it.
    pub fn record(&self) -> String {
        match &self.raised {
            Raised::Text(t) => t.clone(),
            Raised::Params(p) => Value::Object(p.clone()).to_string(),
        }
    }

    /// What push subscribers and webhooks receive.
    pub fn message(&self, users: &[String]) -> Value {
        let mut m = json!({
            "node_id": self.node_id,
            "timestamp": self.received_at,
            "users": users,
        });
        match &self.raised {
            Raised::Text(t) => {
                m["event_type"] = json!("rmaker.event.node_alert");
                m["alert"] = json!(t);
            }
            Raised::Params(p) => {
                m["event_type"] = json!("rmaker.event.node_param_notification");
                m["params"] = Value::Object(p.clone());
            }
        }
        m
    }
}

pub struct Ctx {
    pub db: Client,
    pub params_table: String,
    pub user_nodes_table: String,
    pub sns: Option<(aws_sdk_sns::Client, String)>,
    pub sqs: Option<(aws_sdk_sqs::Client, String)>,
}

/// The users a node is mapped to (the `by_node` index).
pub async fn users_of(db: &Client, user_nodes: &str, node_id: &str) -> Result<Vec<String>, Error> {
    let mut users = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .query()
            .table_name(user_nodes)
            .index_name("by_node")
            .key_condition_expression("node_id = :n")
            .expression_attribute_values(":n", AttributeValue::S(node_id.into()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        users.extend(
            page.items()
                .iter()
                .filter_map(|i| i.get("user_id")?.as_s().ok().cloned()),
        );
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            users.sort();
            users.dedup();
            return Ok(users);
        }
    }
}

pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let alert = match Alert::parse(event) {
        Ok(a) => a,
        Err(why) => return Ok(dropped("alert", &why)),
    };
    let key = [
        ("node_id", AttributeValue::S(alert.node_id.clone())),
        (
            "sk",
            AttributeValue::S(format!("alert#{:013}", alert.received_at)),
        ),
    ];
    let record = ctx
        .db
        .put_item()
        .table_name(&ctx.params_table)
        .item(key[0].0, key[0].1.clone())
        .item(key[1].0, key[1].1.clone())
        .item("alert", AttributeValue::S(alert.record()))
        .item("delivered", AttributeValue::Bool(false))
        .item(
            "expires_at",
            AttributeValue::N(expires_after(alert.received_at, KEEP_DAYS).to_string()),
        )
        .condition_expression("attribute_not_exists(sk) OR delivered = :no")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .send()
        .await;
    match record {
        Ok(_) => {}
        Err(err) if condition_failed(&err) => {
            tracing::info!(node_id = %alert.node_id, "alert already delivered");
            return Ok(json!({ "delivered": false, "reason": "duplicate" }));
        }
        Err(err) => return Err(err.into()),
    }
    let users = users_of(&ctx.db, &ctx.user_nodes_table, &alert.node_id).await?;
    let message = alert.message(&users).to_string();
    let mut sent = Vec::new();
    if users.is_empty() {
        tracing::info!(node_id = %alert.node_id, "no user is mapped to the node; alert recorded only");
    } else {
        if let Some((sns, topic)) = &ctx.sns {
            sns.publish()
                .topic_arn(topic)
                .subject("Node alert")
                .message(&message)
                .message_attributes(
                    "node_id",
                    aws_sdk_sns::types::MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(&alert.node_id)
                        .build()?,
                )
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "publishing the alert to {topic}: {}",
                        aws_sdk_sns::error::DisplayErrorContext(e)
                    )
                })?;
            sent.push("push");
        }
        if let Some((sqs, queue)) = &ctx.sqs {
            sqs.send_message()
                .queue_url(queue)
                .message_body(&message)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "queueing the alert for webhooks: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?;
            sent.push("webhooks");
        }
    }
    let mut mark = ctx
        .db
        .update_item()
        .table_name(&ctx.params_table)
        .update_expression("SET delivered = :yes, #users = :n")
        .expression_attribute_names("#users", "users")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":n", AttributeValue::N(users.len().to_string()));
    for (k, v) in key {
        mark = mark.key(k, v);
    }
    mark.send().await?;
    Ok(json!({ "delivered": true, "users": users.len(), "to": sent }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(payload: Value) -> Result<Alert, String> {
        Alert::parse(crate::event::node_message("n1", "alert", &payload, 7))
    }

    #[test]
    fn an_alert_as_firmware_raises_it() {
        // esp_rmaker_raise_alert("Switch was turned off"), examples/switch/main/app_driver.c
        let a = alert(json!({"esp.alert.str": "Switch was turned off"})).unwrap();
        assert_eq!(a.raised, Raised::Text("Switch was turned off".into()));
        let m = a.message(&["u1".into()]);
        assert_eq!(m["node_id"], "n1");
        assert_eq!(m["alert"], "Switch was turned off");
        assert_eq!(m["users"], json!(["u1"]));
    }

    #[test]
    fn a_param_notification_is_an_alert_with_its_params() {
        // esp_rmaker_param_update_and_notify(power, true), examples/switch/main/app_driver.c
        let a = alert(json!({"Switch": {"Power": true}})).unwrap();
        let m = a.message(&[]);
        assert_eq!(m["event_type"], "rmaker.event.node_param_notification");
        assert_eq!(m["params"], json!({"Switch": {"Power": true}}));
        assert_eq!(a.record(), r#"{"Switch":{"Power":true}}"#);
    }

    #[test]
    fn an_unescaped_quote_in_the_text_is_read_as_text() {
        let raw = br#"{"esp.alert.str":"Door "front" open"}"#;
        let a = Alert::parse(crate::event::rule_output("n1", "node/n1/alert", raw, 7)).unwrap();
        assert_eq!(a.raised, Raised::Text(r#"Door "front" open"#.into()));
    }

    #[test]
    fn malformed_alerts_are_refused() {
        for (bad, why) in [
            (json!({}), "neither"),
            (json!({"node_id": "n1"}), "neither"),
            (json!({"Switch": 5}), "neither"),
            (json!({"esp.alert.str": " "}), "empty"),
            (json!({"esp.alert.str": 5}), "not text"),
        ] {
            let err = alert(bad).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let long = "x".repeat(5000);
        assert_eq!(
            alert(json!({ "esp.alert.str": long }))
                .unwrap()
                .record()
                .len(),
            MAX_TEXT
        );
    }
}
