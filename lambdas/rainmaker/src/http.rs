//! What the API Gateway proxy integration hands a function and takes back, shared by the `api`
//! and `auth` functions: the request (method, route under `/v1/`, query, JSON body, and the
//! caller and groups the authorizer vouches for), the answer, and the failure codes.

use std::collections::HashMap;

use serde_json::{json, Value};

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

/// The proxy integration's response to a routed request (a failure is an answer too); 5xx
/// answers are logged.
pub fn respond(routed: Result<Answer, Answer>) -> Value {
    let answer = routed.unwrap_or_else(|a| a);
    if answer.status >= 500 {
        tracing::error!(status = answer.status, body = %answer.body, "request failed");
    }
    answer.to_proxy()
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
        let groups = groups_of(authorizer, &groups_claim());
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

    /// Whether the caller is in the admin group (exact name, see [`groups_of`]).
    pub fn is_admin(&self) -> bool {
        self.is_in(&admin_group())
    }

    /// Whether the caller is in the group of exactly this name.
    pub fn is_in(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
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

/// The admin group's name: `ADMIN_GROUP` (the profile's `identity.admin_group`), else `admin`.
pub fn admin_group() -> String {
    crate::runtime::optional("ADMIN_GROUP").unwrap_or_else(|| "admin".into())
}

/// The claim Cognito's groups arrive in: `GROUPS_CLAIM` (the profile's `identity.groups_claim`),
/// else `cognito:groups`. (The OAuth2 authorizer reads its own claim and passes the groups on.)
pub fn groups_claim() -> String {
    crate::runtime::optional("GROUPS_CLAIM").unwrap_or_else(|| "cognito:groups".into())
}

/// The groups the authorizer vouches for, by their exact names; none when they cannot be read
/// unambiguously.
///
/// - OAuth2 (the TOKEN authorizer's context): `groups` is a JSON array of strings, written by
///   our authorizer. Anything else is no group.
/// - Cognito (`COGNITO_USER_POOLS`): API Gateway REST renders the token's array claim as one
///   string joined with commas (`a,b`), and Cognito group names may themselves contain commas
///   (their pattern allows any punctuation). `a,b` is then either two groups or one, so a value
///   with a comma yields no group at all (logged): only a user whose one group is the admin group
///   is admin. A value without a comma is one group, matched exactly.
pub fn groups_of(authorizer: &Value, claim: &str) -> Vec<String> {
    if let Some(claims) = authorizer.get("claims").filter(|c| c.is_object()) {
        return match claims.get(claim) {
            Some(Value::String(s)) if s.is_empty() => Vec::new(),
            Some(Value::String(s)) if !s.contains(',') => vec![s.clone()],
            Some(Value::String(_)) => {
                tracing::info!(
                    claim,
                    "several groups, or a group name with a comma: API Gateway joins them alike, so none is used"
                );
                Vec::new()
            }
            // Not how API Gateway REST renders claims today; an array is exact all the same.
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
    }
    match authorizer["groups"]
        .as_str()
        .map(serde_json::from_str::<Vec<String>>)
    {
        Some(Ok(groups)) => groups,
        Some(Err(_)) => {
            tracing::info!("the authorizer's groups are not a JSON array of strings: none used");
            Vec::new()
        }
        None => Vec::new(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(method: &str, path: &str, body: Option<&str>) -> Value {
        json!({"resource": path, "path": path, "httpMethod": method,
               "headers": {"Authorization": "eyJ..."},
               "queryStringParameters": {"nodeid": "n1"},
               "body": body, "isBase64Encoded": false,
               "requestContext": {"stage": "v1", "authorizer": {"principalId": "u-1", "groups": "[\"admin\"]"}}})
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
            "requestContext": {"authorizer": {"claims": {"sub": "c-9", "cognito:groups": "ops"}}}});
        let r = Request::from_proxy(&cognito).unwrap();
        assert_eq!(
            (r.user.as_deref(), r.groups.clone()),
            (Some("c-9"), vec!["ops".to_string()])
        );
        assert!(r.param("nodeid").is_err());
    }

    fn oauth2_groups(context: &str) -> Request {
        Request::from_proxy(&json!({"path": "/v1/admin/otajobs", "httpMethod": "GET",
            "requestContext": {"authorizer": {"principalId": "u-1", "groups": context}}}))
        .unwrap()
    }

    fn cognito_groups(rendered: &str) -> Request {
        Request::from_proxy(&json!({"path": "/v1/admin/otajobs", "httpMethod": "GET",
            "requestContext": {"authorizer": {"claims": {"sub": "c-1", "cognito:groups": rendered}}}}))
        .unwrap()
    }

    /// Finding 4: a group whose name only contains the admin group's is not the admin group.
    #[test]
    fn building_admin_and_x_comma_admin_are_not_admin() {
        // OAuth2: the authorizer passes `["Building admin"]` and `["x,admin"]`.
        for name in [
            "Building admin",
            "x,admin",
            "admin ",
            " admin",
            "Admin",
            "admins",
        ] {
            let r = oauth2_groups(&serde_json::to_string(&[name]).unwrap());
            assert_eq!(r.groups, vec![name.to_string()]);
            assert!(!r.is_in("admin"), "{name:?} counted as admin");
        }
        // The same names as an older authorizer joined them, or anything not a JSON array.
        for context in [
            "Building admin",
            "x,admin",
            "admin,ops",
            "admin",
            "{\"admin\":1}",
        ] {
            assert!(!oauth2_groups(context).is_in("admin"), "{context:?}");
        }
        // Cognito: API Gateway joins the groups with commas; one with a comma in its name reads
        // the same as two groups, so neither reading grants admin.
        for rendered in ["Building admin", "x,admin", "admin,x", ""] {
            assert!(!cognito_groups(rendered).is_in("admin"), "{rendered:?}");
        }
        // The admin group itself, by its exact name.
        assert!(oauth2_groups("[\"ops\",\"admin\"]").is_in("admin"));
        assert!(cognito_groups("admin").is_in("admin"));
        assert!(oauth2_groups("[\"Building admin\"]").is_in("Building admin"));
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
