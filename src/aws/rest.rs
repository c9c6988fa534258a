//! AWS's REST-JSON APIs (IoT's control plane, Lambda) called directly: SigV4-signed requests over
//! the same HTTPS connector as the SDK clients, with the same attempts and timeouts. rmdeploy makes
//! a few dozen kinds of these calls; their SDK crates cost more compile time than all of
//! rmdeploy's own code (aws-sdk-iot alone: 84 s of a cold release build on 2 cores).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use serde_json::Value;

use super::AwsError;

/// One service's endpoint in one account and region.
#[derive(Clone)]
pub struct Rest {
    inner: Arc<Inner>,
}

struct Inner {
    /// The signing name, also the endpoint's first label (`iot`, `lambda`).
    service: &'static str,
    base: String,
    region: String,
    config: SdkConfig,
    connector: SharedHttpConnector,
    attempts: u32,
    credentials: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("service", &self.inner.service)
            .field("base", &self.inner.base)
            .finish()
    }
}

/// The regional endpoint of `service`: `.amazonaws.com.cn` in China.
pub fn regional_endpoint(service: &str, region: &str) -> String {
    match region.starts_with("cn-") {
        true => format!("https://{service}.{region}.amazonaws.com.cn"),
        false => format!("https://{service}.{region}.amazonaws.com"),
    }
}

/// A path segment or query value, percent-encoded (all but RFC 3986's unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One request: the operation's name (for errors), method, path (segments already encoded),
/// query, extra headers and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: &'static str,
    pub method: &'static str,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Call {
    pub fn new(operation: &'static str, method: &'static str, path: String) -> Call {
        Call {
            operation,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.query.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    fn url(&self, base: &str) -> String {
        let mut url = format!("{}{}", base.trim_end_matches('/'), self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
        url
    }
}

/// A call that failed: the service's error code (`ResourceNotFoundException`) and message, or
/// what went wrong on the way (no answer, an unreadable one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub operation: &'static str,
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
}

impl Failure {
    /// Whether the service answered with error `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    fn local(operation: &'static str, message: String) -> Failure {
        Failure {
            operation,
            status: None,
            code: String::new(),
            message,
        }
    }

    /// Worth another attempt: throttled, a server error, or no answer at all.
    fn transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || s >= 500 || self.code.contains("Throttl"),
        }
    }
}

impl From<Failure> for AwsError {
    fn from(f: Failure) -> AwsError {
        let text = match (f.code.is_empty(), f.message.is_empty()) {
            (true, _) => f.message,
            (false, true) => f.code,
            (false, false) => format!("{}: {}", f.code, f.message),
        };
        AwsError::message(f.operation, text)
    }
}

impl Rest {
    /// `service`'s endpoint for `config` (its region, credentials and endpoint URL), through
    /// `connector`, with `attempts` tries for throttled or failed calls.
    pub fn new(
        service: &'static str,
        config: &SdkConfig,
        connector: SharedHttpConnector,
        attempts: u32,
    ) -> Rest {
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let base = match config.endpoint_url() {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => regional_endpoint(service, &region),
        };
        Rest {
            inner: Arc::new(Inner {
                service,
                base,
                region,
                config: config.clone(),
                connector,
                attempts: attempts.max(1),
                credentials: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The endpoint calls go to.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// Send `call` and read the answer's JSON (`null` when it has no body). Throttling, server
    /// errors and lost connections are retried with exponential backoff.
    pub async fn send(&self, call: &Call) -> Result<Value, Failure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(call).await {
                Err(f) if f.transient() && attempt < self.inner.attempts => {
                    tokio::time::sleep(backoff(attempt)).await
                }
                other => return other,
            }
        }
    }

    async fn once(&self, call: &Call) -> Result<Value, Failure> {
        let op = call.operation;
        let url = call.url(&self.inner.base);
        let body = match &call.body {
            Some(v) => v.to_string().into_bytes(),
            None => Vec::new(),
        };
        let mut headers: Vec<(String, String)> = call
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if call.body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let signed = self.sign(call.method, &url, &headers, &body).await?;
        headers.extend(signed);
        let mut request = HttpRequest::new(SdkBody::from(body));
        request
            .set_method(call.method)
            .map_err(|e| Failure::local(op, e.to_string()))?;
        request
            .set_uri(url.as_str())
            .map_err(|e| Failure::local(op, e.to_string()))?;
        for (k, v) in headers {
            request.headers_mut().insert(k, v);
        }
        let response = self.inner.connector.call(request).await.map_err(|e| {
            Failure::local(op, format!("dispatch failure: {}", super::describe(&e)))
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(|t| t.split(':').next().unwrap_or(t).to_string());
        let bytes = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| Failure::local(op, format!("response error: {e}")))?
            .into_bytes();
        let json: Value = match bytes.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into())
            }),
        };
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let field = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
        let code = error_type
            .or_else(|| field("__type").or_else(|| field("code")))
            .map(|c| c.rsplit('#').next().unwrap_or(&c).to_string())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = field("message")
            .or_else(|| field("Message"))
            .or_else(|| json.as_str().map(str::to_string))
            .unwrap_or_default();
        Err(Failure {
            operation: op,
            status: Some(status),
            code,
            message,
        })
    }

    /// The SigV4 headers for a request.
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, Failure> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let fail = |e: &dyn std::fmt::Display| Failure::local("signing", e.to_string());
        let identity = self.credentials().await?.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.inner.region)
            .name(self.inner.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(&e))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| fail(&e))?;
        let (instructions, _) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// The credentials, asked of the provider again only when they expire within five minutes.
    async fn credentials(&self) -> Result<Credentials, Failure> {
        let mut held = self.inner.credentials.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|t| t > SystemTime::now() + Duration::from_secs(300))
        };
        if let Some(c) = held.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let provider = self.inner.config.credentials_provider().ok_or_else(|| {
            Failure::local(
                "credentials",
                "no credentials provider is configured".into(),
            )
        })?;
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| Failure::local("credentials", super::describe(&e)))?;
        *held = Some(c.clone());
        Ok(c)
    }

    /// Every page of a listing: `call` again with `token_param` set to the answer's
    /// `token_field` until an answer has none.
    pub fn pages(&self, call: Call, token_param: &'static str, token_field: &'static str) -> Pages {
        Pages {
            rest: self.clone(),
            call,
            token_param,
            token_field,
            next: Some(None),
        }
    }
}

/// A listing, page by page.
pub struct Pages {
    rest: Rest,
    call: Call,
    token_param: &'static str,
    token_field: &'static str,
    /// `None` when done; `Some(None)` before the first page.
    next: Option<Option<String>>,
}

impl Pages {
    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Value, Failure>> {
        let token = self.next.take()?;
        let mut call = self.call.clone();
        if let Some(t) = token {
            call = call.query(self.token_param, t);
        }
        let page = self.rest.send(&call).await;
        if let Ok(p) = &page {
            self.next = p
                .get(self.token_field)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| Some(t.to_string()));
        }
        Some(page)
    }
}

/// The wait before attempt `attempt + 1`: 100 ms doubling to at most 20 s, less a jitter of up to
/// half (from the clock's nanoseconds: no random number generator for this).
fn backoff(attempt: u32) -> Duration {
    let full = Duration::from_millis(100u64 << attempt.min(8)).min(Duration::from_secs(20));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    full - full.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded_and_china_has_its_own_domain() {
        assert_eq!(encode("iot:Data-ATS"), "iot%3AData-ATS");
        assert_eq!(encode("a b/c+d=="), "a%20b%2Fc%2Bd%3D%3D");
        assert_eq!(
            regional_endpoint("iot", "cn-northwest-1"),
            "https://iot.cn-northwest-1.amazonaws.com.cn"
        );
        assert_eq!(
            regional_endpoint("lambda", "eu-west-1"),
            "https://lambda.eu-west-1.amazonaws.com"
        );
        let call = Call::new("DescribeEndpoint", "GET", "/endpoint".into())
            .query("endpointType", "iot:Data-ATS");
        assert_eq!(
            call.url("http://127.0.0.1:5000/"),
            "http://127.0.0.1:5000/endpoint?endpointType=iot%3AData-ATS"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(1) >= Duration::from_millis(100));
        assert!(backoff(30) <= Duration::from_secs(20));
        assert!(backoff(30) >= Duration::from_secs(10));
    }

    #[test]
    fn throttling_and_server_errors_are_retried_client_errors_are_not() {
        let f = |status, code: &str| Failure {
            operation: "X",
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(f(Some(429), "TooManyRequestsException").transient());
        assert!(f(Some(400), "ThrottlingException").transient());
        assert!(f(Some(503), "ServiceUnavailableException").transient());
        assert!(f(None, "").transient());
        assert!(!f(Some(404), "ResourceNotFoundException").transient());
        assert!(!f(Some(403), "AccessDeniedException").transient());
    }
}
