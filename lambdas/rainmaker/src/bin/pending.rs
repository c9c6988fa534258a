//! Placeholder for a function whose handler is not bundled yet. The stack needs code for every
//! function it declares; until its handler ships, a function runs this, which logs and fails every
//! invocation with a message that names the function, so nothing is silently dropped (IoT rule
//! invocations end in the function's dead-letter queue, API calls get an error).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    rmdeploy_lambdas::runtime::init_logs();
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "this function".into());
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| {
        let function = function.clone();
        async move {
            tracing::error!(%function, "handler not bundled in this rmdeploy version");
            Err::<Value, Error>(
                format!("{function}: the handler is not bundled in this rmdeploy version yet")
                    .into(),
            )
        }
    }))
    .await
}
