//! The `esp_set_params`, `esp_init_params` and `esp_group_params` rules: a node's reported
//! parameter values (`{"<device>": {"<param>": value}}`).
//!
//! Stock firmware reports only the params that changed (`esp_rmaker_report_node_params`), and
//! its MQTT last will is a one-param report (`{"<device>": {"Connected": false}}`), so each report
//! is merged into the node's state per device and param, each param with the time it was reported.
//! A report on `params/local/init` (sent after boot, all values) replaces the state: params it does
//! not name are gone, except those reported later than it (they arrived first). A change report
//! older than the node's last init is from before that boot and is ignored.
//!
//! Every report is also kept as a history item (`hist#<ms>#<digest>`) that expires. Two different
//! reports in the same millisecond are two items; a repeated delivery (QoS 1, a Lambda retry) is
//! the same item, and merging it again changes nothing. A malformed payload is logged and dropped,
//! never retried.
//!
//! The state item is read, merged and written back under its `version` (optimistic locking), so
//! reports handled at once by two function instances both count.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{Map, Value};

use crate::event::RuleEvent;
use crate::store::{condition_failed, expires_after};

/// How long history items are kept.
pub const HISTORY_DAYS: i64 = 30;

/// How many times a merge is tried when another instance writes the state in between.
pub const MERGE_TRIES: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub node_id: String,
    /// Milliseconds since the epoch, from the rule's `timestamp()`.
    pub received_at: i64,
    /// Sent on `params/local/init` (values after boot).
    pub init: bool,
    /// The group of a group report (`params/local/<group_id>`).
    pub group: Option<String>,
    /// `{"<device>": {"<param>": value}}`.
    pub params: Map<String, Value>,
    /// The first 16 hex digits of the payload's SHA-256: tells apart reports of one millisecond.
    pub digest: String,
}

impl Report {
    pub fn parse(event: Value) -> Result<Report, String> {
        let e = RuleEvent::parse(event)?;
        let suffix = e.suffix().to_string();
        let (init, group) = match suffix.strip_prefix("params/local") {
            Some("") => (false, None),
            Some("/init") => (true, None),
            Some(rest) => match rest.strip_prefix('/') {
                Some(g) if crate::event::valid_node_id(g) && !g.contains('/') => {
                    (false, Some(g.to_string()))
                }
                _ => return Err(format!("`{}` is not a params topic", e.topic)),
            },
            None => return Err(format!("`{}` is not a params topic", e.topic)),
        };
        let mut params = e.payload;
        // stock firmware may name its node; the rule has already checked it is this one
        params.remove("node_id");
        if params.is_empty() {
            return Err("the report holds no devices".into());
        }
        for (device, values) in &params {
            if !values.is_object() {
                return Err(format!("device `{device}` is not an object of params"));
            }
        }
        let digest = crate::event::sha256_hex_bytes(&e.bytes)[..16].to_string();
        Ok(Report {
            node_id: e.node_id,
            received_at: e.received_at,
            init,
            group,
            params,
            digest,
        })
    }

    /// The key of the report's history item.
    pub fn history_key(&self) -> String {
        format!("hist#{:013}#{}", self.received_at, self.digest)
    }
}

/// A node's stored params: the values, when each was reported, and the node's last init.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub params: Map<String, Value>,
    /// `{"<device>": {"<param>": ms}}`.
    pub times: Map<String, Value>,
    pub init_at: i64,
    pub reported_at: i64,
}

fn time_of(times: &Map<String, Value>, device: &str, param: &str) -> Option<i64> {
    times.get(device)?.get(param)?.as_i64()
}

fn set(map: &mut Map<String, Value>, device: &str, param: &str, value: Value) {
    if let Value::Object(values) = map
        .entry(device.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
    {
        values.insert(param.to_string(), value);
    }
}

/// Merge a report into the stored state (see the module's comment). Within one millisecond the
/// report handled last wins.
pub fn merge(stored: &State, report: &Report) -> State {
    let t = report.received_at;
    if t < stored.init_at {
        return stored.clone();
    }
    let mut next = if report.init {
        // init replaces; what was reported after it (and arrived first) stays
        let mut kept = State {
            init_at: t,
            reported_at: stored.reported_at.max(t),
            ..State::default()
        };
        for (device, values) in &stored.params {
            for (param, value) in values.as_object().into_iter().flatten() {
                if let Some(at) = time_of(&stored.times, device, param).filter(|at| *at > t) {
                    set(&mut kept.params, device, param, value.clone());
                    set(&mut kept.times, device, param, Value::from(at));
                }
            }
        }
        kept
    } else {
        let mut s = stored.clone();
        s.reported_at = s.reported_at.max(t);
        s
    };
    for (device, values) in &report.params {
        for (param, value) in values.as_object().into_iter().flatten() {
            if time_of(&next.times, device, param).is_some_and(|at| at > t) {
                continue;
            }
            set(&mut next.params, device, param, value.clone());
            set(&mut next.times, device, param, Value::from(t));
        }
    }
    next
}

fn json_map(
    item: &std::collections::HashMap<String, AttributeValue>,
    k: &str,
) -> Map<String, Value> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Read the node's state, merge the report in and write it back under the version read; again
/// when another instance wrote in between. `true` when the state changed.
async fn merge_stored(db: &Client, table: &str, report: &Report) -> Result<bool, Error> {
    let node = AttributeValue::S(report.node_id.clone());
    let state_key = AttributeValue::S("state".into());
    for _ in 0..MERGE_TRIES {
        let item = db
            .get_item()
            .table_name(table)
            .key("node_id", node.clone())
            .key("sk", state_key.clone())
            .consistent_read(true)
            .send()
            .await?
            .item;
        let (stored, version) = match &item {
            Some(i) => (
                State {
                    params: json_map(i, "params"),
                    times: json_map(i, "times"),
                    init_at: number(i, "init_at"),
                    reported_at: number(i, "reported_at"),
                },
                Some(number(i, "version")),
            ),
            None => (State::default(), None),
        };
        let next = merge(&stored, report);
        if version.is_some() && next == stored {
            return Ok(false);
        }
        let put = db
            .put_item()
            .table_name(table)
            .item("node_id", node.clone())
            .item("sk", state_key.clone())
            .item(
                "params",
                AttributeValue::S(Value::Object(next.params).to_string()),
            )
            .item(
                "times",
                AttributeValue::S(Value::Object(next.times).to_string()),
            )
            .item("init_at", AttributeValue::N(next.init_at.to_string()))
            .item(
                "reported_at",
                AttributeValue::N(next.reported_at.to_string()),
            )
            .item(
                "version",
                AttributeValue::N((version.unwrap_or(0) + 1).to_string()),
            );
        let put = match version {
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => put.condition_expression("attribute_not_exists(sk)"),
        };
        match put.send().await {
            Ok(_) => return Ok(true),
            Err(err) if condition_failed(&err) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(format!(
        "the params of node {} changed {MERGE_TRIES} times while merging a report; retrying",
        report.node_id
    )
    .into())
}

pub async fn handle(db: &Client, table: &str, payload: Value) -> Result<Value, Error> {
    let report = match Report::parse(payload) {
        Ok(report) => report,
        Err(why) => return Ok(crate::store::dropped("params report", &why)),
    };
    // History first: a redelivered report has the same key and is refused by the condition. It
    // is merged all the same (merging twice changes nothing), so a retry after a failed merge
    // still lands.
    let mut history = db
        .put_item()
        .table_name(table)
        .item("node_id", AttributeValue::S(report.node_id.clone()))
        .item("sk", AttributeValue::S(report.history_key()))
        .item(
            "params",
            AttributeValue::S(Value::Object(report.params.clone()).to_string()),
        )
        .item("init", AttributeValue::Bool(report.init))
        .item(
            "expires_at",
            AttributeValue::N(expires_after(report.received_at, HISTORY_DAYS).to_string()),
        )
        .condition_expression("attribute_not_exists(sk)");
    if let Some(group) = &report.group {
        history = history.item("group_id", AttributeValue::S(group.clone()));
    }
    let duplicate = match history.send().await {
        Ok(_) => false,
        Err(err) if condition_failed(&err) => true,
        Err(err) => return Err(err.into()),
    };
    let changed = merge_stored(db, table, &report).await?;
    Ok(match (duplicate, changed) {
        (true, false) => {
            tracing::info!(node_id = %report.node_id, "duplicate delivery, nothing to do");
            serde_json::json!({ "stored": false, "reason": "duplicate" })
        }
        (_, true) => serde_json::json!({ "stored": true }),
        (false, false) => {
            serde_json::json!({ "stored": true, "reason": "nothing newer than the stored values" })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{node_message, rule_output};
    use serde_json::json;

    fn report(suffix: &str, payload: Value, at: i64) -> Report {
        Report::parse(node_message("9C9E6E2A1B2C", suffix, &payload, at)).unwrap()
    }

    fn merged(reports: &[Report]) -> State {
        reports.iter().fold(State::default(), |s, r| merge(&s, r))
    }

    #[test]
    fn a_device_report_as_the_rule_delivers_it() {
        // what ESP RainMaker firmware publishes on node/<id>/params/local
        let r = report(
            "params/local",
            json!({"Light": {"Power": true, "Brightness": 75}, "Time": {"TZ": "Asia/Shanghai"}}),
            1_764_000_000_123,
        );
        assert_eq!(r.node_id, "9C9E6E2A1B2C");
        assert_eq!(r.received_at, 1_764_000_000_123);
        assert!(!r.init && r.group.is_none());
        assert_eq!(
            Value::Object(r.params),
            json!({"Light": {"Power": true, "Brightness": 75}, "Time": {"TZ": "Asia/Shanghai"}})
        );
    }

    #[test]
    fn init_and_group_reports_are_marked() {
        assert!(report("params/local/init", json!({"Switch": {"Power": false}}), 1).init);
        let g = report("params/local/g-1", json!({"Switch": {"Power": false}}), 1);
        assert_eq!((g.init, g.group.as_deref()), (false, Some("g-1")));
    }

    #[test]
    fn changes_merge_per_param_and_the_last_will_keeps_the_rest() {
        let s = merged(&[
            report(
                "params/local/init",
                json!({"Light": {"Power": false, "Brightness": 50}, "Connectivity": {"Connected": true}}),
                1_000,
            ),
            report("params/local", json!({"Light": {"Power": true}}), 2_000),
            report("params/local", json!({"Light": {"Brightness": 80}}), 3_000),
            report(
                "params/local",
                json!({"Connectivity": {"Connected": false}}),
                4_000,
            ),
        ]);
        assert_eq!(
            Value::Object(s.params),
            json!({"Light": {"Power": true, "Brightness": 80}, "Connectivity": {"Connected": false}})
        );
        assert_eq!(
            Value::Object(s.times),
            json!({"Light": {"Power": 2_000, "Brightness": 3_000}, "Connectivity": {"Connected": 4_000}})
        );
    }

    #[test]
    fn out_of_order_reports_keep_the_newest_value_of_each_param() {
        let s = merged(&[
            report(
                "params/local",
                json!({"Light": {"Power": true, "Brightness": 9}}),
                3_000,
            ),
            report(
                "params/local",
                json!({"Light": {"Power": false, "Hue": 120}}),
                2_000,
            ),
        ]);
        assert_eq!(
            Value::Object(s.params),
            json!({"Light": {"Power": true, "Brightness": 9, "Hue": 120}})
        );
    }

    #[test]
    fn init_replaces_but_keeps_what_came_after_it_and_older_changes_are_ignored() {
        let s = merged(&[
            report(
                "params/local",
                json!({"Old": {"Gone": 1}, "Light": {"Power": true}}),
                1_000,
            ),
            // after a reboot: a change that arrived before the init it follows
            report("params/local", json!({"Light": {"Brightness": 30}}), 5_001),
            report(
                "params/local/init",
                json!({"Light": {"Power": false, "Brightness": 10}}),
                5_000,
            ),
            // a change from before that boot, delivered late
            report(
                "params/local",
                json!({"Light": {"Power": true}, "Old": {"Gone": 2}}),
                4_000,
            ),
        ]);
        assert_eq!(
            Value::Object(s.params),
            json!({"Light": {"Power": false, "Brightness": 30}})
        );
        assert_eq!(s.init_at, 5_000);
    }

    #[test]
    fn two_reports_in_one_millisecond_are_two_reports() {
        let a = report("params/local", json!({"Light": {"Power": true}}), 7);
        let b = report("params/local", json!({"Light": {"Brightness": 1}}), 7);
        assert_ne!(a.history_key(), b.history_key());
        assert_eq!(
            a.history_key(),
            report("params/local", json!({"Light": {"Power": true}}), 7).history_key()
        );
        let s = merged(&[a.clone(), b.clone()]);
        assert_eq!(
            Value::Object(s.params.clone()),
            json!({"Light": {"Power": true, "Brightness": 1}})
        );
        assert_eq!(merge(&s, &a), s, "merging a report twice changes nothing");
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
                node_message("n", "params/local", &json!({"node_id": "n"}), 1),
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
            (
                node_message("n", "params/localx", &json!({"L": {}}), 1),
                "not a params topic",
            ),
        ] {
            let err = Report::parse(event).unwrap_err();
            assert!(err.contains(reason), "{err}");
        }
    }
}
