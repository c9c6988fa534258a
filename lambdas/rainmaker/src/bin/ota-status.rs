//! The `ota-status` function: see [`rmdeploy_lambdas::ota_status`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{ota_status, runtime};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let table = runtime::table("TABLE_OTA_JOBS")?;
    let db = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (db, table) = (db.clone(), table.clone());
        async move { ota_status::handle(&db, &table, event.payload).await }
    }))
    .await
}
