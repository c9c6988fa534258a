//! The `esp_ts_ingest` and `esp_simple_ts_ingest` rules: time-series records a node publishes.
//! - `node/<id>/tsdata` (`esp_rmaker_param_report_time_series`): `{"ts_data_version":
//!   "2021-09-13", "ts_data": [{"name": "<device>.<param>", "type", "dt", "records": [{"t", "v"}]}]}`;
//!   kept [`RETENTION_DAYS`].
//! - `node/<id>/simple_tsdata` (`esp_rmaker_simple_ts_data_report_internal`): one value, `{"name",
//!   "type", "dt", "t", "v", "d"}`, where the optional `d` is the days to keep it (at most
//!   [`MAX_KEEP_DAYS`]; [`RETENTION_DAYS`] without it).
//!
//! Each record is one item keyed by parameter and time, so a repeated delivery writes the same
//! items again and changes nothing; items expire counted from when the message arrived (the
//! rule's time, never the device's: a node that sends a time far ahead cannot keep its records
//! forever).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{Map, Value};

use crate::event::RuleEvent;
use crate::store::{dropped, expires_after};

/// How long records are kept when the node does not say.
pub const RETENTION_DAYS: i64 = 90;
/// The longest a simple time-series record may ask to be kept (`d`).
pub const MAX_KEEP_DAYS: i64 = 3650;
/// Records accepted from one message.
pub const MAX_RECORDS: usize = 500;
/// How far before its arrival a record's device time may be (a node keeps records while it is
/// offline); an earlier time is taken as this far back.
pub const MAX_AGE_SECONDS: i64 = 30 * 86_400;
/// How far after its arrival a record's device time may be (clock drift); a later time is taken
/// as this far ahead.
pub const MAX_AHEAD_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `<device>.<param>`.
    pub name: String,
    pub data_type: Option<String>,
    /// Epoch seconds, the device's, within [`MAX_AGE_SECONDS`] before and [`MAX_AHEAD_SECONDS`]
    /// after the message's arrival.
    pub t: i64,
    pub value: Value,
    /// Days to keep it, from the message's arrival.
    pub keep_days: i64,
}

fn series_name(s: &Map<String, Value>) -> Result<&str, String> {
    s.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= 256)
        .ok_or_else(|| "a series has no name".to_string())
}

/// A simple time-series message: one record.
fn simple(p: &Map<String, Value>, clamp: impl Fn(i64) -> i64) -> Result<Record, String> {
    let name = series_name(p)?;
    let keep_days = match p.get("d") {
        None | Some(Value::Null) => RETENTION_DAYS,
        Some(d) => d
            .as_i64()
            .filter(|d| (1..=MAX_KEEP_DAYS).contains(d))
            .ok_or_else(|| format!("`d` is not a number of days from 1 to {MAX_KEEP_DAYS}: {d}"))?,
    };
    Ok(Record {
        name: name.to_string(),
        data_type: p.get("dt").and_then(Value::as_str).map(str::to_string),
        t: clamp(
            p.get("t")
                .and_then(Value::as_i64)
                .filter(|t| *t > 0)
                .ok_or_else(|| format!("the record of `{name}` has no time"))?,
        ),
        value: p
            .get("v")
            .cloned()
            .ok_or_else(|| format!("the record of `{name}` has no value"))?,
        keep_days,
    })
}

/// The node, the arrival time (ms, from the rule) and the records of a message.
pub fn parse(event: Value) -> Result<(String, i64, Vec<Record>), String> {
    let e = RuleEvent::parse(event)?;
    let arrived = e.received_at / 1000;
    let (earliest, latest) = (arrived - MAX_AGE_SECONDS, arrived + MAX_AHEAD_SECONDS);
    let clamp = |t: i64| t.clamp(earliest, latest);
    if e.suffix() == "simple_tsdata" {
        let record = simple(&e.payload, clamp)?;
        return Ok((e.node_id, e.received_at, vec![record]));
    }
    let series = e
        .payload
        .get("ts_data")
        .and_then(Value::as_array)
        .ok_or("the message has no `ts_data` list")?;
    let mut records = Vec::new();
    for s in series {
        let name = series_name(s.as_object().ok_or("a series is not an object")?)?;
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
                .map(clamp)
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
                keep_days: RETENTION_DAYS,
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
    Ok((e.node_id, e.received_at, records))
}

/// The sort key of a record: parameter, then zero-padded time, so a query by prefix reads one
/// parameter in time order.
pub fn sort_key(r: &Record) -> String {
    format!("{}#{:012}", r.name, r.t)
}

pub async fn handle(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    let (node_id, received_at, records) = match parse(event) {
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
                AttributeValue::N(expires_after(received_at, r.keep_days).to_string()),
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

    const ARRIVED_MS: i64 = 1_764_000_061_000;

    fn message(payload: &Value) -> Value {
        crate::event::node_message("9C9E6E2A1B2C", "tsdata", payload, ARRIVED_MS)
    }

    /// What ESP RainMaker firmware publishes on node/<id>/tsdata.
    fn payload() -> Value {
        json!({
            "ts_data_version": "2021-09-13",
            "ts_data": [
                {"name": "Temperature Sensor.Temperature", "dt": "f", "ow": false,
                 "records": [{"v": 23.5, "t": 1_764_000_000}, {"v": 23.7, "t": 1_764_000_060}]},
                {"name": "Switch.Power", "dt": "b", "ow": false, "records": [{"v": true, "t": 1_764_000_000}]}
            ]
        })
    }

    fn device_message() -> Value {
        message(&payload())
    }

    #[test]
    fn device_times_are_kept_near_the_arrival() {
        let mut p = payload();
        p["ts_data"][0]["records"] = json!([{"v": 1, "t": i64::MAX}, {"v": 2, "t": 1}]);
        let (_, arrived, records) = parse(message(&p)).unwrap();
        assert_eq!(arrived, ARRIVED_MS);
        assert_eq!(records[0].t, ARRIVED_MS / 1000 + MAX_AHEAD_SECONDS);
        assert_eq!(records[1].t, ARRIVED_MS / 1000 - MAX_AGE_SECONDS);
    }

    #[test]
    fn records_of_every_series_are_read_in_order() {
        let (node, _, records) = parse(device_message()).unwrap();
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
    fn a_simple_record_keeps_the_days_it_asks_for() {
        // esp_rmaker_simple_ts_data_report_internal (esp_rmaker_param.c)
        let simple = |p: Value| {
            parse(crate::event::node_message(
                "9C9E6E2A1B2C",
                "simple_tsdata",
                &p,
                ARRIVED_MS,
            ))
        };
        let (_, _, records) = simple(
            json!({"name": "Sensor.Temp", "type": "esp.param.temperature",
            "dt": "float", "t": 1_764_000_000, "v": 23.5, "d": 7}),
        )
        .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!((records[0].t, records[0].keep_days), (1_764_000_000, 7));
        assert_eq!(records[0].value, json!(23.5));
        let (_, _, default) =
            simple(json!({"name": "Sensor.Temp", "dt": "float", "t": 1, "v": 1})).unwrap();
        assert_eq!(default[0].keep_days, RETENTION_DAYS);
        assert_eq!(default[0].t, ARRIVED_MS / 1000 - MAX_AGE_SECONDS);
        for (bad, why) in [
            (json!({"name": "S.T", "t": 1, "v": 1, "d": 0}), "`d`"),
            (
                json!({"name": "S.T", "t": 1, "v": 1, "d": MAX_KEEP_DAYS + 1}),
                "`d`",
            ),
            (json!({"name": "S.T", "t": 1}), "no value"),
            (json!({"t": 1, "v": 1}), "no name"),
        ] {
            assert!(simple(bad).unwrap_err().contains(why));
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        let mut no_series = payload();
        no_series.as_object_mut().unwrap().remove("ts_data");
        assert!(parse(message(&no_series)).is_err());
        let mut no_time = payload();
        no_time["ts_data"][0]["records"][0] = json!({"v": 1});
        assert!(parse(message(&no_time)).is_err());
        let mut empty = payload();
        empty["ts_data"] = json!([]);
        assert!(parse(message(&empty)).is_err());
        let mut flood = payload();
        flood["ts_data"][0]["records"] = Value::Array(
            (0..=MAX_RECORDS as i64)
                .map(|t| json!({"v": 1, "t": t + 1}))
                .collect(),
        );
        assert!(parse(message(&flood)).unwrap_err().contains("at most"));
    }
}
