//! A Lambda Runtime API on loopback, enough for a real `bootstrap`: it hands out queued events
//! on `GET /2018-06-01/runtime/invocation/next` and records what the function posts back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A function's `bootstrap`, built by `rmdeploy build` (the workspace's rmdeploy binary) for this
/// machine's CPU (the x86_64 china profile, which has every bundled binary but `auth`). Built once
/// per test binary, under the build lock: a rebuild moves the executables, which fails while one
/// of them runs.
pub fn built(bin: &str) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let _build = super::building::build_lock();
        let target =
            rmdeploy::artifacts::build::target_dir(None).expect("a private Lambda build folder");
        super::json_of(
            super::rmdeploy_of_workspace()
                .env("PATH", super::lambda_build_path())
                .args(["build", "-p", "china", "-o", "json", "--target-dir"])
                .arg(&target)
                .timeout(std::time::Duration::from_secs(1800)),
        );
        rmdeploy::artifacts::build::lambda_dir(&target, rmdeploy::profile::Architecture::X86_64)
    })
    .join(bin)
    .join("bootstrap")
}

/// Run a bootstrap against a Runtime API, as Lambda would, with AWS at `endpoint` and the
/// function's own settings in `env`.
pub fn start(
    bootstrap: &std::path::Path,
    api: &RuntimeApi,
    endpoint: &str,
    function: &str,
    env: &[(&str, &str)],
) -> Child {
    Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bootstrap starts")
}

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(serde_json::Value),
    Error(serde_json::Value),
}

pub struct RuntimeApi {
    pub address: String,
    events: Sender<serde_json::Value>,
    answers: Receiver<(String, Answer)>,
    /// When the first `next` request arrived: the end of a cold start.
    pub first_poll: Arc<Mutex<Option<Instant>>>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events_tx, events_rx) = channel::<serde_json::Value>();
        let (answers_tx, answers_rx) = channel();
        let events = Arc::new(Mutex::new(events_rx));
        let first_poll = Arc::new(Mutex::new(None));
        let poll = first_poll.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (events, answers, poll) = (events.clone(), answers_tx.clone(), poll.clone());
                std::thread::spawn(move || serve(stream, events, answers, poll));
            }
        });
        RuntimeApi {
            address,
            events: events_tx,
            answers: answers_rx,
            first_poll,
        }
    }

    /// Queue an event and wait for the function's answer.
    pub fn invoke(&self, event: serde_json::Value) -> Answer {
        self.events.send(event).unwrap();
        self.answers
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the function answers within 30 s")
            .1
    }
}

fn serve(
    stream: TcpStream,
    events: Arc<Mutex<Receiver<serde_json::Value>>>,
    answers: Sender<(String, Answer)>,
    first_poll: Arc<Mutex<Option<Instant>>>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut count = 0u64;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        if path.ends_with("/invocation/next") {
            first_poll.lock().unwrap().get_or_insert_with(Instant::now);
            let Ok(event) = events.lock().unwrap().recv() else {
                return;
            };
            count += 1;
            let payload = event.to_string();
            let id = format!("req-{count}");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 60_000,
                payload.len()
            );
            writer.write_all(head.as_bytes()).unwrap();
            writer.write_all(payload.as_bytes()).unwrap();
        } else {
            let value: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let id = path.split('/').nth(4).unwrap_or_default().to_string();
            let answer = if path.ends_with("/response") {
                Answer::Response(value)
            } else {
                Answer::Error(value)
            };
            writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            let _ = answers.send((id, answer));
        }
    }
}
