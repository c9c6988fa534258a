//! The user REST API (API Gateway proxy integration), following the ESP RainMaker v1 paths and
//! payloads so that existing clients work by changing only the base URL: `user/nodes`, `user/nodes/status`, `user/nodes/config`,
//! `user/nodes/params` (GET; PUT publishes `params/remote`), `user/nodes/mapping`, and
//! `admin/otajobs`. Sign-up and login (`user2`, `login2`) are the `auth` function's.
//!
//! The caller is who the authorizer says: the OAuth2 authorizer's `principalId`, or the Cognito
//! authorizer's `sub` claim. Errors are `{"status": "failure", "description", "error_code"}`.

mod nodes;
mod ota;

use std::collections::HashMap;

use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::mapping::Tables;

/// Error codes of the failure answers (documented in docs/lambdas.md).
pub mod code {
    pub const BAD_REQUEST: u32 = 100_001;
    pub const UNAUTHORIZED: u32 = 100_002;
    pub const FORBIDDEN: u32 = 100_003;
    pub const NOT_FOUND: u32 = 100_004;
    pub const NO_ROUTE: u32 = 100_005;
    pub const LOGIN_FAILED: u32 = 100_006;
    pub const SIGN_UP_FAILED: u32 = 100_007;
    pub const INTERNAL: u32 = 100_500;
}

/// What the function needs.
pub struct Ctx {
    pub db: aws_sdk_dynamodb::Client,
    pub iot: aws_sdk_iotdataplane::Client,
    pub tables: ApiTables,
}

pub struct ApiTables {
    pub nodes: String,
    pub params: String,
    pub jobs: String,
    pub mapping: Tables,
}

/// A request, from the proxy event.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// The path after `/v1/`, without a trailing slash.
    pub route: String,
    pub query: HashMap<String, String>,
    pub body: Option<Value>,
    pub user: Option<String>,
    pub groups: Vec<String>,
}

/// An answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer { status: 200, body }
    }

    pub fn failure(status: u16, code: u32, description: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({ "status": "failure", "description": description.into(), "error_code": code }),
        }
    }

    /// The proxy integration's response.
    pub fn to_proxy(&self) -> Value {
        json!({
            "statusCode": self.status,
            "headers": { "Content-Type": "application/json" },
            "body": self.body.to_string(),
            "isBase64Encoded": false,
        })
    }
}

impl Request {
    pub fn from_proxy(event: &Value) -> Result<Request, Answer> {
        let method = event["httpMethod"].as_str().unwrap_or("").to_uppercase();
        let path = event["path"].as_str().unwrap_or("");
        let route = path
            .trim_start_matches('/')
            .strip_prefix("v1/")
            .unwrap_or(path.trim_start_matches('/'))
            .trim_end_matches('/')
            .to_string();
        let query = event["queryStringParameters"]
            .as_object()
            .map(|q| {
                q.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let body = match event["body"].as_str() {
            None | Some("") => None,
            Some(text) => {
                let text = if event["isBase64Encoded"].as_bool() == Some(true) {
                    use base64::Engine;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|_| {
                            Answer::failure(400, code::BAD_REQUEST, "The body is not valid base64")
                        })?;
                    String::from_utf8(bytes).map_err(|_| {
                        Answer::failure(400, code::BAD_REQUEST, "The body is not UTF-8")
                    })?
                } else {
                    text.to_string()
                };
                Some(serde_json::from_str(&text).map_err(|e| {
                    Answer::failure(
                        400,
                        code::BAD_REQUEST,
                        format!("The body is not valid JSON: {e}"),
                    )
                })?)
            }
        };
        let authorizer = &event["requestContext"]["authorizer"];
        let user = authorizer["principalId"]
            .as_str()
            .or_else(|| authorizer["claims"]["sub"].as_str())
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let groups = authorizer["groups"]
            .as_str()
            .or_else(|| authorizer["claims"]["cognito:groups"].as_str())
            .unwrap_or("")
            .split([',', ' '])
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Request {
            method,
            route,
            query,
            body,
            user,
            groups,
        })
    }

    /// The signed-in user, or a 401 answer.
    pub fn user(&self) -> Result<&str, Answer> {
        self.user.as_deref().ok_or_else(|| {
            Answer::failure(
                401,
                code::UNAUTHORIZED,
                "Sign in first: no user in the request",
            )
        })
    }

    /// A query parameter that must be there.
    pub fn param(&self, name: &str) -> Result<&str, Answer> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Answer::failure(
                    400,
                    code::BAD_REQUEST,
                    format!("The query parameter `{name}` is missing"),
                )
            })
    }

    /// A string field of the JSON body that must be there.
    pub fn field(&self, name: &str) -> Result<&str, Answer> {
        self.body
            .as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Answer::failure(
                    400,
                    code::BAD_REQUEST,
                    format!("The body needs a `{name}` string"),
                )
            })
    }
}

/// Answer one proxy event.
pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    let answer = match Request::from_proxy(&event) {
        Ok(req) => route(ctx, &req).await.unwrap_or_else(|a| a),
        Err(a) => a,
    };
    if answer.status >= 500 {
        tracing::error!(status = answer.status, body = %answer.body, "request failed");
    }
    Ok(answer.to_proxy())
}

/// A service failure: logged in full, the caller gets a 500 without internals.
pub fn internal(what: &str, err: impl std::fmt::Display) -> Answer {
    tracing::error!(error = %err, "{what}");
    Answer::failure(
        500,
        code::INTERNAL,
        format!("{what} failed; see the function's log"),
    )
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
        ("GET", "admin/otajobs") => ota::list(ctx, req).await,
        ("POST", "admin/otajobs") => ota::change(ctx, req).await,
        (method, route) => Err(Answer::failure(
            404,
            code::NO_ROUTE,
            format!("No API {method} /v1/{route}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(method: &str, path: &str, body: Option<&str>) -> Value {
        json!({"resource": path, "path": path, "httpMethod": method,
               "headers": {"Authorization": "eyJ..."},
               "queryStringParameters": {"nodeid": "n1"},
               "body": body, "isBase64Encoded": false,
               "requestContext": {"stage": "v1", "authorizer": {"principalId": "u-1", "groups": "admin"}}})
    }

    #[test]
    fn proxy_events_become_requests() {
        let r = Request::from_proxy(&proxy("get", "/v1/user/nodes/params/", None)).unwrap();
        assert_eq!(
            (r.method.as_str(), r.route.as_str()),
            ("GET", "user/nodes/params")
        );
        assert_eq!(r.param("nodeid").unwrap(), "n1");
        assert_eq!(r.user().unwrap(), "u-1");
        assert_eq!(r.groups, vec!["admin"]);
        let cognito = json!({"path": "/v1/user/nodes", "httpMethod": "GET",
            "requestContext": {"authorizer": {"claims": {"sub": "c-9", "cognito:groups": "a b"}}}});
        let r = Request::from_proxy(&cognito).unwrap();
        assert_eq!((r.user.as_deref(), r.groups.len()), (Some("c-9"), 2));
        assert!(r.param("nodeid").is_err());
    }

    #[test]
    fn bad_bodies_get_a_failure_answer() {
        let a =
            Request::from_proxy(&proxy("PUT", "/v1/user/nodes/params", Some("{nope"))).unwrap_err();
        assert_eq!(a.status, 400);
        assert_eq!(a.body["status"], "failure");
        assert_eq!(a.body["error_code"], code::BAD_REQUEST);
        assert!(a.body["description"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
        let p = a.to_proxy();
        assert_eq!(p["statusCode"], 400);
        assert!(p["body"].as_str().unwrap().contains("failure"));
    }
}
