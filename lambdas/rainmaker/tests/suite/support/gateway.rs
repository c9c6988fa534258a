//! An HTTP front for a [`StackCloud`]'s API functions, as API Gateway routes the stack's REST API:
//! the catalog's routes (under `/v1/`, or from the stage's root), proxy events, and an authorizer
//! stand-in that takes the token's `sub` as the caller (the real authorizers are tested on their
//! own: tests/suite/authorizer.rs, api_cli.rs). Requests are handed to the test's thread, which
//! invokes the functions, while a client (esp-rainmaker-cli) runs on another.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver, Sender};

use base64::Engine;
use rmdeploy::catalog::{self, ROUTES};
use serde_json::{json, Map, Value};

use super::faults::read_request;
use super::stack_cloud::StackCloud;

/// A request for a function: (function name, proxy event, where to send the answer).
type Call = (String, Value, Sender<(u16, String)>);

/// The caller a token names: its payload's `sub` (and `cognito:groups`), unverified.
fn caller(token: &str) -> Option<(String, Vec<String>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload.trim_end_matches('='))
        })
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let groups = claims["cognito:groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some((claims["sub"].as_str()?.to_string(), groups))
}

/// A URL-encoded query part, `+` as a space.
pub fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The function and proxy event for a request, or the gateway's own answer.
fn route(
    method: &str,
    target: &str,
    headers: &[String],
    body: &[u8],
) -> Result<(String, Value), (u16, String)> {
    let missing = (
        403,
        json!({"message": "Missing Authentication Token"}).to_string(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let trimmed = path.trim_end_matches('/');
    let spec = ROUTES
        .iter()
        .find(|r| {
            let full = match r.path.strip_prefix('/') {
                Some(root) => format!("/{root}"),
                None => format!("/v1/{}", r.path),
            };
            full == trimmed && (r.method == method || r.method == "ANY")
        })
        .ok_or(missing)?;
    let header = |name: &str| {
        headers.iter().find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut authorizer = json!({});
    if spec.authorized {
        let unauthorized = (401, json!({"message": "Unauthorized"}).to_string());
        let token = header("authorization").ok_or(unauthorized.clone())?;
        let (user, groups) = caller(&token).ok_or(unauthorized)?;
        authorizer =
            json!({"principalId": user, "groups": serde_json::to_string(&groups).unwrap()});
    }
    let query: Map<String, Value> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), json!(decode(v))))
        .collect();
    let body = String::from_utf8_lossy(body).into_owned();
    let event = json!({
        "resource": trimmed, "path": trimmed, "httpMethod": method,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "body": if body.is_empty() { Value::Null } else { json!(body) },
        "isBase64Encoded": false,
        "requestContext": {"httpMethod": method, "authorizer": authorizer},
    });
    Ok((catalog::function(spec.function).name.to_string(), event))
}

/// Listen on a free loopback port; its base URL and the calls it receives.
fn listen() -> (String, Receiver<Call>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = channel::<Call>();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut writer = stream.try_clone().unwrap();
            let Ok(req) = read_request(&mut BufReader::new(stream)) else {
                continue;
            };
            let mut parts = req.line.split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let (status, body) = match route(&method, &target, &req.headers, &req.body) {
                Ok((function, event)) => {
                    let (reply, answer) = channel();
                    if tx.send((function, event, reply)).is_err() {
                        return;
                    }
                    answer.recv().unwrap_or((502, "{}".into()))
                }
                Err(own) => own,
            };
            let _ = write!(writer, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (base, rx)
}

impl StackCloud {
    /// Run `client` with the base URL of an HTTP front for the API (on another thread), answering
    /// its requests here until it returns; what it returned.
    pub fn with_gateway<T: Send>(&self, client: impl FnOnce(&str) -> T + Send) -> T {
        let (base, calls) = listen();
        std::thread::scope(|scope| {
            let running = scope.spawn(|| client(&base));
            while !running.is_finished() {
                let Ok((function, event, reply)) =
                    calls.recv_timeout(std::time::Duration::from_millis(20))
                else {
                    continue;
                };
                let answer = match self.invoke(&function, event) {
                    super::runtime_api::Answer::Response(r) => (
                        r["statusCode"].as_u64().unwrap_or(502) as u16,
                        r["body"].as_str().unwrap_or("").to_string(),
                    ),
                    super::runtime_api::Answer::Error(e) => (
                        502,
                        json!({"message": "Internal server error", "error": e}).to_string(),
                    ),
                };
                let _ = reply.send(answer);
            }
            running.join().unwrap()
        })
    }
}
