//! The user REST API (API Gateway proxy integration), following the ESP RainMaker v1 paths and
//! payloads so that existing clients work by changing only the base URL: `user/nodes`, `user/nodes/status`, `user/nodes/config`,
//! `user/nodes/params` (GET; PUT publishes `params/remote`), `user/nodes/mapping`, the
//! challenge-response mapping (`user/nodes/mapping/initiate` and `verify`), and
//! `admin/otajobs`. Sign-up and login (`user2`, `login2`) are the `auth` function's.
//!
//! The caller is who the authorizer says: the OAuth2 authorizer's `principalId`, or the Cognito
//! authorizer's `sub` claim. Errors are `{"status": "failure", "description", "error_code"}`.

mod challenge;
mod nodes;
mod ota;

use lambda_runtime::Error;
use serde_json::Value;

pub use crate::http::{admin_group, code, groups_claim, groups_of, internal, Answer, Request};
use crate::mapping::Tables;

/// What the function needs.
pub struct Ctx {
    pub db: aws_sdk_dynamodb::Client,
    pub iot: aws_sdk_iotdataplane::Client,
    /// Region, credentials and endpoint, to sign registry reads (a node's certificate).
    pub config: aws_config::SdkConfig,
    pub tables: ApiTables,
    /// The `ota-fetch` function, asked to offer a resumed job to online nodes
    /// (`FUNCTION_OTA_FETCH`).
    pub ota_fetch: Option<String>,
}

pub struct ApiTables {
    pub nodes: String,
    pub params: String,
    pub jobs: String,
    pub mapping: Tables,
}

/// Answer one proxy event.
pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let routed = match Request::from_proxy(&event) {
        Ok(req) => route(ctx, &req).await,
        Err(a) => Err(a),
    };
    Ok(crate::http::respond(routed))
}

async fn route(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    match (req.method.as_str(), req.route.as_str()) {
        ("GET", "user/nodes") => nodes::list(ctx, req).await,
        ("GET", "user/nodes/status") => nodes::status(ctx, req).await,
        ("GET", "user/nodes/config") => nodes::config(ctx, req).await,
        ("GET", "user/nodes/params") => nodes::params(ctx, req).await,
        ("PUT", "user/nodes/params") => nodes::set_params(ctx, req).await,
        ("PUT", "user/nodes/mapping") => nodes::mapping(ctx, req).await,
        ("GET", "user/nodes/mapping") => nodes::mapping_status(ctx, req).await,
        ("POST", "user/nodes/mapping/initiate") => challenge::initiate(ctx, req).await,
        ("POST", "user/nodes/mapping/verify") => challenge::verify(ctx, req).await,
        ("GET", "admin/otajobs") => ota::list(ctx, req).await,
        ("POST", "admin/otajobs") => ota::change(ctx, req).await,
        (method, route) => Err(Answer::failure(
            404,
            code::NO_ROUTE,
            format!("No API {method} /v1/{route}"),
        )),
    }
}
