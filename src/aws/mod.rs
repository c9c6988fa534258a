//! AWS access: one `SdkConfig` from `--region`, `--aws-profile` / `AWS_PROFILE`, `--endpoint-url` /
//! `AWS_ENDPOINT_URL` and the standard environment, with SDK retries on; the service clients are
//! built from it once and passed down as [`Clients`].

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

mod error;
pub mod iot;
pub mod lambda;
pub mod rest;

pub use error::AwsError;

use crate::settings::Settings;

/// How rmdeploy reaches AWS (or an endpoint that speaks its API).
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Named profile of the AWS config and credentials files.
    pub aws_profile: Option<String>,
    /// Send every AWS call to this endpoint, for example a local emulator.
    pub endpoint_url: Option<String>,
    /// Use these credentials instead of the standard chain (an emulator's test keys).
    pub credentials: Option<aws_credential_types::Credentials>,
}

impl Access {
    /// Whether an account is configured at all (cheap: no network). `plan` goes live only then.
    pub fn account_configured(&self) -> bool {
        let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        // The shared files: where the variable points, else under ~/.aws, as the SDK reads them.
        let file = |var: &str, name: &str| {
            let path = match std::env::var_os(var) {
                Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
                _ => match std::env::var_os("HOME") {
                    Some(h) => std::path::Path::new(&h).join(".aws").join(name),
                    None => return false,
                },
            };
            path.is_file()
        };
        self.aws_profile.is_some()
            || self.endpoint_url.is_some()
            || env("AWS_ACCESS_KEY_ID")
            || env("AWS_WEB_IDENTITY_TOKEN_FILE")
            || env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            || env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            || file("AWS_CONFIG_FILE", "config")
            || file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    }
}

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a call may wait for its connection, and for the first byte of the answer after sending
/// the request, before the attempt counts as failed and is retried: an endpoint that stops
/// answering fails the command after the retries instead of hanging it.
/// `RMDEPLOY_READ_TIMEOUT_MS` sets the second (default 60 s).
pub fn timeouts(settings: &Settings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(settings.read_timeout)
        .build()
}

/// The service clients of one account and region.
#[derive(Debug, Clone)]
pub struct Clients {
    pub config: SdkConfig,
    pub region: String,
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub iot: iot::Iot,
    pub quotas: aws_sdk_servicequotas::Client,
    pub lambda: lambda::Lambda,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// How long to wait between polls of CloudFormation.
    pub poll: std::time::Duration,
}

impl Clients {
    pub async fn connect(args: &Access, region: &str) -> Clients {
        let settings = Settings::get();
        // One HTTPS client for every service: rustls with ring.
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        // ... and the same for the services called without an SDK crate (`rest`).
        let connector = SharedHttpConnector::new(
            aws_smithy_http_client::Connector::builder()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .connector_settings(
                    HttpConnectorSettings::builder()
                        .connect_timeout(CONNECT_TIMEOUT)
                        .read_timeout(settings.read_timeout)
                        .build(),
                )
                .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
                .build(),
        );
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https)
            .region(Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
            .timeout_config(timeouts(settings));
        if let Some(profile) = &args.aws_profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &args.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        // A custom endpoint (an emulator on loopback) cannot serve virtual-hosted bucket names.
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(args.endpoint_url.is_some())
            .build();
        Clients {
            region: region.to_string(),
            cfn: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            iot: iot::Iot {
                rest: rest::Rest::new("iot", &config, connector.clone(), settings.max_attempts),
            },
            quotas: aws_sdk_servicequotas::Client::new(&config),
            lambda: lambda::Lambda {
                rest: rest::Rest::new("lambda", &config, connector, settings.max_attempts),
            },
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            poll: settings.poll,
            config,
        }
    }

    /// Fails with a message that says how to provide credentials when none can be found.
    pub async fn require_credentials(&self) -> Result<(), AwsError> {
        let reason = match self.config.credentials_provider() {
            None => "no credentials provider is configured".to_string(),
            Some(provider) => match provider.provide_credentials().await {
                Ok(_) => return Ok(()),
                Err(e) => aws_credential_types::provider::error::CredentialsError::to_string(&e),
            },
        };
        Err(AwsError::NoCredentials { reason })
    }
}

/// The full text of an SDK error: the operation's error code and message, and their causes.
pub fn describe<E: std::error::Error>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    async fn cloudformation_endpoint(region: &str) -> String {
        let params = Params::builder().region(region).build().unwrap();
        DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .unwrap()
            .url()
            .to_string()
    }

    #[tokio::test]
    async fn china_regions_resolve_to_the_china_endpoints() {
        assert_eq!(
            cloudformation_endpoint("cn-north-1").await,
            "https://cloudformation.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            cloudformation_endpoint("cn-northwest-1").await,
            "https://cloudformation.cn-northwest-1.amazonaws.com.cn"
        );
        assert_eq!(
            cloudformation_endpoint("eu-west-1").await,
            "https://cloudformation.eu-west-1.amazonaws.com"
        );
    }

    #[tokio::test]
    async fn s3_and_iot_follow_the_partition_too() {
        use aws_sdk_s3::config::endpoint::{self as s3, ResolveEndpoint as _};
        let p = s3::Params::builder().region("cn-north-1").build().unwrap();
        let url = s3::DefaultResolver::new()
            .resolve_endpoint(&p)
            .await
            .unwrap()
            .url()
            .to_string();
        assert!(url.ends_with(".amazonaws.com.cn"), "{url}");
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("cn-northwest-1"))
            .build();
        let http = aws_smithy_runtime_api::client::http::SharedHttpConnector::new(
            aws_smithy_http_client::Connector::builder().build_http(),
        );
        let iot = super::rest::Rest::new("iot", &config, http, 1);
        assert_eq!(iot.base(), "https://iot.cn-northwest-1.amazonaws.com.cn");
    }
}
