//! The `ota-status` function: see [`rmdeploy_lambdas::ota_status`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{ota_status, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(ota_status::Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        table: runtime::table("TABLE_OTA_JOBS")?,
        config: config.clone(),
        ota_fetch: runtime::optional("FUNCTION_OTA_FETCH"),
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { ota_status::handle_and_free(&ctx, event.payload).await }
    }))
    .await
}
