//! The `esp_cmd_resp` rule: command responses on `node/<id>/from-node`. Firmware sends them as
//! TLV8 (type, length, value; a value over 255 bytes continues in items of the same type); the
//! rule hands the bytes over base64-encoded (`encode(*, 'base64') AS payload`). Types: 1 request
//! id, 2 user role, 3 status, 4 timestamp, 5 command, 6 data.
//!
//! Each response is kept once in the params table (`cmd#<request_id>`) for a week.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use base64::Engine;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::store::{condition_failed, dropped, expires_after};

pub const KEEP_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub node_id: String,
    pub received_at: i64,
    pub request_id: String,
    pub status: Option<u8>,
    pub cmd: Option<u16>,
    pub data: Vec<u8>,
}

/// Split TLV8 bytes into (type, value), joining continued items.
pub fn tlv8(bytes: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut i = 0;
    let mut previous_full = false;
    while i < bytes.len() {
        if i + 2 > bytes.len() {
            return Err(format!("a TLV item at byte {i} is cut short"));
        }
        let (kind, len) = (bytes[i], bytes[i + 1] as usize);
        let value = bytes.get(i + 2..i + 2 + len).ok_or_else(|| {
            format!(
                "a TLV item at byte {i} says {len} bytes, {} remain",
                bytes.len() - i - 2
            )
        })?;
        match out.last_mut() {
            Some((k, v)) if *k == kind && previous_full => v.extend_from_slice(value),
            _ => out.push((kind, value.to_vec())),
        }
        previous_full = len == 255;
        i += 2 + len;
    }
    Ok(out)
}

impl Response {
    pub fn parse(event: Value) -> Result<Response, String> {
        let e = RuleEvent::parse_bytes(event)?;
        let bytes = e.bytes;
        let items = tlv8(&bytes)?;
        let get = |t: u8| {
            items
                .iter()
                .find(|(k, _)| *k == t)
                .map(|(_, v)| v.as_slice())
        };
        let request_id = get(1)
            .map(|v| String::from_utf8_lossy(v).to_string())
            .filter(|r| !r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_graphic()))
            .ok_or("the response has no valid request id (type 1)")?;
        let cmd = match get(5) {
            Some([a, b]) => Some(u16::from_le_bytes([*a, *b])),
            Some([a]) => Some(*a as u16),
            _ => None,
        };
        Ok(Response {
            node_id: e.node_id,
            received_at: e.received_at,
            request_id,
            status: get(3).and_then(|v| v.first().copied()),
            cmd,
            data: get(6).unwrap_or_default().to_vec(),
        })
    }

    /// The data as JSON when it is, else base64.
    pub fn data_value(&self) -> Value {
        serde_json::from_slice(&self.data).unwrap_or_else(
            |_| json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&self.data) }),
        )
    }
}

pub async fn handle(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    let r = match Response::parse(event) {
        Ok(r) => r,
        Err(why) => return Ok(dropped("command response", &why)),
    };
    let mut put = db
        .put_item()
        .table_name(table)
        .item("node_id", AttributeValue::S(r.node_id.clone()))
        .item("sk", AttributeValue::S(format!("cmd#{}", r.request_id)))
        .item("data", AttributeValue::S(r.data_value().to_string()))
        .item("received_at", AttributeValue::N(r.received_at.to_string()))
        .item(
            "expires_at",
            AttributeValue::N(expires_after(r.received_at, KEEP_DAYS).to_string()),
        )
        .condition_expression("attribute_not_exists(sk)");
    if let Some(status) = r.status {
        put = put.item("status", AttributeValue::N(status.to_string()));
    }
    if let Some(cmd) = r.cmd {
        put = put.item("cmd", AttributeValue::N(cmd.to_string()));
    }
    match put.send().await {
        Ok(_) => Ok(json!({ "stored": true, "request_id": r.request_id })),
        Err(err) if condition_failed(&err) => Ok(json!({ "stored": false, "reason": "duplicate" })),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bytes: &[u8]) -> Value {
        json!({"payload": base64::engine::general_purpose::STANDARD.encode(bytes),
               "node_id": "n1", "received_at": 3, "topic": "node/n1/from-node"})
    }

    #[test]
    fn a_tlv8_response_as_firmware_sends_it() {
        let mut b = vec![1, 4];
        b.extend_from_slice(b"r-42");
        b.extend_from_slice(&[2, 1, 2, 3, 1, 0, 5, 2, 0x10, 0x00]);
        let data = br#"{"ok":true}"#;
        b.extend_from_slice(&[6, data.len() as u8]);
        b.extend_from_slice(data);
        let r = Response::parse(event(&b)).unwrap();
        assert_eq!(r.request_id, "r-42");
        assert_eq!((r.status, r.cmd), (Some(0), Some(16)));
        assert_eq!(r.data_value(), json!({"ok": true}));
    }

    #[test]
    fn long_values_continue_in_the_next_item() {
        let mut b = vec![1, 1, b'r', 6, 255];
        b.extend_from_slice(&[b'a'; 255]);
        b.extend_from_slice(&[6, 3, b'b', b'c', b'd']);
        let r = Response::parse(event(&b)).unwrap();
        assert_eq!(r.data.len(), 258);
        assert_eq!(r.data_value()["base64"].as_str().unwrap().len(), 344);
    }

    #[test]
    fn broken_responses_are_refused() {
        assert!(Response::parse(event(&[1, 9, b'x']))
            .unwrap_err()
            .contains("says 9 bytes"));
        assert!(Response::parse(event(&[3, 1, 0]))
            .unwrap_err()
            .contains("request id"));
        assert!(Response::parse(event(&[1]))
            .unwrap_err()
            .contains("cut short"));
        assert!(
            Response::parse(json!({"payload": "%%%", "node_id": "n1", "received_at": 1, "topic": "node/n1/from-node"}))
                .unwrap_err()
                .contains("base64")
        );
    }
}
