//! The `node-alert` function: `esp_node_alert`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{alert, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(alert::Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        params_table: runtime::table("TABLE_NODE_PARAMS")?,
        user_nodes_table: runtime::table("TABLE_USER_NODES")?,
        sns: runtime::optional("PUSH_TOPIC_ARN").map(|t| (aws_sdk_sns::Client::new(&config), t)),
        sqs: runtime::optional("WEBHOOK_QUEUE_URL").map(|q| (aws_sdk_sqs::Client::new(&config), q)),
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { alert::handle(&ctx, event.payload).await }
    }))
    .await
}
