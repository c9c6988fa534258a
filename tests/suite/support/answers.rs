//! Recorded answers for the services rmdeploy calls without an SDK crate (IoT, Lambda:
//! `rmdeploy::aws::rest`): an HTTP connector that answers each request from the first rule whose
//! method and path prefix match, and counts the calls. A request no rule matches gets a 404.

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use rmdeploy::aws::iot::Iot;
use rmdeploy::aws::lambda::Lambda;
use rmdeploy::aws::rest::Rest;

/// A request's headers: lower-case names and values.
pub type Headers = Vec<(String, String)>;

/// One answer: to `method` on paths starting with `path`, `status` and `body`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub body: String,
    /// Answers this many requests at most (`None`: every one).
    pub times: Option<usize>,
}

/// Answers for requests, and the requests seen (`METHOD /path?query`).
#[derive(Debug, Clone, Default)]
pub struct Answers {
    rules: Vec<Answer>,
    hits: Arc<Mutex<Vec<usize>>>,
    pub seen: Arc<Mutex<Vec<String>>>,
    /// The headers of each request seen, lower-case names.
    pub headers: Arc<Mutex<Vec<Headers>>>,
}

impl Answers {
    pub fn new() -> Answers {
        Answers::default()
    }

    /// Answer `method path*` with `status` and `body`.
    pub fn on(self, method: &'static str, path: &'static str, status: u16, body: &str) -> Answers {
        self.rule(None, method, path, status, body)
    }

    /// Answer the next `times` requests to `method path*` with `status` and `body`; later
    /// ones go to the next rule.
    pub fn first(
        self,
        times: usize,
        method: &'static str,
        path: &'static str,
        status: u16,
        body: &str,
    ) -> Answers {
        self.rule(Some(times), method, path, status, body)
    }

    fn rule(
        mut self,
        times: Option<usize>,
        method: &'static str,
        path: &'static str,
        status: u16,
        body: &str,
    ) -> Answers {
        self.rules.push(Answer {
            method,
            path,
            status,
            body: body.to_string(),
            times,
        });
        self
    }

    /// How many requests went to `method path*`.
    pub fn calls(&self, method: &str, path: &str) -> usize {
        let prefix = format!("{method} {path}");
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.starts_with(&prefix))
            .count()
    }

    /// Header `name` of the last request.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let all = self.headers.lock().unwrap();
        all.last()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn rest(&self, service: &'static str, region: &str) -> Rest {
        let config =
            aws_config::SdkConfig::builder()
                .region(aws_config::Region::new(region.to_string()))
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(
                        Credentials::new("AKIDEXAMPLE", "secret", None, None, "answers"),
                    ),
                )
                .build();
        Rest::new(service, &config, SharedHttpConnector::new(self.clone()), 3)
    }

    /// An IoT facade answering from these rules.
    pub fn iot(&self, region: &str) -> Iot {
        Iot {
            rest: self.rest("iot", region),
        }
    }

    /// A Lambda facade answering from these rules.
    pub fn lambda(&self, region: &str) -> Lambda {
        Lambda {
            rest: self.rest("lambda", region),
        }
    }
}

impl HttpConnector for Answers {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri().to_string();
        let path = uri
            .split_once("amazonaws.com")
            .map_or(uri.as_str(), |(_, p)| p.trim_start_matches(".cn"));
        let method = request.method().to_string();
        self.seen.lock().unwrap().push(format!("{method} {path}"));
        self.headers.lock().unwrap().push(
            request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.to_string()))
                .collect(),
        );
        // A limited rule is used up once it has answered its requests.
        let mut hits = self.hits.lock().unwrap();
        hits.resize(self.rules.len(), 0);
        let found = self.rules.iter().enumerate().find(|(i, r)| {
            r.method == method && path.starts_with(r.path) && r.times.is_none_or(|n| hits[*i] < n)
        });
        let rule = found.map(|(i, r)| {
            hits[i] += 1;
            r
        });
        drop(hits);
        let signed = request.headers().get("authorization").is_some();
        let (status, body) = match rule {
            Some(r) if signed => (r.status, r.body.clone()),
            Some(_) => (
                403,
                r#"{"message":"the request was not signed"}"#.to_string(),
            ),
            None => (
                404,
                format!(r#"{{"message":"no answer for {method} {path}"}}"#),
            ),
        };
        HttpConnectorFuture::ready(Ok(HttpResponse::new(
            status.try_into().unwrap(),
            SdkBody::from(body),
        )))
    }
}
