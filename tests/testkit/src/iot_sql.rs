//! The part of AWS IoT SQL (version 2016-03-23) the stack's topic rules use, run on a message as
//! AWS IoT runs it: what a rule hands its function. Anything outside this part (a bare `*`
//! beside other fields, a `WHERE` other than `topic(n) <> '<text>'`, another function) is
//! refused, so a rule that starts mixing the payload with the fields AWS IoT vouches for cannot
//! pass unnoticed.
//!
//! Functions, from the AWS IoT SQL reference: `encode(*, 'base64')` is the whole payload, JSON or
//! not, base64-encoded; `topic()` the whole topic and `topic(n)` its n-th level (from 1);
//! `timestamp()` the time the rule engine received the message (ms); `sha256(x)` the lower-case
//! hex SHA-256 of a string; a bare name is that key of a JSON payload, left out when missing.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Every topic rule of a rendered template: (rule name, SQL).
pub fn rules(doc: &Value) -> Vec<(String, String)> {
    doc["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IoT::TopicRule")
        .map(|(_, r)| {
            let p = &r["Properties"];
            (
                p["RuleName"].as_str().unwrap().to_string(),
                p["TopicRulePayload"]["Sql"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// One selected item: (expression, output name).
fn items(select: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in select.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(select[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(select[start..].trim().to_string());
    parts
        .into_iter()
        .map(|p| match p.split_once(" AS ") {
            Some((e, alias)) => (e.trim().to_string(), alias.trim().to_string()),
            None => (p.clone(), p),
        })
        .collect()
}

/// The topic filter and the `WHERE` condition of a rule's SQL.
fn from_where(sql: &str) -> (&str, Option<&str>) {
    let rest = sql
        .rsplit_once(" FROM '")
        .expect("... FROM '<topic filter>'")
        .1;
    let (filter, condition) = rest.split_once('\'').expect("a quoted topic filter");
    let condition = condition.trim();
    match condition.strip_prefix("WHERE ") {
        Some(c) => (filter, Some(c)),
        None => {
            assert!(
                condition.is_empty(),
                "`{condition}` after the topic filter: {sql}"
            );
            (filter, None)
        }
    }
}

/// Whether the rule takes a message on `topic`: its topic filter matches and its condition holds.
pub fn matches(sql: &str, topic: &str) -> bool {
    let (filter, condition) = from_where(sql);
    let (f, t): (Vec<&str>, Vec<&str>) = (filter.split('/').collect(), topic.split('/').collect());
    f.len() == t.len()
        && f.iter().zip(&t).all(|(a, b)| *a == "+" || a == b)
        && condition.is_none_or(|c| holds(c, &t, sql))
}

/// `topic(n) <> '<text>'`, the one condition the rules use.
fn holds(condition: &str, levels: &[&str], sql: &str) -> bool {
    let (left, right) = condition
        .split_once(" <> ")
        .unwrap_or_else(|| panic!("`{condition}` is outside the emulated part: {sql}"));
    let n: usize = left
        .strip_prefix("topic(")
        .and_then(|l| l.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("`{left}` is outside the emulated part: {sql}"));
    let text = right
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or_else(|| panic!("`{right}` is not a quoted text: {sql}"));
    levels.get(n - 1).is_some_and(|l| *l != text)
}

/// What the rule hands its action for `payload` published on `topic` at `now_ms` (the caller
/// checks [`matches`] first).
pub fn run(sql: &str, topic: &str, payload: &[u8], now_ms: i64) -> Value {
    let rest = sql.strip_prefix("SELECT ").expect("SELECT ...");
    let (select, _) = rest
        .rsplit_once(" FROM '")
        .expect("... FROM '<topic filter>'");
    from_where(sql);
    let json: Option<Map<String, Value>> = serde_json::from_slice(payload).ok();
    let field = |name: &str| json.as_ref().and_then(|m| m.get(name)).cloned();
    let levels: Vec<&str> = topic.split('/').collect();
    let mut out = Map::new();
    for (expr, alias) in items(select) {
        let value = if expr == "*" {
            panic!("`SELECT *` beside other fields mixes the payload with them: {sql}")
        } else if expr == "encode(*, 'base64')" {
            use base64::Engine;
            Some(Value::String(
                base64::engine::general_purpose::STANDARD.encode(payload),
            ))
        } else if expr == "topic()" {
            Some(Value::String(topic.to_string()))
        } else if let Some(n) = expr
            .strip_prefix("topic(")
            .and_then(|e| e.strip_suffix(')'))
        {
            let n: usize = n.parse().expect("topic(<level>)");
            levels.get(n - 1).map(|l| Value::String(l.to_string()))
        } else if expr == "timestamp()" {
            Some(Value::from(now_ms))
        } else if let Some(name) = expr
            .strip_prefix("sha256(")
            .and_then(|e| e.strip_suffix(')'))
        {
            field(name)
                .and_then(|v| v.as_str().map(str::to_string))
                .map(|s| {
                    Value::String(
                        Sha256::digest(s.as_bytes())
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect(),
                    )
                })
        } else if expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            field(&expr)
        } else {
            panic!("`{expr}` is outside the emulated part of IoT SQL: {sql}")
        };
        if let Some(v) = value.filter(|v| !v.is_null()) {
            out.insert(alias, v);
        }
    }
    Value::Object(out)
}
