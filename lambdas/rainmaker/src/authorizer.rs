//! The OAuth2 authorizer (API Gateway TOKEN authorizer): the `Authorization` header holds the
//! token as it is (no `Bearer`), a JWT signed by the issuer with RS256 or ES256. It is verified
//! against the issuer's JWKS (cached; fetched again once for an unknown key id), and `iss`, `aud`,
//! `exp` and `nbf` are checked. Anything else, `alg: none` included, is refused.
//!
//! A token is refused from the second its `exp` passes (no leeway on `exp`; API Gateway may
//! serve a cached Allow for at most the authorizer's TTL, 60 s at most, after that). Keys older
//! than [`MAX_KEY_AGE`] are not used: when the issuer cannot be reached for that long, every
//! token is refused.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

/// Clock skew allowed on `nbf` (a token just issued by an issuer whose clock runs ahead). `exp`
/// gets none.
pub const LEEWAY_SECONDS: u64 = 30;
/// How long a fetched JWKS is used before it is fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The oldest keys are used while the issuer cannot be reached: past this, every token is
/// refused (fail closed) until a fetch succeeds.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 3600);
/// The least time between two fetches for unknown key ids (a flood of forged ids cannot make
/// the function hammer the issuer).
pub const REFETCH_GAP: Duration = Duration::from_secs(30);

/// What a token must say.
#[derive(Debug, Clone)]
pub struct Expect {
    pub issuer: String,
    pub audience: String,
    /// The claim that lists the user's groups (the profile's `identity.groups_claim`;
    /// `groups` unless set).
    pub groups_claim: String,
}

impl Expect {
    /// The groups claim most issuers use.
    pub const DEFAULT_GROUPS_CLAIM: &'static str = "groups";
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
    /// The issuer's keys could not be fetched for longer than [`MAX_KEY_AGE`].
    KeysTooOld,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<f64>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Who a valid token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The `sub` claim: the user id of the API.
    pub user: String,
    /// The groups the token names, by their exact names (the admin group may manage OTA jobs).
    pub groups: Vec<String>,
}

/// The groups of the claim, exactly as named: an array's strings, or a string as one group
/// (never split: a group called "Building admin" or "x,admin" is that group, not `admin`).
fn group_names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Check a token against a key set; who it is for when it holds.
pub fn verify(token: &str, keys: &JwkSet, expect: &Expect) -> Result<Principal, Rejection> {
    verify_at(token, keys, expect, unix_now())
}

/// [`verify`] at a given time (seconds since the epoch) for `exp`.
pub fn verify_at(
    token: &str,
    keys: &JwkSet,
    expect: &Expect,
    now: f64,
) -> Result<Principal, Rejection> {
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
    // The library allows the leeway on `exp` too: refuse from the second it passes.
    if claims.exp.is_none_or(|exp| exp <= now) {
        return Err(Rejection::Expired);
    }
    let user = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(Rejection::NoSubject)?;
    let groups = group_names(claims.rest.get(&expect.groups_claim));
    Ok(Principal { user, groups })
}

/// A clock for the key cache (injectable, so a test can age the keys).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The issuer's keys, fetched when needed.
pub struct KeyCache {
    uri: String,
    keys: Option<(JwkSet, Instant)>,
    last_fetch: Option<Instant>,
    clock: Clock,
}

impl KeyCache {
    pub fn new(uri: &str) -> KeyCache {
        KeyCache::with_clock(uri, Arc::new(Instant::now))
    }

    /// A cache that tells time by `clock`.
    pub fn with_clock(uri: &str, clock: Clock) -> KeyCache {
        KeyCache {
            uri: uri.to_string(),
            keys: None,
            last_fetch: None,
            clock,
        }
    }

    fn since(&self, at: Instant) -> Duration {
        (self.clock)().saturating_duration_since(at)
    }

    fn fetch(&mut self) -> Result<(), String> {
        self.last_fetch = Some((self.clock)());
        let body = ureq::get(&self.uri)
            .timeout(Duration::from_secs(5))
            .call()
            .map_err(|e| format!("GET {}: {e}", self.uri))?
            .into_string()
            .map_err(|e| e.to_string())?;
        let keys: JwkSet = serde_json::from_str(&body).map_err(|e| format!("JWKS: {e}"))?;
        self.keys = Some((keys, (self.clock)()));
        Ok(())
    }

    /// Whether a fetch may be tried now (at most one every [`REFETCH_GAP`]).
    fn may_fetch(&self) -> bool {
        self.last_fetch
            .is_none_or(|at| self.since(at) > REFETCH_GAP)
    }

    /// Verify with the cached keys; fetch them when stale, and once more for an unknown key id.
    /// Keys older than [`MAX_KEY_AGE`] are dropped: every token is refused until a fetch works.
    pub fn verify(&mut self, token: &str, expect: &Expect) -> Result<Principal, Rejection> {
        let stale = self
            .keys
            .as_ref()
            .is_none_or(|(_, at)| self.since(*at) > JWKS_TTL);
        if stale && self.may_fetch() {
            if let Err(e) = self.fetch() {
                tracing::error!(error = %e, "could not fetch the issuer's keys");
            }
        }
        if let Some((_, at)) = &self.keys {
            if self.since(*at) > MAX_KEY_AGE {
                tracing::error!(
                    age_s = self.since(*at).as_secs(),
                    "the issuer's keys are older than a day and cannot be fetched again: refusing every token"
                );
                self.keys = None;
                return Err(Rejection::KeysTooOld);
            }
        }
        let Some((keys, _)) = &self.keys else {
            return Err(Rejection::UnknownKey("no keys could be fetched".into()));
        };
        match verify(token, keys, expect) {
            Err(Rejection::UnknownKey(kid)) if self.may_fetch() => {
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
/// caches it per token), with the user id and the groups in the context (the API reads them).
/// Context values must be strings, numbers or booleans, so the groups go as a JSON array in a
/// string: `["admin","ops"]`, names kept exact.
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
        "context": {
            "user_id": user,
            "groups": serde_json::to_string(&principal.groups).expect("strings serialise")
        }
    })
}
