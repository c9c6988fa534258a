//! The `esp_node_alert` rule: a node's alert on `node/<id>/alert`, as firmware raises it with
//! `esp_rmaker_raise_alert()` (`{"esp.alert.str": "<text>"}`). The alert goes to the node's users:
//! to the push topic (SNS) when push notifications are on, and to the webhook queue (SQS, read
//! by `webhook-dispatch`) when webhooks are on.
//!
//! Each alert is recorded in the node's params table (`alert#<ms>`) before it is sent, and
//! marked delivered after: a repeated invocation finds it delivered and sends nothing again; one
//! that failed half-way sends again (at least once, never lost).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::store::{condition_failed, dropped, expires_after};

/// How long alerts are kept.
pub const KEEP_DAYS: i64 = 30;
/// Longest alert text kept (firmware limits it to a few hundred bytes).
pub const MAX_TEXT: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub node_id: String,
    pub received_at: i64,
    pub text: String,
}

impl Alert {
    pub fn parse(event: Value) -> Result<Alert, String> {
        let e = RuleEvent::parse(event)?;
        let text = match e.payload.get("esp.alert.str") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.chars().take(MAX_TEXT).collect(),
            Some(Value::String(_)) => return Err("the alert text is empty".into()),
            Some(other) => return Err(format!("esp.alert.str is not text: {other}")),
            None => return Err("esp.alert.str is missing".into()),
        };
        Ok(Alert {
            node_id: e.node_id,
            received_at: e.received_at,
            text,
        })
    }

    /// What push subscribers and webhooks receive.
    pub fn message(&self, users: &[String]) -> Value {
        json!({
            "event_type": "rmaker.event.node_alert",
            "node_id": self.node_id,
            "alert": self.text,
            "timestamp": self.received_at,
            "users": users,
        })
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
        .item("alert", AttributeValue::S(alert.text.clone()))
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
        let a = alert(json!({"esp.alert.str": "Temperature above 60 C"})).unwrap();
        assert_eq!(a.text, "Temperature above 60 C");
        let m = a.message(&["u1".into()]);
        assert_eq!(m["node_id"], "n1");
        assert_eq!(m["users"], json!(["u1"]));
    }

    #[test]
    fn malformed_alerts_are_refused() {
        for (bad, why) in [
            (json!({}), "missing"),
            (json!({"esp.alert.str": " "}), "empty"),
            (json!({"esp.alert.str": 5}), "not text"),
        ] {
            assert!(alert(bad).unwrap_err().contains(why));
        }
        let long = "x".repeat(5000);
        assert_eq!(
            alert(json!({ "esp.alert.str": long })).unwrap().text.len(),
            MAX_TEXT
        );
    }
}
