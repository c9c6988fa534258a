//! The `authorizer` function: see [`rmdeploy_lambdas::authorizer`].

use std::sync::{Arc, Mutex};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rmdeploy_lambdas::authorizer::{allow, Expect, KeyCache};
use rmdeploy_lambdas::runtime;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    runtime::init_logs();
    let expect = Expect {
        issuer: runtime::table("OAUTH2_ISSUER")?,
        audience: runtime::table("OAUTH2_AUDIENCE")?,
        groups_claim: rmdeploy_lambdas::runtime::optional("GROUPS_CLAIM")
            .unwrap_or_else(|| Expect::DEFAULT_GROUPS_CLAIM.into()),
    };
    let cache = Arc::new(Mutex::new(KeyCache::new(&runtime::table(
        "OAUTH2_JWKS_URI",
    )?)));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (cache, expect) = (cache.clone(), expect.clone());
        async move {
            let token = event.payload["authorizationToken"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let arn = event.payload["methodArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // The JWKS fetch blocks: run it off the runtime's thread.
            let verdict = tokio::task::spawn_blocking(move || {
                cache
                    .lock()
                    .expect("never poisoned")
                    .verify(&token, &expect)
            })
            .await?;
            match verdict {
                Ok(principal) => Ok(allow(&principal, &arn)),
                Err(why) => {
                    tracing::info!(reason = ?why, "token refused");
                    // API Gateway answers 401 for exactly this message.
                    Err::<Value, Error>("Unauthorized".into())
                }
            }
        }
    }))
    .await
}
