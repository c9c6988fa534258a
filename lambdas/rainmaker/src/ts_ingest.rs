//! The `esp_ts_ingest` rule: time-series records a node publishes on `node/<id>/tsdata`
//! (`{"ts_data_version": ..., "ts_data": [{"name", "dt", "records": [{"v", "t"}]}]}`). Each record
//! is one item keyed by parameter and time, so a repeated delivery writes the same items again and
//! changes nothing; items expire after [`RETENTION_DAYS`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::Value;

use crate::event::RuleEvent;
use crate::store::dropped;

/// How long records are kept.
pub const RETENTION_DAYS: i64 = 90;
/// Records accepted from one message.
pub const MAX_RECORDS: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `<device>.<param>`.
    pub name: String,
    pub data_type: Option<String>,
    /// Epoch seconds.
    pub t: i64,
    pub value: Value,
}

pub fn parse(event: Value) -> Result<(String, Vec<Record>), String> {
    let e = RuleEvent::parse(event)?;
    let series = e
        .payload
        .get("ts_data")
        .and_then(Value::as_array)
        .ok_or("the message has no `ts_data` list")?;
    let mut records = Vec::new();
    for s in series {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 256)
            .ok_or("a series has no name")?;
        let data_type = s.get("dt").and_then(Value::as_str).map(str::to_string);
        for r in s
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("series `{name}` has no records"))?
        {
            let t = r
                .get("t")
                .and_then(Value::as_i64)
                .filter(|t| *t > 0)
                .ok_or_else(|| format!("a record of `{name}` has no time"))?;
            let value = r
                .get("v")
                .cloned()
                .ok_or_else(|| format!("a record of `{name}` has no value"))?;
            records.push(Record {
                name: name.to_string(),
                data_type: data_type.clone(),
                t,
                value,
            });
        }
    }
    if records.is_empty() {
        return Err("the message holds no records".into());
    }
    if records.len() > MAX_RECORDS {
        return Err(format!(
            "{} records in one message; at most {MAX_RECORDS}",
            records.len()
        ));
    }
    Ok((e.node_id, records))
}

/// The sort key of a record: parameter, then zero-padded time, so a query by prefix reads one
/// parameter in time order.
pub fn sort_key(r: &Record) -> String {
    format!("{}#{:012}", r.name, r.t)
}

pub async fn handle(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    let (node_id, records) = match parse(event) {
        Ok(x) => x,
        Err(why) => return Ok(dropped("time-series message", &why)),
    };
    let mut writes: Vec<WriteRequest> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &records {
        // A batch may not hold one key twice; the last record of a key wins.
        let key = sort_key(r);
        if !seen.insert(key.clone()) {
            writes.retain(|w| {
                w.put_request()
                    .and_then(|p| p.item().get("ts"))
                    .and_then(|v| v.as_s().ok())
                    != Some(&key)
            });
        }
        let mut item = HashMap::from([
            ("node_id".to_string(), AttributeValue::S(node_id.clone())),
            ("ts".to_string(), AttributeValue::S(key)),
            ("v".to_string(), AttributeValue::S(r.value.to_string())),
            (
                "expires_at".to_string(),
                AttributeValue::N((r.t + RETENTION_DAYS * 86_400).to_string()),
            ),
        ]);
        if let Some(dt) = &r.data_type {
            item.insert("dt".into(), AttributeValue::S(dt.clone()));
        }
        writes.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                .build(),
        );
    }
    let stored = writes.len();
    for chunk in writes.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk.to_vec();
        for attempt in 0..5 {
            let out = db
                .batch_write_item()
                .request_items(table, pending.clone())
                .send()
                .await?;
            pending = out
                .unprocessed_items()
                .and_then(|u| u.get(table))
                .cloned()
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
        }
        if !pending.is_empty() {
            // The whole message is retried by Lambda; the items already written are rewritten
            // unchanged.
            return Err(format!("{} records were not written after retries", pending.len()).into());
        }
    }
    Ok(serde_json::json!({ "stored": stored }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device_message() -> Value {
        json!({
            "ts_data_version": "2021-09-13",
            "ts_data": [
                {"name": "Temperature Sensor.Temperature", "dt": "f", "ow": false,
                 "records": [{"v": 23.5, "t": 1_764_000_000}, {"v": 23.7, "t": 1_764_000_060}]},
                {"name": "Switch.Power", "dt": "b", "ow": false, "records": [{"v": true, "t": 1_764_000_000}]}
            ],
            "node_id": "9C9E6E2A1B2C",
            "received_at": 1_764_000_061_000_i64,
            "topic": "node/9C9E6E2A1B2C/tsdata"
        })
    }

    #[test]
    fn records_of_every_series_are_read_in_order() {
        let (node, records) = parse(device_message()).unwrap();
        assert_eq!(node, "9C9E6E2A1B2C");
        assert_eq!(records.len(), 3);
        assert_eq!(
            sort_key(&records[0]),
            "Temperature Sensor.Temperature#001764000000"
        );
        assert_eq!(records[2].value, json!(true));
        assert_eq!(records[2].data_type.as_deref(), Some("b"));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let mut no_series = device_message();
        no_series.as_object_mut().unwrap().remove("ts_data");
        assert!(parse(no_series).is_err());
        let mut no_time = device_message();
        no_time["ts_data"][0]["records"][0] = json!({"v": 1});
        assert!(parse(no_time).is_err());
        let mut empty = device_message();
        empty["ts_data"] = json!([]);
        assert!(parse(empty).is_err());
        let mut flood = device_message();
        flood["ts_data"][0]["records"] = Value::Array(
            (0..=MAX_RECORDS as i64)
                .map(|t| json!({"v": 1, "t": t + 1}))
                .collect(),
        );
        assert!(parse(flood).unwrap_err().contains("at most"));
    }
}
