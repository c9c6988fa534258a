//! The `cmd-resp` function: `esp_cmd_resp`, and the commands it sends on `to-node`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{cmd_resp, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(cmd_resp::Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        iot: runtime::iot_data(&config)?,
        table: runtime::table("TABLE_NODE_PARAMS")?,
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { cmd_resp::handle(&ctx, event.payload).await }
    }))
    .await
}
