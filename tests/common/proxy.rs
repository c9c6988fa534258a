//! A loopback HTTP proxy in front of moto_server that records every request (method, path,
//! body) and passes it on unchanged: what a handler sent where moto keeps no readable trace
//! (IoT data-plane publishes).

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::faults::{forward, read_request};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

pub struct Proxy {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl Proxy {
    /// Listen on a free loopback port and pass requests on to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let log = recorded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, log) = (upstream.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &log);
                });
            }
        });
        Proxy { url, recorded }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// (topic, JSON payload) of every IoT data-plane publish that went through.
    pub fn published(&self) -> Vec<(String, serde_json::Value)> {
        self.recorded()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/topics/"))
            .map(|r| {
                let topic = r.path["/topics/".len()..]
                    .split('?')
                    .next()
                    .unwrap()
                    .replace("%2F", "/");
                (topic, serde_json::from_slice(&r.body).unwrap())
            })
            .collect()
    }
}

/// One request per connection: read it, record it, send it upstream, copy the answer back.
fn serve(stream: TcpStream, upstream: &str, log: &Mutex<Vec<Recorded>>) -> std::io::Result<()> {
    let mut client = stream.try_clone()?;
    let req = read_request(&mut BufReader::new(stream))?;
    let mut parts = req.line.split_whitespace();
    log.lock().unwrap().push(Recorded {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        body: req.body.clone(),
    });
    client.write_all(&forward(&req, upstream)?)?;
    client.shutdown(std::net::Shutdown::Both)
}
