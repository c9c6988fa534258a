//! A loopback HTTP proxy in front of moto_server that records every request (method, path,
//! body) and passes it on unchanged: what a handler sent where moto keeps no readable trace
//! (IoT data-plane publishes). It can also stand in for Lambda's `Invoke` API: an asynchronous
//! invocation is recorded and answered 202, for the test to deliver to the function. And it plays
//! AWS IoT's `CreateCertificateFromCsr`, which moto gets wrong (see [`IotCa`]).

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::faults::{forward, read_request};
use super::iot_ca::IotCa;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

pub struct Proxy {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    ca: Arc<IotCa>,
}

/// The path of Lambda's `Invoke`.
const INVOKE: &str = "/2015-03-31/functions/";

impl Proxy {
    /// Listen on a free loopback port and pass requests on to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let ca = Arc::new(IotCa::new());
        let (log, issuer) = (recorded.clone(), ca.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, log, ca) = (upstream.clone(), log.clone(), issuer.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &log, &ca);
                });
            }
        });
        Proxy { url, recorded, ca }
    }

    /// The CA certificate (PEM) the certificates issued for CSRs chain to.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// (function name, event) of every Lambda invocation so far, answered 202 by the proxy.
    pub fn invocations(&self) -> Vec<(String, serde_json::Value)> {
        self.recorded()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with(INVOKE))
            .map(|r| {
                let name = r.path[INVOKE.len()..]
                    .split('/')
                    .next()
                    .unwrap()
                    .to_string();
                (name, serde_json::from_slice(&r.body).unwrap())
            })
            .collect()
    }

    /// (topic, JSON payload) of every IoT data-plane publish that went through.
    pub fn published(&self) -> Vec<(String, serde_json::Value)> {
        self.published_bytes()
            .into_iter()
            .map(|(topic, body)| (topic, serde_json::from_slice(&body).unwrap()))
            .collect()
    }

    /// (topic, payload bytes) of every IoT data-plane publish that went through.
    pub fn published_bytes(&self) -> Vec<(String, Vec<u8>)> {
        self.recorded()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/topics/"))
            .map(|r| {
                let topic = r.path["/topics/".len()..]
                    .split('?')
                    .next()
                    .unwrap()
                    .replace("%2F", "/");
                (topic, r.body)
            })
            .collect()
    }
}

/// One request per connection: read it, record it, send it upstream, copy the answer back.
fn serve(
    stream: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Recorded>>,
    ca: &IotCa,
) -> std::io::Result<()> {
    let mut client = stream.try_clone()?;
    let req = read_request(&mut BufReader::new(stream))?;
    let mut parts = req.line.split_whitespace();
    let recorded = Recorded {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        body: req.body.clone(),
    };
    let invoke = recorded.method == "POST" && recorded.path.starts_with(INVOKE);
    log.lock().unwrap().push(recorded);
    if invoke {
        client.write_all(
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
    } else if let Some(answer) = ca.answer(&req, upstream) {
        client.write_all(&answer)?;
    } else {
        client.write_all(&forward(&req, upstream)?)?;
    }
    client.shutdown(std::net::Shutdown::Both)
}
