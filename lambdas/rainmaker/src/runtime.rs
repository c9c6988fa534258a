//! What every function does at start: JSON logs at the profile's level, the AWS configuration
//! (rustls with ring), and the tables it was given.

use lambda_runtime::Error;

/// JSON logs without timestamps (CloudWatch adds them), at the level in `RUST_LOG` (one level,
/// the profile's `lambda.log_level`; no filter syntax).
pub fn init_logs() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .without_time()
        .init();
}

/// The SDK configuration from the function's environment, over rustls with ring. Built from the
/// variables Lambda sets (`AWS_REGION`, the role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`) and `AWS_ENDPOINT_URL` when given, not with `aws_config::defaults`: the
/// default chain (profiles, SSO, STS web identity, IMDS, ECS) is never needed in Lambda and links
/// an STS client into every function.
pub async fn aws_config() -> aws_config::SdkConfig {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(
            std::env::var("AWS_REGION")
                .ok()
                .map(aws_config::Region::new),
        )
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https)
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .retry_config(aws_smithy_types::retry::RetryConfig::standard());
    if let Some(url) = optional("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.build()
}

/// A setting from the environment (`TABLE_<NAME>`, `FIRMWARE_BUCKET`, ...), set by the template.
pub fn table(var: &str) -> Result<String, Error> {
    std::env::var(var).map_err(|_| format!("{var} is not set").into())
}

/// A setting the template sets only with some features (`PUSH_TOPIC_ARN`, `USER_POOL_ID`, ...).
pub fn optional(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The IoT data-plane client for the account's `iot:Data-ATS` endpoint (`IOT_DATA_ENDPOINT`, a
/// host name, or a URL when testing).
pub fn iot_data(config: &aws_config::SdkConfig) -> Result<aws_sdk_iotdataplane::Client, Error> {
    let endpoint = table("IOT_DATA_ENDPOINT")?;
    let url = if endpoint.contains("://") {
        endpoint
    } else {
        format!("https://{endpoint}")
    };
    let conf = aws_sdk_iotdataplane::config::Builder::from(config)
        .endpoint_url(url)
        .build();
    Ok(aws_sdk_iotdataplane::Client::from_conf(conf))
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The whole `main` of a function that reads one table, named by the variable `$table`, and hands
/// each event to `$handle(&db, &table, payload)`.
#[macro_export]
macro_rules! one_table_function {
    ($table:literal, $handle:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), lambda_runtime::Error> {
            use $crate::runtime;
            runtime::init_logs();
            let table = runtime::table($table)?;
            let db = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
            lambda_runtime::run(lambda_runtime::service_fn(
                |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
                    let (db, table) = (db.clone(), table.clone());
                    async move { $handle(&db, &table, event.payload).await }
                },
            ))
            .await
        }
    };
}
