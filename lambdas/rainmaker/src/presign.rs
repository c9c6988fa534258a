//! Presigned S3 GET URLs for firmware (the `otaurl` a node downloads from), signed with SigV4
//! query parameters; without the S3 SDK, which would double the function's size.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use lambda_runtime::Error;

/// Where the bucket's objects are reached: AWS (virtual-hosted style, `.amazonaws.com.cn` in the
/// China regions) or a custom endpoint such as an emulator (path style).
pub fn object_url(endpoint: Option<&str>, region: &str, bucket: &str, key: &str) -> String {
    let key: String = key
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    match endpoint {
        Some(e) => format!("{}/{bucket}/{key}", e.trim_end_matches('/')),
        None => {
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://{bucket}.s3.{region}.{suffix}/{key}")
        }
    }
}

/// RFC 3986 unreserved characters stay, everything else is %-encoded (S3 key segments, thing
/// names in a path).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The function's region and its role's current credentials, to sign a request with.
pub async fn region_and_credentials(
    config: &aws_config::SdkConfig,
) -> Result<(String, aws_credential_types::Credentials), Error> {
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS region in the function's environment")?;
    let credentials = config
        .credentials_provider()
        .ok_or("no AWS credentials provider")?
        .provide_credentials()
        .await?;
    Ok((region, credentials))
}

/// A URL that lets its holder GET the object until `expires_in` has passed.
pub async fn get_url(
    config: &aws_config::SdkConfig,
    bucket: &str,
    key: &str,
    expires_in: Duration,
    at: SystemTime,
) -> Result<String, Error> {
    let (region, credentials) = region_and_credentials(config).await?;
    let url = object_url(config.endpoint_url(), &region, bucket, key);
    sign_url(&url, &region, credentials, expires_in, at)
}

/// Sign `url` for a GET with SigV4 query parameters (`X-Amz-*`).
pub fn sign_url(
    url: &str,
    region: &str,
    credentials: aws_credential_types::Credentials,
    expires_in: Duration,
    at: SystemTime,
) -> Result<String, Error> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(at)
        .settings(settings)
        .build()?
        .into();
    let request = SignableRequest::new(
        "GET",
        url,
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )?;
    let (instructions, _) = sign(request, &params)?.into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}{}", query.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_partition_and_custom_endpoints() {
        assert_eq!(
            object_url(None, "eu-west-1", "fw", "firmware/light/1.2.0 a.bin"),
            "https://fw.s3.eu-west-1.amazonaws.com/firmware/light/1.2.0%20a.bin"
        );
        assert_eq!(
            object_url(None, "cn-north-1", "fw", "k.bin"),
            "https://fw.s3.cn-north-1.amazonaws.com.cn/k.bin"
        );
        assert_eq!(
            object_url(Some("http://127.0.0.1:5000/"), "us-east-1", "fw", "k.bin"),
            "http://127.0.0.1:5000/fw/k.bin"
        );
    }

    /// The example of the S3 documentation ("Authenticating Requests: Using Query Parameters"):
    /// GET /test.txt from examplebucket, 2013-05-24T00:00:00Z, 86400 s.
    #[test]
    fn signs_like_the_s3_documentation_example() {
        let credentials = aws_credential_types::Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "example",
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let url = sign_url(
            "https://examplebucket.s3.amazonaws.com/test.txt",
            "us-east-1",
            credentials,
            Duration::from_secs(86_400),
            at,
        )
        .unwrap();
        assert!(url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{url}");
        assert!(
            url.contains(
                "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=86400"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=host"), "{url}");
        assert!(
            url.contains(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }
}
