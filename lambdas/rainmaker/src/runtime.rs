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

/// The SDK configuration from the function's environment, over rustls with ring.
pub async fn aws_config() -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}

/// A table name from the environment (`TABLE_<NAME>`, set by the template).
pub fn table(var: &str) -> Result<String, Error> {
    std::env::var(var).map_err(|_| format!("{var} is not set").into())
}
