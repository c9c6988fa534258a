//! AWS Lambda, the two calls rmdeploy makes (an asynchronous invocation, the account's
//! concurrency), over [`Rest`]. Paths and shapes are the Lambda API reference's.

use serde_json::Value;

use super::rest::{encode, Call, Failure, Rest};

/// Lambda in one account and region.
#[derive(Debug, Clone)]
pub struct Lambda {
    pub rest: Rest,
}

/// `GetAccountSettings`' `AccountLimit`: the concurrency limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concurrency {
    pub limit: Option<f64>,
    pub unreserved: Option<f64>,
}

impl Lambda {
    /// `Invoke` of `function` with `payload`, asynchronously (`Event`): queued, not awaited.
    pub async fn invoke_async(&self, function: &str, payload: &Value) -> Result<(), Failure> {
        let call = Call::new(
            "lambda:Invoke",
            "POST",
            format!("/2015-03-31/functions/{}/invocations", encode(function)),
        )
        .header("x-amz-invocation-type", "Event")
        .json(payload.clone());
        self.rest.send(&call).await.map(drop)
    }

    /// `GetAccountSettings`: the account's concurrency limits.
    pub async fn concurrency(&self) -> Result<Concurrency, Failure> {
        let call = Call::new(
            "lambda:GetAccountSettings",
            "GET",
            "/2016-08-19/account-settings/".into(),
        );
        let v = self.rest.send(&call).await?;
        let limit = |k: &str| {
            v.pointer(&format!("/AccountLimit/{k}"))
                .and_then(Value::as_f64)
        };
        Ok(Concurrency {
            limit: limit("ConcurrentExecutions"),
            unreserved: limit("UnreservedConcurrentExecutions"),
        })
    }
}
