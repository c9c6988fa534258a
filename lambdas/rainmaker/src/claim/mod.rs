//! Host-driven claiming, as `esp-rainmaker-cli claim` (and the firmware's assisted claiming)
//! speak it, and the MQTT host a factory image names:
//!
//! - `POST claim/initiate` `{"mac_addr", "platform"}` (a signed-in user): the chip's node id, `{"node_id"}`.
//!   The node id is the chip's Wi-Fi station MAC in 12 upper-case hex digits, the id stock
//!   firmware gives itself before it is claimed (`esp_rmaker_populate_node_id`), so claiming a
//!   chip again names the same node.
//! - `POST claim/verify` `{"csr"}`: the certificate AWS IoT issues for the CSR
//!   (`CreateCertificateFromCsr`; the key never leaves the host), `{"certificate"}`. The CSR's
//!   common name must be the node id initiated. The node's thing is created in the stack's thing
//!   type (or updated) with its attributes, the node policy is attached to the certificate, the
//!   certificate to the thing, and the certificates it had before are detached and revoked.
//! - `GET mqtt_host` (no sign-in, outside `/v1/`: the CLI asks `<base>/mqtt_host`):
//!   `{"mqtt_host", "mqtt_cred_host"}`, the account's `iot:Data-ATS` and
//!   `iot:CredentialProvider` endpoints.
//! - `PUT admin/claims` `{"mac_addr", "allow_reclaim_by"}` (admin group): let another user (or
//!   `*`, anyone) claim a chip that is claimed already.
//!
//! A chip is its first claimer's: another user's claim is refused (403) until an admin allows it.
//! Each user has [`Ctx::per_hour`] claims an hour.

mod csr;
pub mod iot;
pub mod store;

use serde_json::{json, Map, Value};

pub use crate::http::{code, internal, Answer, Request};
use store::Pending;

/// The chips a claim may name (`platform`), as ESP-IDF names its targets.
pub const PLATFORMS: &[&str] = &[
    "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61",
    "esp32h2", "esp32p4",
];

/// The thing attribute `ota-fetch` binds a node's firmware project to (its `PROJECT_ATTRIBUTE`;
/// named here so that this function does not reach the OTA module).
pub const PROJECT_ATTRIBUTE: &str = "project_name";

/// What the function needs.
pub struct Ctx {
    pub db: aws_sdk_dynamodb::Client,
    /// Region, credentials and endpoint, to sign the registry calls.
    pub config: aws_config::SdkConfig,
    /// `TABLE_CLAIMS`.
    pub table: String,
    /// `THING_TYPE`: the stack's thing type.
    pub thing_type: String,
    /// `NODE_POLICY`: the policy every node certificate gets.
    pub node_policy: String,
    /// `IOT_DATA_ENDPOINT`: the endpoint the stack was deployed with.
    pub data_endpoint: String,
    /// `CLAIM_PROJECT`: the firmware project claimed nodes are bound to, when the profile has one.
    pub project: Option<String>,
    /// `CLAIMS_PER_USER_PER_HOUR`.
    pub per_hour: u32,
    /// The credential-provider endpoint, asked once per container.
    pub credential_endpoint: tokio::sync::OnceCell<String>,
}

/// Answer one proxy event.
pub async fn handle(ctx: &Ctx, event: Value) -> Result<Value, lambda_runtime::Error> {
    let routed = match Request::from_proxy(&event) {
        Ok(req) => route(ctx, &req).await,
        Err(a) => Err(a),
    };
    Ok(crate::http::respond(routed))
}

async fn route(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    match (req.method.as_str(), req.route.as_str()) {
        ("GET", "mqtt_host") => mqtt_host(ctx).await,
        ("POST", "claim/initiate") => initiate(ctx, req).await,
        ("POST", "claim/verify") => verify(ctx, req).await,
        ("PUT", "admin/claims") => allow_reclaim(ctx, req).await,
        (method, route) => Err(Answer::failure(
            404,
            code::NO_ROUTE,
            format!("No API {method} {route}"),
        )),
    }
}

fn bad(why: impl Into<String>) -> Answer {
    Answer::failure(400, code::BAD_REQUEST, why)
}

/// A MAC address as the CLI takes it (`--mac`: `7CDFA1B2C3D4`, `7c:df:a1:b2:c3:d4`,
/// `7c-df-...`): 12 upper-case hex digits. A multicast or all-zero address is no chip's.
pub fn mac_of(text: &str) -> Result<String, String> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "`mac_addr` {text:?} is not a MAC address (12 hex digits, e.g. 7CDFA1B2C3D4)"
        ));
    }
    let hex = hex.to_ascii_uppercase();
    let first = u8::from_str_radix(&hex[..2], 16).unwrap_or(1);
    if first & 1 == 1 || hex == "000000000000" {
        return Err(format!(
            "`mac_addr` {text:?} is a multicast or null address, not a chip's station MAC"
        ));
    }
    Ok(hex)
}

/// A platform of [`PLATFORMS`], however it is spelled (`ESP32-C3`, `esp32c3`).
pub fn platform_of(text: &str) -> Result<String, String> {
    let name = crate::online::chip_name(text);
    PLATFORMS
        .iter()
        .find(|p| **p == name)
        .map(|p| p.to_string())
        .ok_or_else(|| {
            format!(
                "`platform` {text:?} is not a chip claiming supports (one of {})",
                PLATFORMS.join(", ")
            )
        })
}

/// A thing attribute value as AWS IoT takes it (`[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}`): the text
/// itself, or a digest of it when it holds other characters (an OAuth2 `sub` such as `auth0|x`).
pub fn attribute_value(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c);
    if text.len() <= 800 && text.chars().all(plain) {
        return text.to_string();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256:{}",
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A firmware project name (what the profile's `devices.claim_project` allows).
fn project_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn field<'a>(req: &'a Request, name: &str) -> Result<&'a str, Answer> {
    req.body
        .as_ref()
        .and_then(|b| b.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(format!(
                "The body must be a JSON object with the string `{name}`"
            ))
        })
}

async fn mqtt_host(ctx: &Ctx) -> Result<Answer, Answer> {
    let cred = ctx
        .credential_endpoint
        .get_or_try_init(|| iot::credential_endpoint(&ctx.config))
        .await
        .map_err(|e| internal("reading the credential provider endpoint", e))?;
    Ok(Answer::ok(
        json!({"mqtt_host": ctx.data_endpoint, "mqtt_cred_host": cred}),
    ))
}

async fn initiate(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let mac = mac_of(field(req, "mac_addr")?).map_err(bad)?;
    let platform = platform_of(field(req, "platform")?).map_err(bad)?;
    let project = match req.body.as_ref().and_then(|b| b.get("project")) {
        None | Some(Value::Null) => ctx.project.clone(),
        Some(Value::String(p)) if project_name(p) => Some(p.clone()),
        Some(_) => {
            return Err(bad(
                "`project` must be a firmware project name (at most 32 of a-z, 0-9, _ . - )",
            ))
        }
    };
    let now_s = crate::runtime::now_ms() / 1000;
    let record = store::chip(&ctx.db, &ctx.table, &mac)
        .await
        .map_err(|e| internal("reading the chip's claim", e))?;
    if !store::may_claim(record.as_ref(), user) {
        tracing::warn!(%mac, "claim of a chip another user claimed refused");
        return Err(Answer::failure(403, code::FORBIDDEN, format!(
            "Chip {mac} is claimed by another user: ask an admin to allow claiming it again (PUT admin/claims)"
        )));
    }
    let allowed = store::take_rate(&ctx.db, &ctx.table, user, now_s, ctx.per_hour)
        .await
        .map_err(|e| internal("counting the user's claims", e))?;
    if !allowed {
        return Err(Answer::failure(
            429,
            code::BAD_REQUEST,
            format!(
                "At most {} claims an hour per user: try again in the next hour",
                ctx.per_hour
            ),
        ));
    }
    let pending = Pending {
        node_id: mac.clone(),
        mac,
        platform,
        project,
    };
    store::put_pending(&ctx.db, &ctx.table, user, &pending, now_s)
        .await
        .map_err(|e| internal("recording the claim", e))?;
    tracing::info!(node_id = %pending.node_id, platform = %pending.platform, "claim initiated");
    Ok(Answer::ok(json!({"node_id": pending.node_id})))
}

async fn verify(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let csr = field(req, "csr")?;
    let now_s = crate::runtime::now_ms() / 1000;
    let pending = store::pending(&ctx.db, &ctx.table, user, now_s)
        .await
        .map_err(|e| internal("reading the claim", e))?
        .ok_or_else(|| Answer::failure(404, code::NOT_FOUND,
            "No claim of this user is under way (none, or older than 10 minutes): call claim/initiate first"))?;
    let cn = csr::common_name(csr).map_err(|why| {
        bad(format!(
            "{why}; claim/initiate named node {}",
            pending.node_id
        ))
    })?;
    if cn != pending.node_id {
        return Err(bad(format!(
            "The CSR is for {cn:?}, but the claim under way is for node {}: make the CSR with CN={}",
            pending.node_id, pending.node_id
        )));
    }
    let issued = iot::create_certificate_from_csr(&ctx.config, csr)
        .await
        .map_err(|e| {
            Answer::failure(
                400,
                code::BAD_REQUEST,
                format!("AWS IoT refused the CSR: {e}"),
            )
        })?;
    match register(ctx, user, &pending, &issued, now_s).await {
        Ok(answer) => Ok(answer),
        Err(answer) => {
            // Nothing may connect with a certificate whose registration did not finish.
            if let Err(e) = iot::revoke_certificate(&ctx.config, &issued.id).await {
                tracing::error!(certificate_id = %issued.id, error = %e, "revoking a half-registered certificate failed");
            }
            Err(answer)
        }
    }
}

/// The thing, its policy and certificates, and the chip's owner, for a certificate just issued.
async fn register(
    ctx: &Ctx,
    user: &str,
    p: &Pending,
    issued: &iot::Issued,
    now_s: i64,
) -> Result<Answer, Answer> {
    let previous = store::take_chip(&ctx.db, &ctx.table, user, p, &issued.id, now_s)
        .await
        .map_err(|e| internal("recording the claim", e))?
        .ok_or_else(|| Answer::failure(403, code::FORBIDDEN, format!(
            "Chip {} was claimed by another user meanwhile: ask an admin to allow claiming it again", p.mac
        )))?;
    let config = &ctx.config;
    let thing = crate::registry::describe_thing(config, &p.node_id)
        .await
        .map_err(|e| internal("reading the node's thing", e))?;
    let old: Vec<String> = match thing {
        Some(_) => iot::thing_principals(config, &p.node_id)
            .await
            .map_err(|e| internal("listing the node's certificates", e))?,
        None => Vec::new(),
    };
    let mut attributes = Map::new();
    attributes.insert("chip".into(), json!(p.platform));
    attributes.insert("mac".into(), json!(p.mac));
    attributes.insert("claimed_by".into(), json!(attribute_value(user)));
    if let Some(project) = &p.project {
        attributes.insert(PROJECT_ATTRIBUTE.into(), json!(project));
    }
    iot::put_thing(
        config,
        &p.node_id,
        &ctx.thing_type,
        &attributes,
        thing.is_some(),
    )
    .await
    .map_err(|e| internal("registering the node's thing", e))?;
    iot::attach_policy(config, &ctx.node_policy, &issued.arn)
        .await
        .map_err(|e| internal("attaching the node policy", e))?;
    iot::attach_thing_principal(config, &p.node_id, &issued.arn)
        .await
        .map_err(|e| internal("attaching the certificate to the node", e))?;
    for arn in old.iter().filter(|a| **a != issued.arn) {
        let Some(id) = crate::registry::certificate_id(arn) else {
            continue;
        };
        iot::detach_thing_principal(config, &p.node_id, arn)
            .await
            .map_err(|e| internal("detaching the node's previous certificate", e))?;
        iot::revoke_certificate(config, id)
            .await
            .map_err(|e| internal("revoking the node's previous certificate", e))?;
    }
    store::clear_pending(&ctx.db, &ctx.table, user)
        .await
        .map_err(|e| internal("closing the claim", e))?;
    let reclaimed = store::text(&previous, "owner").is_some_and(|o| o != user);
    tracing::info!(node_id = %p.node_id, certificate_id = %issued.id, replaced = old.len(), reclaimed, "node claimed");
    Ok(Answer::ok(json!({"certificate": issued.pem})))
}

async fn allow_reclaim(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    req.user()?;
    if !req.groups.iter().any(|g| *g == crate::http::admin_group()) {
        return Err(Answer::failure(
            403,
            code::FORBIDDEN,
            "Only admins may allow a chip to be claimed again",
        ));
    }
    let mac = mac_of(field(req, "mac_addr")?).map_err(bad)?;
    let by = field(req, "allow_reclaim_by")?;
    if by.is_empty() || by.len() > 256 {
        return Err(bad(
            "`allow_reclaim_by` must be a user id, or `*` for any user",
        ));
    }
    let known = store::allow_reclaim(&ctx.db, &ctx.table, &mac, by)
        .await
        .map_err(|e| internal("recording the admin's word", e))?;
    if !known {
        return Err(Answer::failure(
            404,
            code::NOT_FOUND,
            format!("Chip {mac} has never been claimed"),
        ));
    }
    tracing::info!(%mac, "reclaiming allowed");
    Ok(Answer::ok(
        json!({"status": "success", "description": format!("Chip {mac} may be claimed again by {by}")}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_nodes_are_bound_by_the_attribute_ota_fetch_reads() {
        assert_eq!(PROJECT_ATTRIBUTE, crate::ota_fetch::PROJECT_ATTRIBUTE);
        assert_eq!("chip", crate::ota_fetch::CHIP_ATTRIBUTE);
    }

    #[test]
    fn macs_are_station_addresses_in_upper_case_hex() {
        assert_eq!(mac_of("7c:df:a1:b2:c3:d4").unwrap(), "7CDFA1B2C3D4");
        assert_eq!(mac_of("7C-DF-A1-B2-C3-D4").unwrap(), "7CDFA1B2C3D4");
        for bad in [
            "7CDFA1B2C3",
            "7CDFA1B2C3D4E5",
            "7CDFA1B2C3DZ",
            "01005E000001",
            "000000000000",
            "",
        ] {
            assert!(mac_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platforms_are_espidf_targets_however_spelled() {
        assert_eq!(platform_of("ESP32-C3").unwrap(), "esp32c3");
        assert_eq!(platform_of("esp32_s3").unwrap(), "esp32s3");
        assert!(platform_of("esp8266").unwrap_err().contains("esp32c6"));
    }

    #[test]
    fn attribute_values_keep_plain_ids_and_digest_the_rest() {
        assert_eq!(attribute_value("0c1f5a7e-4a1b"), "0c1f5a7e-4a1b");
        let digest = attribute_value("auth0|bob");
        assert!(
            digest.starts_with("sha256:") && digest.len() == 39,
            "{digest}"
        );
        assert_ne!(digest, attribute_value("auth0|eve"));
    }
}
