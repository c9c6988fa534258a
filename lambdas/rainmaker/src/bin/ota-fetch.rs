//! The `ota-fetch` function: `esp_node_otafetch`, answered on `otaurl`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{ota_fetch, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(ota_fetch::Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        iot: runtime::iot_data(&config)?,
        nodes_table: runtime::table("TABLE_NODES")?,
        jobs_table: runtime::table("TABLE_OTA_JOBS")?,
        bucket: runtime::table("FIRMWARE_BUCKET")?,
        config,
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { ota_fetch::handle(&ctx, event.payload).await }
    }))
    .await
}
