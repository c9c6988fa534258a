//! Handler of the `esp_set_params` and `esp_init_params` topic rules. The rule hands over the
//! node's payload (`{"<device>": {"<param>": value}}`) with `node_id` (from the topic),
//! `received_at` (ms) and `topic` added. The latest values are kept per node, each report also as
//! a history item that expires. A duplicate delivery (QoS 1) changes nothing; a malformed payload
//! is logged and dropped, never retried.

mod report;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use report::Report;

/// How long history items are kept.
const HISTORY_DAYS: i64 = 30;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // RUST_LOG holds one level (the profile's lambda.log_level); no filter syntax, no regex.
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .without_time()
        .init();
    let table = std::env::var("TABLE_NODE_PARAMS").map_err(|_| "TABLE_NODE_PARAMS is not set")?;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    let db = Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (db, table) = (db.clone(), table.clone());
        async move { handle(&db, &table, event.payload).await }
    }))
    .await
}

async fn handle(db: &Client, table: &str, payload: Value) -> Result<Value, Error> {
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
            AttributeValue::N((report.received_at / 1000 + HISTORY_DAYS * 86_400).to_string()),
        )
        .condition_expression("attribute_not_exists(sk)")
        .send()
        .await;
    if let Err(err) = history {
        if err
            .as_service_error()
            .is_some_and(|e| e.is_conditional_check_failed_exception())
        {
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
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(serde_json::json!({ "stored": true, "reason": "older than the stored state" }))
        }
        Err(err) => Err(err.into()),
    }
}
