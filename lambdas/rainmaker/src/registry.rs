//! The AWS IoT registry (control plane), read with SigV4-signed GETs (service `iot`) over ureq:
//! the functions do not link the IoT control-plane SDK. The endpoint is
//! `iot.<region>.amazonaws.com` (`.com.cn` in China), or the configured one (`AWS_ENDPOINT_URL`,
//! an emulator in tests).
//!
//! - A node's thing (`DescribeThing`, `GET /things/{thingName}`): its attributes, which bind the
//!   node to its firmware (ota-fetch).
//! - A node's certificate: the ACTIVE certificate attached to its thing
//!   (`ListThingPrincipals`, `GET /things/{thingName}/principals`, then `DescribeCertificate`,
//!   `GET /certificates/{certificateId}`), whose key signs the node's answers to mapping
//!   challenges (the `challenge` module).

use lambda_runtime::Error;
use serde_json::Value;

use crate::presign::percent_encode;

/// Pages of principals read for one thing at most (250 principals each).
const PRINCIPAL_PAGES: usize = 4;

/// A SigV4-signed GET of `path` (with its query, percent-encoded) on the IoT control plane
/// (`iot.<region>.amazonaws.com`, `.com.cn` in China, or the configured endpoint): the JSON
/// answer, or `None` on 404 (no such thing or certificate).
pub async fn signed_get(
    config: &aws_config::SdkConfig,
    path: &str,
) -> Result<Option<Value>, Error> {
    match crate::sigv4::send(config, "iot", "GET", path, &[], Vec::new()).await? {
        Some((_, body)) => Ok(Some(serde_json::from_str(&body)?)),
        None => Ok(None),
    }
}

/// A thing as `DescribeThing` returns it (`{"thingName", "attributes", ...}`); `None` when there
/// is no such thing.
pub async fn describe_thing(
    config: &aws_config::SdkConfig,
    thing: &str,
) -> Result<Option<Value>, Error> {
    signed_get(config, &format!("/things/{}", percent_encode(thing))).await
}

/// The certificate id of a principal that is an AWS IoT certificate
/// (`arn:<partition>:iot:<region>:<account>:cert/<id>`); IAM and Cognito principals are not.
pub fn certificate_id(principal: &str) -> Option<&str> {
    let (head, id) = principal.rsplit_once(":cert/")?;
    (head.starts_with("arn:")
        && !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(id)
}

/// The PEM of the ACTIVE certificate attached to a thing (the first one the registry lists);
/// `None` when the thing does not exist or has no active certificate.
pub async fn certificate_of_thing(
    config: &aws_config::SdkConfig,
    thing: &str,
) -> Result<Option<String>, Error> {
    let mut principals = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..PRINCIPAL_PAGES {
        let mut path = format!(
            "/things/{}/principals?maxResults=250",
            percent_encode(thing)
        );
        if let Some(token) = &next {
            path.push_str(&format!("&nextToken={}", percent_encode(token)));
        }
        let Some(page) = signed_get(config, &path).await? else {
            return Ok(None);
        };
        principals.extend(
            page["principals"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        next = page["nextToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    for id in principals.iter().filter_map(|p| certificate_id(p)) {
        let Some(answer) = signed_get(config, &format!("/certificates/{id}")).await? else {
            continue;
        };
        let description = &answer["certificateDescription"];
        if description["status"] == "ACTIVE" {
            if let Some(pem) = description["certificatePem"].as_str() {
                return Ok(Some(pem.to_string()));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certificate_principals_name_a_certificate() {
        let id = "4987ea8be1a160d2eed9c305bf6983e9cf2232445c3facaf5588f0554cc34030";
        assert_eq!(
            certificate_id(&format!("arn:aws:iot:us-east-1:123456789012:cert/{id}")),
            Some(id)
        );
        assert_eq!(
            certificate_id(&format!("arn:aws-cn:iot:cn-north-1:123456789012:cert/{id}")),
            Some(id)
        );
        for other in [
            "arn:aws:iam::123456789012:role/admin",
            "us-east-1:1234abcd-0000-0000-0000-000000000000",
            "arn:aws:iot:us-east-1:123456789012:cert/",
            "arn:aws:iot:us-east-1:123456789012:cert/../things/x",
            "cert/abcd",
        ] {
            assert_eq!(certificate_id(other), None, "{other}");
        }
    }
}
