//! AWS requests signed with SigV4 and sent over ureq, for the few control-plane calls the
//! functions make (the IoT registry, an asynchronous Lambda invocation): they do not link those
//! services' SDKs. Endpoints are `<service>.<region>.amazonaws.com` (`.com.cn` in China), or the
//! configured one (`AWS_ENDPOINT_URL`, an emulator in tests).

use std::time::{Duration, SystemTime};

use lambda_runtime::Error;

/// The URL of `path` (percent-encoded, starting with `/`) on a service's regional endpoint, or
/// at the configured endpoint.
pub fn service_url(endpoint: Option<&str>, service: &str, region: &str, path: &str) -> String {
    let base = match endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None if region.starts_with("cn-") => format!("https://{service}.{region}.amazonaws.com.cn"),
        None => format!("https://{service}.{region}.amazonaws.com"),
    };
    format!("{base}{path}")
}

/// What a signed request got: the status and the body, or `None` on 404.
pub type Reply = Option<(u16, String)>;

/// Send `method` `path` to `service` (signing name and endpoint prefix), signed with the
/// function's credentials, with `headers` and `body`. A status other than 2xx or 404 is an error
/// naming `what` and the start of the answer.
pub async fn send(
    config: &aws_config::SdkConfig,
    service: &str,
    method: &'static str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, Error> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let (region, credentials) = crate::presign::region_and_credentials(config).await?;
    let url = service_url(config.endpoint_url(), service, &region, path);
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let request = SignableRequest::new(
        method,
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )?;
    let (instructions, _) = sign(request, &params)?.into_parts();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
    let reply = tokio::task::spawn_blocking(move || {
        let mut req = ureq::request(method, &url).timeout(Duration::from_secs(5));
        for (k, v) in &all {
            req = req.set(k, v);
        }
        let answer = if body.is_empty() && method == "GET" {
            req.call()
        } else {
            req.send_bytes(&body)
        };
        match answer {
            Ok(r) => {
                let status = r.status();
                r.into_string()
                    .map(|b| Some((status, b)))
                    .map_err(|e| e.to_string())
            }
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(ureq::Error::Status(code, r)) => Err(format!(
                "{what} answered {code}: {}",
                r.into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect::<String>()
            )),
            Err(e) => Err(format!("{what}: {e}")),
        }
    })
    .await??;
    Ok(reply)
}

/// Invoke a function asynchronously (`Invoke` with `X-Amz-Invocation-Type: Event`): Lambda
/// queues the event and answers 202 at once.
pub async fn invoke_async(
    config: &aws_config::SdkConfig,
    function: &str,
    event: &serde_json::Value,
) -> Result<(), Error> {
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        crate::presign::percent_encode(function)
    );
    match send(
        config,
        "lambda",
        "POST",
        &path,
        &[("x-amz-invocation-type", "Event")],
        event.to_string().into_bytes(),
    )
    .await?
    {
        Some(_) => Ok(()),
        None => Err(format!("invoking {function}: no such function").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_reached_in_the_partition_or_at_the_configured_endpoint() {
        assert_eq!(
            service_url(
                None,
                "lambda",
                "eu-west-1",
                "/2015-03-31/functions/f/invocations"
            ),
            "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/f/invocations"
        );
        assert_eq!(
            service_url(None, "iot", "cn-north-1", "/things/a%3Ab"),
            "https://iot.cn-north-1.amazonaws.com.cn/things/a%3Ab"
        );
        assert_eq!(
            service_url(Some("http://127.0.0.1:5000/"), "iot", "us-east-1", "/x"),
            "http://127.0.0.1:5000/x"
        );
    }
}
