//! The `user-mapping` function: see [`rmdeploy_lambdas::mapping`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::mapping::{self, Tables};
use rmdeploy_lambdas::runtime;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let tables = Tables {
        requests: runtime::table("TABLE_MAPPING_REQUESTS")?,
        user_nodes: runtime::table("TABLE_USER_NODES")?,
    };
    let db = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (db, tables) = (db.clone(), tables.clone());
        async move { mapping::handle(&db, &tables, event.payload).await }
    }))
    .await
}
