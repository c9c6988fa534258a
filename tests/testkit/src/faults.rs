//! A fault-injecting HTTP proxy on loopback in front of moto_server. Each request is named by its
//! AWS operation (`cloudformation:CreateChangeSet`, `s3:PUT`, `dynamodb:PutItem`, ...) from the
//! credential scope of its signature and its action; rules pick requests by that name and answer
//! them with a fault instead of (or after) passing them on:
//!
//! - `Throttle`: the service's own throttling error (CloudFormation `Throttling`, JSON
//!   `ThrottlingException`, S3 `SlowDown`), which the SDK retries with backoff;
//! - `ServerError`: HTTP 500 `InternalFailure`;
//! - `DropBefore`: the connection closed before the request reaches the service;
//! - `DropAfter`: the request reaches the service (it acts on it), the answer is lost;
//! - `Slow(ms)`: the answer held back for `ms` milliseconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerError,
    DropBefore,
    DropAfter,
    Slow(u64),
}

/// Which requests a rule faults: those whose operation name contains `op` (`""`: all), counted
/// per rule from 1; every `every`-th one of them, at most `times` in all.
#[derive(Debug, Clone)]
pub struct Rule {
    pub op: String,
    pub fault: Fault,
    pub every: usize,
    pub times: usize,
}

impl Rule {
    /// The first `times` requests of `op`.
    pub fn first(op: &str, fault: Fault, times: usize) -> Rule {
        Rule {
            op: op.to_string(),
            fault,
            every: 1,
            times,
        }
    }

    /// Every `every`-th request of `op`, without end.
    pub fn every(op: &str, fault: Fault, every: usize) -> Rule {
        Rule {
            op: op.to_string(),
            fault,
            every,
            times: usize::MAX,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub op: String,
    pub fault: Option<Fault>,
}

/// An answer the proxy gives itself, from the request body: status and JSON body.
pub type Stub = fn(&[u8]) -> (u16, String);

#[derive(Default)]
struct State {
    rules: Vec<(Rule, usize, usize)>,
    stubs: Vec<(String, Stub)>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Listen on a free loopback port in front of `upstream` (`http://host:port`), no rules yet.
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &state);
                });
            }
        });
        FaultProxy { url, state }
    }

    /// Replace the rules (and forget what was seen).
    pub fn set(&self, rules: Vec<Rule>) {
        let mut state = self.state.lock().unwrap();
        state.rules = rules.into_iter().map(|r| (r, 0, 0)).collect();
        state.seen.clear();
    }

    /// Answer the operations whose name contains `op` here instead of upstream (for what the
    /// emulator lacks); faults still apply to them.
    pub fn stub(&self, op: &str, answer: Stub) {
        self.state
            .lock()
            .unwrap()
            .stubs
            .push((op.to_string(), answer));
    }

    /// Every request since the rules were set, in order, with the fault it got.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }
}

/// One HTTP request as read off the connection (`Connection` headers dropped).
pub struct Request {
    pub line: String,
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `service:Action`: the service from the signature's credential scope, the action from
    /// `X-Amz-Target`, a query-protocol `Action=` or, for REST services, the method and path.
    fn operation(&self) -> String {
        let service = self
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown")
            .to_string();
        let mut parts = self.line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let action = if let Some(target) = self.header("x-amz-target") {
            target.rsplit('.').next().unwrap_or(target).to_string()
        } else if let Some(action) = String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
        {
            action.to_string()
        } else {
            format!("{method} {}", path.split('?').next().unwrap_or(path))
        };
        format!("{service}:{action}")
    }

    /// The body of a throttling error as this service's protocol spells it, with its status.
    fn throttle(&self, op: &str) -> (u16, &'static str, String) {
        if op.starts_with("s3:") {
            (
                503,
                "application/xml",
                "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into(),
            )
        } else if self.header("x-amz-target").is_some() {
            (
                400,
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
            )
        } else if self
            .header("content-type")
            .is_some_and(|c| c.contains("x-www-form-urlencoded"))
        {
            (
                400,
                "text/xml",
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>".into(),
            )
        } else {
            (
                429,
                "application/json",
                r#"{"message":"Rate exceeded"}"#.into(),
            )
        }
    }
}

pub fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        headers.push(h);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        line,
        headers,
        body,
    })
}

/// Send `req` to `upstream` (`host:port`) with `Connection: close`; the whole answer.
pub fn forward(req: &Request, upstream: &str) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(req.line.as_bytes())?;
    for h in &req.headers {
        up.write_all(format!("{h}\r\n").as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&req.body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    Ok(answer)
}

fn pick(state: &Mutex<State>, op: &str) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    let mut chosen = None;
    for (rule, matched, fired) in state.rules.iter_mut() {
        if !op.contains(rule.op.as_str()) {
            continue;
        }
        *matched += 1;
        if chosen.is_none() && *fired < rule.times && *matched % rule.every == 0 {
            *fired += 1;
            chosen = Some(rule.fault);
        }
    }
    state.seen.push(Seen {
        op: op.to_string(),
        fault: chosen,
    });
    chosen
}

/// One request per connection: read it, pick a fault, act.
fn serve(stream: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let mut client = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let req = read_request(&mut reader)?;
    let op = req.operation();
    let stub = state
        .lock()
        .unwrap()
        .stubs
        .iter()
        .find(|(name, _)| op.contains(name.as_str()))
        .map(|(_, answer)| *answer);
    let forward = |req: &Request| match stub {
        Some(answer) => {
            let (status, body) = answer(&req.body);
            let mut out = Vec::new();
            write_answer(&mut out, status, "application/json", &body, None)?;
            Ok(out)
        }
        None => forward(req, upstream),
    };
    match pick(state, &op) {
        None => {
            let answer = forward(&req)?;
            client.write_all(&answer)?;
        }
        Some(Fault::Slow(ms)) => {
            let answer = forward(&req)?;
            std::thread::sleep(Duration::from_millis(ms));
            // The client may have given up (its read timeout); that is the point.
            let _ = client.write_all(&answer);
        }
        Some(Fault::DropBefore) => {}
        Some(Fault::DropAfter) => {
            forward(&req)?;
        }
        Some(Fault::Throttle) => {
            let (status, kind, body) = req.throttle(&op);
            write_answer(
                &mut client,
                status,
                kind,
                &body,
                Some("ThrottlingException"),
            )?;
        }
        Some(Fault::ServerError) => {
            let body = if op.starts_with("s3:") {
                "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>".to_string()
            } else {
                r#"{"__type":"InternalFailure","message":"injected"}"#.to_string()
            };
            write_answer(&mut client, 500, "application/json", &body, None)?;
        }
    }
    client.shutdown(std::net::Shutdown::Both)
}

fn write_answer(
    client: &mut impl Write,
    status: u16,
    kind: &str,
    body: &str,
    error_type: Option<&str>,
) -> std::io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(t) = error_type {
        head.push_str(&format!("x-amzn-ErrorType: {t}\r\n"));
    }
    head.push_str("\r\n");
    client.write_all(head.as_bytes())?;
    client.write_all(body.as_bytes())
}
