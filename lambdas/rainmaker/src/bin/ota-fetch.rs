//! The `ota-fetch` function: `esp_node_otafetch`, answered on `otaurl`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{ota_fetch, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    // One context for the life of the process: its job cache outlives each invocation.
    let ctx = Arc::new(ota_fetch::Ctx::new(
        aws_sdk_dynamodb::Client::new(&config),
        runtime::iot_data(&config)?,
        config.clone(),
        runtime::table("TABLE_NODES")?,
        runtime::table("TABLE_OTA_JOBS")?,
        runtime::table("FIRMWARE_BUCKET")?,
    ));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { ota_fetch::handle(&ctx, event.payload).await }
    }))
    .await
}
