//! The `auth` function: sign-up and login, see [`rmdeploy_lambdas::auth`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::{auth, runtime};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let config = runtime::aws_config().await;
    let ctx = Arc::new(auth::Ctx {
        cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
        client_id: runtime::table("USER_POOL_CLIENT_ID")?,
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { auth::handle(&ctx, event.payload).await }
    }))
    .await
}
