//! The `api` function: the user REST API, see [`rmdeploy_lambdas::api`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::api::{self, ApiTables, Ctx};
use rmdeploy_lambdas::{mapping, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        iot: runtime::iot_data(&config)?,
        config: config.clone(),
        tables: ApiTables {
            nodes: runtime::table("TABLE_NODES")?,
            params: runtime::table("TABLE_NODE_PARAMS")?,
            jobs: runtime::table("TABLE_OTA_JOBS")?,
            mapping: mapping::Tables {
                requests: runtime::table("TABLE_MAPPING_REQUESTS")?,
                user_nodes: runtime::table("TABLE_USER_NODES")?,
            },
        },
        ota_fetch: runtime::optional("FUNCTION_OTA_FETCH"),
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { api::handle(&ctx, event.payload).await }
    }))
    .await
}
