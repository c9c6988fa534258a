//! The `claim` function: host-driven claiming and the MQTT host, see [`rmdeploy_lambdas::claim`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::claim::{self, Ctx};
use rmdeploy_lambdas::runtime;
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let per_hour = runtime::table("CLAIMS_PER_USER_PER_HOUR")?
        .parse()
        .map_err(|e| format!("CLAIMS_PER_USER_PER_HOUR is not a count: {e}"))?;
    let ctx = Arc::new(Ctx {
        db: aws_sdk_dynamodb::Client::new(&config),
        config: config.clone(),
        table: runtime::table("TABLE_CLAIMS")?,
        thing_type: runtime::table("THING_TYPE")?,
        node_policy: runtime::table("NODE_POLICY")?,
        data_endpoint: runtime::table("IOT_DATA_ENDPOINT")?,
        project: runtime::optional("CLAIM_PROJECT"),
        per_hour,
        credential_endpoint: Default::default(),
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { claim::handle(&ctx, event.payload).await }
    }))
    .await
}
