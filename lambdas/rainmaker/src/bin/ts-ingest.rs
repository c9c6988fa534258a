//! The `ts-ingest` function: see [`rmdeploy_lambdas::ts_ingest`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{runtime, ts_ingest};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let table = runtime::table("TABLE_TIMESERIES")?;
    let db = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (db, table) = (db.clone(), table.clone());
        async move { ts_ingest::handle(&db, &table, event.payload).await }
    }))
    .await
}
