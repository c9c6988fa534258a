//! A loopback HTTP proxy in front of moto_server that records every request (method, path,
//! body) and passes it on unchanged: what a handler sent where moto keeps no readable trace
//! (IoT data-plane publishes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

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
}

/// One request per connection: read it, record it, send it upstream with `Connection: close`,
/// copy the answer back.
fn serve(stream: TcpStream, upstream: &str, log: &Mutex<Vec<Recorded>>) -> std::io::Result<()> {
    let mut client = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        headers.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    log.lock().unwrap().push(Recorded {
        method,
        path,
        body: body.clone(),
    });

    let mut up = TcpStream::connect(upstream)?;
    up.write_all(request_line.as_bytes())?;
    for h in &headers {
        up.write_all(format!("{h}\r\n").as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.shutdown(std::net::Shutdown::Both)
}
