//! The `esp_cmd_resp` rule: command responses on `node/<id>/from-node`, and the commands the
//! cloud queues for a node, sent on `node/<id>/to-node`.
//!
//! Firmware speaks TLV8 both ways (type, length, value; a value over 255 bytes continues in items
//! of the same type; esp-rainmaker-common `esp_rmaker_cmd_resp.h`): 1 request id (at most 31
//! characters: the firmware copies it into a 32-byte buffer), 2 user role (1 super admin, 2
//! primary, 4 secondary, 8 node), 3 status (0 success, 1 failed, 2 invalid, 3 auth fail, 4 not
//! found), 4 timestamp, 5 command (2 bytes, little-endian), 6 data. The rule hands the bytes over
//! base64-encoded (`encode(*, 'base64') AS payload`).
//!
//! On every MQTT connect the firmware asks for its pending commands with an empty request id
//! (`esp_rmaker_cmd_resp_check_pending`: `01 00 05 02 00 00`, or `01 00 03 01 00 05 02 00 00`
//! from newer esp-rainmaker-common): the poll is answered by sending each queued command that has
//! neither expired nor been answered again on `to-node`.
//!
//! Items of the params table:
//! - `cmdq#<request_id>`: a queued command: `cmd`, `role`, `data` (JSON text), `queued_at`,
//!   `expires_at` (its timeout, TTL), `status` (`pending`, then `done` with the response).
//! - `cmd#<request_id>`: a response, kept once for a week.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use base64::Engine;
use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::event::RuleEvent;
use crate::store::{condition_failed, dropped, expires_after};

/// The longest request id the firmware keeps (`REQ_ID_LEN` 32, with its terminating NUL).
pub const MAX_REQUEST_ID: usize = 31;

/// The longest a queued command waits for its node.
pub const MAX_TIMEOUT_S: i64 = 30 * 86_400;

/// What the function needs.
pub struct Ctx {
    pub db: Client,
    pub iot: aws_sdk_iotdataplane::Client,
    pub table: String,
}

pub const KEEP_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub node_id: String,
    pub received_at: i64,
    /// Empty for the firmware's poll for pending commands.
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
        // The poll leaves the request id out (older firmware) or empty.
        let request_id = get(1)
            .map(|v| String::from_utf8_lossy(v).to_string())
            .unwrap_or_default();
        if request_id.len() > 64 || !request_id.chars().all(|c| c.is_ascii_graphic()) {
            return Err("the response has no valid request id (type 1)".into());
        }
        let cmd = match get(5) {
            Some([a, b]) => Some(u16::from_le_bytes([*a, *b])),
            Some([a]) => Some(*a as u16),
            _ => None,
        };
        let r = Response {
            node_id: e.node_id,
            received_at: e.received_at,
            request_id,
            status: get(3).and_then(|v| v.first().copied()),
            cmd,
            data: get(6).unwrap_or_default().to_vec(),
        };
        if r.request_id.is_empty() && !r.is_poll() {
            return Err("the response has no valid request id (type 1)".into());
        }
        Ok(r)
    }

    /// Whether this is the firmware's poll for pending commands.
    pub fn is_poll(&self) -> bool {
        self.request_id.is_empty()
            && self.status.is_none_or(|s| s == 0)
            && self.cmd.is_none_or(|c| c == 0)
            && self.data.is_empty()
    }

    /// The data as JSON when it is, else base64.
    pub fn data_value(&self) -> Value {
        serde_json::from_slice(&self.data).unwrap_or_else(
            |_| json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&self.data) }),
        )
    }
}

/// A command for a node: what `to-node` carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub request_id: String,
    /// The caller's role (non-zero: 1 super admin, 2 primary, 4 secondary).
    pub role: u8,
    /// Non-zero (1 is the standard "set params").
    pub cmd: u16,
    pub data: Value,
}

/// TLV8 items of one type: a value over 255 bytes continues in further items.
fn push_tlv(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(&[kind, 0]);
    }
    for chunk in value.chunks(255) {
        out.extend_from_slice(&[kind, chunk.len() as u8]);
        out.extend_from_slice(chunk);
    }
}

impl Command {
    /// The `to-node` bytes (`esp_rmaker_cmd_response_handler` needs a request id, a non-zero role
    /// and a non-zero command).
    pub fn to_tlv(&self) -> Result<Vec<u8>, String> {
        if self.request_id.is_empty()
            || self.request_id.len() > MAX_REQUEST_ID
            || !self.request_id.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(format!(
                "request id `{}` is not 1 to {MAX_REQUEST_ID} printable characters",
                self.request_id
            ));
        }
        if self.role == 0 || self.cmd == 0 {
            return Err("a command needs a non-zero role and command".into());
        }
        let mut out = Vec::new();
        push_tlv(&mut out, 1, self.request_id.as_bytes());
        push_tlv(&mut out, 2, &[self.role]);
        push_tlv(&mut out, 5, &self.cmd.to_le_bytes());
        if !self.data.is_null() {
            push_tlv(&mut out, 6, self.data.to_string().as_bytes());
        }
        Ok(out)
    }
}

/// A request id for a queued command: 24 random hex digits (within the firmware's 31).
pub fn new_request_id() -> Result<String, Error> {
    let mut bytes = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system's random source failed")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn send(iot: &aws_sdk_iotdataplane::Client, node: &str, c: &Command) -> Result<(), Error> {
    crate::publish::publish_bytes(iot, node, "to-node", c.to_tlv()?).await
}

/// Queue a command for a node and send it now (a connected node answers at once; one that is
/// not gets it when it next connects and polls). Kept until `timeout_s` has passed.
pub async fn queue(
    ctx: &Ctx,
    node: &str,
    command: &Command,
    timeout_s: i64,
    now_ms: i64,
) -> Result<(), Error> {
    command.to_tlv()?;
    let timeout_s = timeout_s.clamp(1, MAX_TIMEOUT_S);
    ctx.db
        .put_item()
        .table_name(&ctx.table)
        .item("node_id", AttributeValue::S(node.into()))
        .item(
            "sk",
            AttributeValue::S(format!("cmdq#{}", command.request_id)),
        )
        .item("cmd", AttributeValue::N(command.cmd.to_string()))
        .item("role", AttributeValue::N(command.role.to_string()))
        .item("data", AttributeValue::S(command.data.to_string()))
        .item("status", AttributeValue::S("pending".into()))
        .item("queued_at", AttributeValue::N(now_ms.to_string()))
        .item(
            "expires_at",
            AttributeValue::N((now_ms / 1000 + timeout_s).to_string()),
        )
        .condition_expression("attribute_not_exists(sk)")
        .send()
        .await?;
    send(&ctx.iot, node, command).await
}

/// The node's queued commands that are neither answered nor expired (TTL deletion lags, so the
/// time is checked too).
pub async fn pending(ctx: &Ctx, node: &str, now_ms: i64) -> Result<Vec<Command>, Error> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = ctx
            .db
            .query()
            .table_name(&ctx.table)
            .key_condition_expression("node_id = :n AND begins_with(sk, :q)")
            .filter_expression("#s = :p AND expires_at > :now")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":n", AttributeValue::S(node.into()))
            .expression_attribute_values(":q", AttributeValue::S("cmdq#".into()))
            .expression_attribute_values(":p", AttributeValue::S("pending".into()))
            .expression_attribute_values(":now", AttributeValue::N((now_ms / 1000).to_string()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let num = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u16>().ok())
                    .unwrap_or(0)
            };
            let Some(request_id) =
                text("sk").and_then(|k| k.strip_prefix("cmdq#").map(str::to_string))
            else {
                continue;
            };
            out.push(Command {
                request_id,
                role: num("role").min(255) as u8,
                cmd: num("cmd"),
                data: text("data")
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or(Value::Null),
            });
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// The firmware's poll: send every pending command again.
async fn answer_poll(ctx: &Ctx, node: &str, now_ms: i64) -> Result<Value, Error> {
    let commands = pending(ctx, node, now_ms).await?;
    for c in &commands {
        send(&ctx.iot, node, c).await?;
    }
    tracing::info!(node_id = %node, sent = commands.len(), "pending commands sent");
    Ok(json!({ "poll": true, "sent": commands.len() }))
}

pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let r = match Response::parse(event) {
        Ok(r) => r,
        Err(why) => return Ok(dropped("command response", &why)),
    };
    if r.is_poll() {
        return answer_poll(ctx, &r.node_id, r.received_at).await;
    }
    let mut put = ctx
        .db
        .put_item()
        .table_name(&ctx.table)
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
    let stored = match put.send().await {
        Ok(_) => true,
        Err(err) if condition_failed(&err) => false,
        Err(err) => return Err(err.into()),
    };
    // The queued command, if this answers one, is done: the poll no longer sends it.
    let done = ctx
        .db
        .update_item()
        .table_name(&ctx.table)
        .key("node_id", AttributeValue::S(r.node_id.clone()))
        .key("sk", AttributeValue::S(format!("cmdq#{}", r.request_id)))
        .update_expression("SET #s = :d, answered_at = :t")
        .condition_expression("attribute_exists(sk)")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":d", AttributeValue::S("done".into()))
        .expression_attribute_values(":t", AttributeValue::N(r.received_at.to_string()))
        .send()
        .await;
    match done {
        Ok(_) => {}
        Err(err) if condition_failed(&err) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(if stored {
        json!({ "stored": true, "request_id": r.request_id })
    } else {
        json!({ "stored": false, "reason": "duplicate" })
    })
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
    fn the_poll_for_pending_commands_as_firmware_sends_it() {
        // esp_rmaker_cmd_resp_check_pending: esp_rmaker_cmd_prepare_empty_response(), older
        // esp-rainmaker-common (request id, cmd 0) and newer (request id, status 0, cmd 0)
        for poll in [&[1, 0, 5, 2, 0, 0][..], &[1, 0, 3, 1, 0, 5, 2, 0, 0]] {
            assert!(Response::parse(event(poll)).unwrap().is_poll(), "{poll:?}");
        }
        assert!(Response::parse(event(&[3, 1, 0, 5, 2, 1, 0]))
            .unwrap_err()
            .contains("request id"));
    }

    #[test]
    fn commands_for_a_node_are_tlv8_as_firmware_reads_them() {
        // esp_rmaker_cmd_response_handler: request id, role, command, data
        let c = Command {
            request_id: "abc".into(),
            role: 2,
            cmd: 1,
            data: json!({"params": {"Switch": {"Power": false}}}),
        };
        let bytes = c.to_tlv().unwrap();
        let items = tlv8(&bytes).unwrap();
        assert_eq!(items[0], (1, b"abc".to_vec()));
        assert_eq!(items[1], (2, vec![2]));
        assert_eq!(items[2], (5, vec![1, 0]));
        assert_eq!(
            items[3].1,
            br#"{"params":{"Switch":{"Power":false}}}"#.to_vec()
        );
        let long = Command {
            data: json!("x".repeat(600)),
            ..c.clone()
        };
        let items = tlv8(&long.to_tlv().unwrap()).unwrap();
        assert_eq!(items[3].1.len(), 602, "continued items join");
        for bad in [
            Command {
                request_id: "r".repeat(32),
                ..c.clone()
            },
            Command {
                request_id: String::new(),
                ..c.clone()
            },
            Command {
                role: 0,
                ..c.clone()
            },
            Command {
                cmd: 0,
                ..c.clone()
            },
        ] {
            assert!(bad.to_tlv().is_err(), "{bad:?}");
        }
        let id = new_request_id().unwrap();
        assert_eq!(id.len(), 24);
        assert!(id.len() <= MAX_REQUEST_ID);
    }

    #[test]
    fn broken_responses_are_refused() {
        assert!(Response::parse(event(&[1, 9, b'x']))
            .unwrap_err()
            .contains("says 9 bytes"));
        assert!(Response::parse(event(&[3, 1, 1]))
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
