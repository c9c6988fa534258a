//! The `cmd-resp` function: `esp_cmd_resp`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{cmd_resp, runtime};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let table = runtime::table("TABLE_NODE_PARAMS")?;
    let db = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (db, table) = (db.clone(), table.clone());
        async move { cmd_resp::handle(&db, &table, event.payload).await }
    }))
    .await
}
