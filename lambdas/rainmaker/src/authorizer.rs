//! The OAuth2 authorizer (API Gateway TOKEN authorizer): the `Authorization` header holds the
//! token as it is (no `Bearer`), a JWT signed by the issuer with RS256 or ES256. It is verified
//! against the issuer's JWKS (cached; fetched again once for an unknown key id), and `iss`, `aud`,
//! `exp` and `nbf` are checked. Anything else, `alg: none` included, is refused.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;
/// How long a fetched JWKS is used.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The least time between two fetches for unknown key ids (a flood of forged ids cannot make
/// the function hammer the issuer).
pub const REFETCH_GAP: Duration = Duration::from_secs(30);

/// What a token must say.
#[derive(Debug, Clone)]
pub struct Expect {
    pub issuer: String,
    pub audience: String,
}

/// Why a token was refused (logged; the caller only sees 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(String),
    /// Not RS256 or ES256 (`none`, HS256, ...).
    Algorithm(String),
    NoKeyId,
    UnknownKey(String),
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    NoSubject,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    /// Group membership, as most issuers name it (`groups`) or as Cognito does.
    #[serde(default)]
    groups: Option<Value>,
    #[serde(default, rename = "cognito:groups")]
    cognito_groups: Option<Value>,
}

/// Who a valid token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The `sub` claim: the user id of the API.
    pub user: String,
    /// The groups the token names (`admin` may manage OTA jobs).
    pub groups: Vec<String>,
}

fn group_names(v: Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s
            .split([',', ' '])
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Check a token against a key set; who it is for when it holds.
pub fn verify(token: &str, keys: &JwkSet, expect: &Expect) -> Result<Principal, Rejection> {
    // `alg: none` and unknown algorithms do not even parse as a header.
    let header = decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::Json(_) => {
            Rejection::Algorithm("not RS256 or ES256".into())
        }
        _ => Rejection::Malformed(e.to_string()),
    })?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(Rejection::Algorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.ok_or(Rejection::NoKeyId)?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| Rejection::UnknownKey(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&expect.issuer]);
    validation.set_audience(&[&expect.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => Rejection::BadSignature,
            K::ExpiredSignature => Rejection::Expired,
            K::ImmatureSignature => Rejection::NotYetValid,
            K::InvalidIssuer => Rejection::WrongIssuer,
            K::InvalidAudience => Rejection::WrongAudience,
            K::MissingRequiredClaim(c) if c == "sub" => Rejection::NoSubject,
            _ => Rejection::Malformed(e.to_string()),
        }
    })?;
    let claims = data.claims;
    let user = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(Rejection::NoSubject)?;
    let mut groups = group_names(claims.groups);
    groups.extend(group_names(claims.cognito_groups));
    Ok(Principal { user, groups })
}

/// The issuer's keys, fetched when needed.
pub struct KeyCache {
    uri: String,
    keys: Option<(JwkSet, Instant)>,
    last_fetch: Option<Instant>,
}

impl KeyCache {
    pub fn new(uri: &str) -> KeyCache {
        KeyCache {
            uri: uri.to_string(),
            keys: None,
            last_fetch: None,
        }
    }

    fn fetch(&mut self) -> Result<(), String> {
        self.last_fetch = Some(Instant::now());
        let body = ureq::get(&self.uri)
            .timeout(Duration::from_secs(5))
            .call()
            .map_err(|e| format!("GET {}: {e}", self.uri))?
            .into_string()
            .map_err(|e| e.to_string())?;
        let keys: JwkSet = serde_json::from_str(&body).map_err(|e| format!("JWKS: {e}"))?;
        self.keys = Some((keys, Instant::now()));
        Ok(())
    }

    /// Verify with the cached keys; fetch them when stale, and once more for an unknown key id.
    pub fn verify(&mut self, token: &str, expect: &Expect) -> Result<Principal, Rejection> {
        let stale = self
            .keys
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() > JWKS_TTL);
        if stale {
            if let Err(e) = self.fetch() {
                tracing::error!(error = %e, "could not fetch the issuer's keys");
            }
        }
        let Some((keys, _)) = &self.keys else {
            return Err(Rejection::UnknownKey("no keys could be fetched".into()));
        };
        match verify(token, keys, expect) {
            Err(Rejection::UnknownKey(kid))
                if self.last_fetch.is_none_or(|at| at.elapsed() > REFETCH_GAP) =>
            {
                if let Err(e) = self.fetch() {
                    tracing::error!(error = %e, "could not fetch the issuer's keys");
                    return Err(Rejection::UnknownKey(kid));
                }
                let (keys, _) = self.keys.as_ref().expect("just fetched");
                verify(token, keys, expect)
            }
            other => other,
        }
    }
}

/// The answer to API Gateway: allow every route of the API's stage for this user (API Gateway
/// caches it per token), with the user id and groups in the context (the API reads them).
pub fn allow(principal: &Principal, method_arn: &str) -> Value {
    let user = &principal.user;
    // arn:aws:execute-api:region:account:api-id/stage/METHOD/path
    let base: Vec<&str> = method_arn.splitn(3, '/').collect();
    let resource = match base.as_slice() {
        [api, stage, _] => format!("{api}/{stage}/*/*"),
        _ => method_arn.to_string(),
    };
    json!({
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}]
        },
        "context": {"user_id": user, "groups": principal.groups.join(",")}
    })
}
