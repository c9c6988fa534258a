//! `user/nodes...`: a user's nodes, their status, config and params, setting params, mapping.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};

use super::{code, internal, Answer, Ctx, Request};
use crate::event::valid_node_id;
use crate::mapping::{self, AppRequest};
use crate::ota_jobs::{number, text, Item};

/// Nodes per page of `GET user/nodes` unless `num_records` says otherwise.
pub const PAGE: usize = 100;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// The node ids mapped to a user, sorted.
async fn node_ids(ctx: &Ctx, user: &str) -> Result<Vec<String>, Answer> {
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let page = ctx
            .db
            .query()
            .table_name(&ctx.tables.mapping.user_nodes)
            .key_condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(user))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                internal(
                    "reading the user's nodes",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
        ids.extend(page.items().iter().map(|i| text(i, "node_id")));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            ids.sort();
            return Ok(ids);
        }
    }
}

/// The node a request names, when the caller is mapped to it (else 400 / 404).
async fn owned_node<'r>(ctx: &Ctx, req: &'r Request, node: &'r str) -> Result<&'r str, Answer> {
    let user = req.user()?;
    if !valid_node_id(node) {
        return Err(Answer::failure(
            400,
            code::BAD_REQUEST,
            format!("`{node}` is not a node id"),
        ));
    }
    let item = ctx
        .db
        .get_item()
        .table_name(&ctx.tables.mapping.user_nodes)
        .key("user_id", s(user))
        .key("node_id", s(node))
        .send()
        .await
        .map_err(|e| {
            internal(
                "reading the mapping",
                aws_sdk_dynamodb::error::DisplayErrorContext(e),
            )
        })?;
    if item.item.is_none() {
        return Err(Answer::failure(
            404,
            code::NOT_FOUND,
            format!("Node {node} is not mapped to this user"),
        ));
    }
    Ok(node)
}

async fn node_item(ctx: &Ctx, node: &str) -> Result<Option<Item>, Answer> {
    Ok(ctx
        .db
        .get_item()
        .table_name(&ctx.tables.nodes)
        .key("node_id", s(node))
        .send()
        .await
        .map_err(|e| {
            internal(
                "reading the node",
                aws_sdk_dynamodb::error::DisplayErrorContext(e),
            )
        })?
        .item)
}

async fn state_item(ctx: &Ctx, node: &str) -> Result<Option<Item>, Answer> {
    Ok(ctx
        .db
        .get_item()
        .table_name(&ctx.tables.params)
        .key("node_id", s(node))
        .key("sk", s("state"))
        .send()
        .await
        .map_err(|e| {
            internal(
                "reading the params",
                aws_sdk_dynamodb::error::DisplayErrorContext(e),
            )
        })?
        .item)
}

fn stored_json(item: &Item, k: &str) -> Option<Value> {
    serde_json::from_str(&text(item, k)).ok()
}

/// `{"connectivity": {"connected", "timestamp"}}` from the node's presence events.
fn connectivity(node: Option<&Item>) -> Value {
    let connected = node
        .and_then(|n| n.get("connected"))
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    let at = node.map(|n| number(n, "presence_at")).unwrap_or(0);
    json!({ "connectivity": { "connected": connected, "timestamp": at } })
}

/// `GET user/nodes[?node_details=true][&start_id=][&num_records=]`.
pub async fn list(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let all = node_ids(ctx, user).await?;
    let size = match req.query.get("num_records") {
        None => PAGE,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                Answer::failure(
                    400,
                    code::BAD_REQUEST,
                    "num_records must be a number from 1 to 1000",
                )
            })?,
    };
    let start = req.query.get("start_id");
    let rest: Vec<&String> = all
        .iter()
        .filter(|id| start.is_none_or(|s| id.as_str() >= s.as_str()))
        .collect();
    let page: Vec<String> = rest.iter().take(size).map(|s| s.to_string()).collect();
    let mut body = json!({ "nodes": page, "total": all.len() });
    if let Some(next) = rest.get(size) {
        body["next_id"] = json!(next);
    }
    if req.query.get("node_details").map(String::as_str) == Some("true") {
        let mut details = Vec::new();
        for id in &page {
            let node = node_item(ctx, id).await?;
            let params = state_item(ctx, id).await?;
            details.push(json!({
                "id": id,
                "role": "primary",
                "status": connectivity(node.as_ref()),
                "config": node.as_ref().and_then(|n| stored_json(n, "config")).unwrap_or(json!({})),
                "params": params.as_ref().and_then(|p| stored_json(p, "params")).unwrap_or(json!({})),
            }));
        }
        body["node_details"] = json!(details);
    }
    Ok(Answer::ok(body))
}

/// `GET user/nodes/status?nodeid=`.
pub async fn status(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let node = owned_node(ctx, req, req.param("nodeid")?).await?;
    Ok(Answer::ok(connectivity(
        node_item(ctx, node).await?.as_ref(),
    )))
}

/// `GET user/nodes/config?nodeid=`: the node's last `config`.
pub async fn config(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let node = owned_node(ctx, req, req.param("nodeid")?).await?;
    node_item(ctx, node)
        .await?
        .and_then(|n| stored_json(&n, "config"))
        .map(Answer::ok)
        .ok_or_else(|| {
            Answer::failure(
                404,
                code::NOT_FOUND,
                format!("Node {node} has not sent its config yet"),
            )
        })
}

/// `GET user/nodes/params?nodeid=`: the node's last reported values.
pub async fn params(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let node = owned_node(ctx, req, req.param("nodeid")?).await?;
    state_item(ctx, node)
        .await?
        .and_then(|p| stored_json(&p, "params"))
        .map(Answer::ok)
        .ok_or_else(|| {
            Answer::failure(
                404,
                code::NOT_FOUND,
                format!("Node {node} has not reported params yet"),
            )
        })
}

/// Params to set: `{"<device>": {"<param>": value}}`.
pub fn check_params(payload: &Value) -> Result<&Map<String, Value>, String> {
    let devices = payload
        .as_object()
        .ok_or("the params are not a JSON object")?;
    if devices.is_empty() {
        return Err("the params name no device".into());
    }
    for (device, params) in devices {
        match params.as_object() {
            Some(p) if !p.is_empty() => {}
            _ => return Err(format!("device `{device}` needs an object of params")),
        }
    }
    Ok(devices)
}

/// Set one node's params: publish them on `params/remote`.
async fn set_one(ctx: &Ctx, req: &Request, node: &str, payload: &Value) -> Result<(), Answer> {
    check_params(payload).map_err(|why| Answer::failure(400, code::BAD_REQUEST, why))?;
    owned_node(ctx, req, node).await?;
    crate::publish::publish(&ctx.iot, node, "params/remote", payload)
        .await
        .map_err(|e| internal("publishing params/remote", e))
}

/// `PUT user/nodes/params`: `[{"node_id", "payload"}]` (one result per node), or the older
/// `?nodeid=` with the params as the body.
pub async fn set_params(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let body = req
        .body
        .as_ref()
        .ok_or_else(|| Answer::failure(400, code::BAD_REQUEST, "The body holds no params"))?;
    if let Some(batch) = body.as_array() {
        if batch.is_empty() || batch.len() > 25 {
            return Err(Answer::failure(
                400,
                code::BAD_REQUEST,
                "Send params for 1 to 25 nodes",
            ));
        }
        let mut results = Vec::new();
        for entry in batch {
            let node = entry["node_id"].as_str().unwrap_or_default();
            let result = match set_one(ctx, req, node, &entry["payload"]).await {
                Ok(()) => {
                    json!({"node_id": node, "status": "success", "description": "Successfully set params"})
                }
                Err(a) if a.status >= 500 => return Err(a),
                Err(a) => json!({"node_id": node, "status": "failure",
                                 "description": a.body["description"], "error_code": a.body["error_code"]}),
            };
            results.push(result);
        }
        return Ok(Answer::ok(Value::Array(results)));
    }
    let node = req.param("nodeid")?;
    set_one(ctx, req, node, body).await?;
    Ok(Answer::ok(
        json!({"status": "success", "description": "Successfully set params"}),
    ))
}

/// A request id nobody can guess from another: a UUID version 4 (RFC 9562) from the operating
/// system's random source (`ring::rand::SystemRandom`, getrandom on Linux).
pub fn new_request_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the operating system's random source");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `PUT user/nodes/mapping`: `{"user_id", "node_id", "secret_key", "operation"}`.
pub async fn mapping(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let (claimed, node) = (req.field("user_id")?, req.field("node_id")?);
    if claimed != user {
        return Err(Answer::failure(
            403,
            code::FORBIDDEN,
            "user_id is not the signed-in user's id",
        ));
    }
    if !valid_node_id(node) {
        return Err(Answer::failure(
            400,
            code::BAD_REQUEST,
            format!("`{node}` is not a node id"),
        ));
    }
    let add = match req.field("operation")? {
        "add" => true,
        "remove" => false,
        other => {
            return Err(Answer::failure(
                400,
                code::BAD_REQUEST,
                format!("operation `{other}` is not add or remove"),
            ))
        }
    };
    let secret = req
        .body
        .as_ref()
        .and_then(|b| b["secret_key"].as_str())
        .unwrap_or("");
    if add && secret.is_empty() {
        return Err(Answer::failure(
            400,
            code::BAD_REQUEST,
            "Adding a mapping needs the secret_key the node was given",
        ));
    }
    if !add {
        owned_node(ctx, req, node).await?;
    }
    let id = new_request_id();
    mapping::request(
        &ctx.db,
        &ctx.tables.mapping,
        &AppRequest {
            request_id: &id,
            user,
            node,
            secret,
            add,
            now_ms: crate::runtime::now_ms(),
        },
    )
    .await
    .map_err(|e| internal("recording the mapping request", e))?;
    Ok(Answer::ok(json!({"status": "success", "request_id": id})))
}

/// `GET user/nodes/mapping?request_id=`: `{"request_status"}`.
pub async fn mapping_status(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let id = req.param("request_id")?;
    match mapping::status(
        &ctx.db,
        &ctx.tables.mapping,
        user,
        id,
        crate::runtime::now_ms(),
    )
    .await
    .map_err(|e| internal("reading the mapping request", e))?
    {
        Some(status) => Ok(Answer::ok(json!({"request_status": status}))),
        None => Err(Answer::failure(
            404,
            code::NOT_FOUND,
            format!("No mapping request {id} of this user"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_to_set_name_devices_with_params() {
        assert!(check_params(&json!({"Light": {"Power": true}})).is_ok());
        for (bad, why) in [
            (json!([1]), "not a JSON object"),
            (json!({}), "no device"),
            (json!({"Light": true}), "device `Light`"),
            (json!({"Light": {}}), "device `Light`"),
        ] {
            assert!(check_params(&bad).unwrap_err().contains(why), "{bad}");
        }
    }

    #[test]
    fn request_ids_are_random_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
            assert!(id
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert!(parts[2].starts_with('4'), "version 4: {id}");
            assert!("89ab".contains(&parts[3][..1]), "RFC variant: {id}");
        }
        // every bit but the fixed six varies: a counter or a clock would leave most bits fixed
        let ones = ids.iter().fold([0u32; 128], |mut n, id| {
            let bytes = id.replace('-', "");
            for (i, c) in bytes.chars().enumerate() {
                let v = c.to_digit(16).unwrap();
                for bit in 0..4 {
                    n[i * 4 + bit] += (v >> (3 - bit)) & 1;
                }
            }
            n
        });
        let fixed = [48, 49, 50, 51, 64, 65];
        for (bit, n) in ones.iter().enumerate() {
            if !fixed.contains(&bit) {
                assert!(
                    (350..650).contains(n),
                    "bit {bit} is set in {n} of 1000 ids"
                );
            }
        }
    }
}
