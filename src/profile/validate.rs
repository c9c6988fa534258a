//! The rules a profile must follow beyond its types: ranges, China availability, and settings
//! that depend on each other. Each rule yields an [`Issue`] at the key it is about.

use super::model::*;
use super::Issue;
use crate::catalog;

/// Retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Unreserved concurrency Lambda always keeps.
pub const MIN_UNRESERVED: i64 = 100;

pub fn check(p: &Profile, variant: Variant) -> Vec<Issue> {
    let mut out = Vec::new();
    stack_name(p, &mut out);
    lambda(p, variant, &mut out);
    dynamodb(p, variant, &mut out);
    capacity(p, &mut out);
    api(p, &mut out);
    identity(p, variant, &mut out);
    identity_access(p, variant, &mut out);
    firmware(p, &mut out);
    devices(p, &mut out);
    budget(p, variant, &mut out);
    if p.tracing && variant == Variant::China {
        out.push(Issue::new(
            &["tracing"],
            "tracing: AWS X-Ray is not available in AWS China",
            "remove `tracing` (function logs record every invocation)",
        ));
    }
    out
}

fn devices(p: &Profile, out: &mut Vec<Issue>) {
    bounded(
        out,
        &["devices", "claims_per_user_per_hour"],
        p.devices.claims_per_user_per_hour,
        "the chips one user may claim in an hour; 20 suits people claiming their own boards",
    );
    let Some(project) = &p.devices.claim_project else {
        return;
    };
    let ok = !project.is_empty()
        && project.len() <= 32
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        out.push(Issue::new(
            &["devices", "claim_project"],
            format!("devices.claim_project `{project}` is not a firmware project name"),
            "at most 32 letters, digits, `_`, `.` or `-`: the `project` of the manifest's images, for example `light`",
        ));
    }
}

fn budget(p: &Profile, variant: Variant, out: &mut Vec<Issue>) {
    let Some(b) = &p.budget else { return };
    if !(b.monthly.is_finite() && b.monthly > 0.0) {
        out.push(Issue::new(
            &["budget", "monthly"],
            format!("budget.monthly is {}; it must be more than 0", b.monthly),
            "the most the stack may cost a month, for example 500",
        ));
    }
    let currency = variant.currency();
    if let Some(c) = &b.currency {
        if c != currency {
            out.push(Issue::new(
                &["budget", "currency"],
                format!(
                    "budget.currency is `{c}`, but the {} variant's prices are in {currency}",
                    variant.as_str()
                ),
                format!("write the budget in {currency}, or remove `currency`"),
            ));
        }
    }
}

fn stack_name(p: &Profile, out: &mut Vec<Issue>) {
    let n = &p.stack_name;
    let ok = n.len() <= 32
        && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        out.push(Issue::new(
            &["stack_name"],
            format!("stack_name `{n}` is not allowed"),
            "use a letter, then letters, digits or hyphens, 32 characters at most (for example `rainmaker`)",
        ));
    }
}

/// The whole numbers with a range, by key path: `*` stands for any key or index. The checks
/// below and the message for a number too large to read ([`allowed_range`]) share it.
const RANGES: &[(&[&str], i64, i64)] = &[
    (&["lambda", "concurrency_target"], 1, 100_000),
    (&["lambda", "memory_mb"], 128, 10_240),
    (&["lambda", "timeout_seconds"], 1, 900),
    (&["lambda", "reserved_concurrency", "*"], 1, i64::MAX),
    (&["dynamodb", "default", "read_units"], 1, i64::MAX),
    (&["dynamodb", "default", "write_units"], 1, i64::MAX),
    (&["dynamodb", "default", "min_read_units"], 1, i64::MAX),
    (&["dynamodb", "default", "min_write_units"], 1, i64::MAX),
    (&["dynamodb", "default", "target_utilization"], 20, 90),
    (&["dynamodb", "tables", "*", "read_units"], 1, i64::MAX),
    (&["dynamodb", "tables", "*", "write_units"], 1, i64::MAX),
    (&["dynamodb", "tables", "*", "min_read_units"], 1, i64::MAX),
    (&["dynamodb", "tables", "*", "min_write_units"], 1, i64::MAX),
    (&["dynamodb", "tables", "*", "target_utilization"], 20, 90),
    (&["capacity", "devices"], 1, i64::MAX),
    (&["capacity", "messages_per_device_per_day"], 1, i64::MAX),
    (&["capacity", "app_users"], 0, i64::MAX),
    (&["api", "rate_limit"], 1, i64::MAX),
    (&["api", "burst_limit"], 1, i64::MAX),
    (&["api", "waf", "rate_limit"], 10, 2_000_000_000),
    (&["api", "waf", "sign_in_rate_limit"], 10, 2_000_000_000),
    (
        &["identity", "authorizer_cache_seconds"],
        0,
        MAX_AUTHORIZER_CACHE_SECONDS,
    ),
    (
        &["firmware", "images", "*", "max_parallel_per_network"],
        1,
        i64::MAX,
    ),
    (&["firmware", "images", "*", "max_per_minute"], 1, i64::MAX),
    (&["devices", "claims_per_user_per_hour"], 1, 10_000),
];

/// The smallest and largest value allowed at a key path, for the keys with a range (the log
/// retention, one of a list, has none: see [`RETENTION_DAYS`]).
pub fn allowed_range(path: &[&str]) -> Option<(i64, i64)> {
    RANGES
        .iter()
        .find(|(pattern, ..)| {
            pattern.len() == path.len()
                && pattern.iter().zip(path).all(|(p, k)| *p == "*" || p == k)
        })
        .map(|(_, min, max)| (*min, *max))
}

/// A key path as messages show it: `firmware.images[0].max_per_minute`.
pub fn display_path(path: &[&str]) -> String {
    let mut out = String::new();
    for key in path {
        if !out.is_empty() && key.parse::<usize>().is_ok() {
            out.push_str(&format!("[{key}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
    }
    out
}

/// The range check of a whole number, with the range of [`RANGES`].
fn bounded(out: &mut Vec<Issue>, path: &[&str], value: i64, hint: &str) {
    let range = allowed_range(path);
    debug_assert!(range.is_some(), "{path:?} has no range in RANGES");
    let (min, max) = range.unwrap_or((1, i64::MAX));
    if value < min || value > max {
        let allowed = if max == i64::MAX {
            format!("it must be a whole number of at least {min}")
        } else {
            format!("allowed: {min} to {max}")
        };
        out.push(Issue::new(
            path,
            format!("{} is {value}; {allowed}", display_path(path)),
            hint,
        ));
    }
}

fn lambda(p: &Profile, variant: Variant, out: &mut Vec<Issue>) {
    let l = &p.lambda;
    bounded(
        out,
        &["lambda", "concurrency_target"],
        l.concurrency_target,
        "set the account concurrency you plan for; ESP RainMaker recommends 1000",
    );
    bounded(
        out,
        &["lambda", "memory_mb"],
        l.memory_mb,
        "Lambda memory is 128 to 10240 MB; 256 suits the bundled functions",
    );
    bounded(
        out,
        &["lambda", "timeout_seconds"],
        l.timeout_seconds,
        "Lambda timeouts are 1 to 900 seconds; 30 suits the bundled functions",
    );
    if !RETENTION_DAYS.contains(&l.log_retention_days) {
        let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
        out.push(Issue::new(
            &["lambda", "log_retention_days"],
            format!(
                "lambda.log_retention_days is {}; CloudWatch Logs allows only {}",
                l.log_retention_days,
                allowed.join(", ")
            ),
            "pick the nearest allowed value, for example 30",
        ));
    }
    let mut reserved = 0;
    for (key, n) in &l.reserved_concurrency {
        let spec = catalog::function(*key);
        let name = serde_yaml::to_string(key).unwrap_or_default();
        let name = name.trim();
        bounded(
            out,
            &["lambda", "reserved_concurrency", name],
            *n,
            "reserve at least 1, or remove the entry to share the account's unreserved pool",
        );
        reserved += n.max(&0);
        if !p.produces(spec.feature, variant) {
            out.push(Issue::new(
                &["lambda", "reserved_concurrency", name],
                format!("function `{name}` is not part of this stack"),
                format!("turn on `{}` or remove this entry", spec.feature),
            ));
        }
    }
    if reserved > 0 && reserved + MIN_UNRESERVED > l.concurrency_target {
        out.push(Issue::new(
            &["lambda", "reserved_concurrency"],
            format!(
                "reserved concurrency adds up to {reserved}, which leaves less than {MIN_UNRESERVED} of lambda.concurrency_target ({}) unreserved",
                l.concurrency_target
            ),
            format!(
                "lower the reservations or raise lambda.concurrency_target to at least {}",
                reserved + MIN_UNRESERVED
            ),
        ));
    }
}

fn dynamodb(p: &Profile, variant: Variant, out: &mut Vec<Issue>) {
    table_capacity(&p.dynamodb.default, &["dynamodb", "default"], out);
    for (key, cap) in &p.dynamodb.tables {
        let spec = catalog::table(*key);
        table_capacity(cap, &["dynamodb", "tables", spec.name], out);
        if !p.produces(spec.feature, variant) {
            out.push(Issue::new(
                &["dynamodb", "tables", spec.name],
                format!("table `{}` is not part of this stack", spec.name),
                format!("turn on features.{} or remove this entry", spec.feature),
            ));
        }
    }
}

fn table_capacity(c: &TableCapacity, at: &[&str], out: &mut Vec<Issue>) {
    let path = |key: &'static str| -> Vec<&str> {
        let mut v = at.to_vec();
        v.push(key);
        v
    };
    let units_hint =
        "capacity units are whole numbers of at least 1; size them from `rmdeploy quota-check --offline` (what the capacity figures need) or use mode on_demand";
    let set = [
        ("read_units", c.read_units),
        ("write_units", c.write_units),
        ("min_read_units", c.min_read_units),
        ("min_write_units", c.min_write_units),
    ];
    for (key, value) in set {
        if let Some(v) = value {
            bounded(out, &path(key), v, units_hint);
        }
    }
    let unused: &[&str] = match c.mode {
        CapacityMode::OnDemand => &[
            "read_units",
            "write_units",
            "min_read_units",
            "min_write_units",
            "target_utilization",
        ],
        CapacityMode::Provisioned => &["min_read_units", "min_write_units", "target_utilization"],
        CapacityMode::AutoScaling => &[],
    };
    for key in unused {
        let given = match *key {
            "read_units" => c.read_units.is_some(),
            "write_units" => c.write_units.is_some(),
            "min_read_units" => c.min_read_units.is_some(),
            "min_write_units" => c.min_write_units.is_some(),
            _ => c.target_utilization.is_some(),
        };
        if given {
            out.push(Issue::new(
                &path(key),
                format!("{key} has no effect with mode {}", c.mode.as_str()),
                "remove it, or choose the mode that uses it (provisioned: read_units, write_units; auto_scaling: also min_*_units, target_utilization)",
            ));
        }
    }
    if c.mode != CapacityMode::OnDemand {
        for (key, value) in [("read_units", c.read_units), ("write_units", c.write_units)] {
            if value.is_none() {
                out.push(Issue::new(
                    at,
                    format!(
                        "mode {} needs {key}: there is no default",
                        c.mode.as_str()
                    ),
                    format!(
                        "give read_units and write_units ({}), or use mode on_demand; ESP RainMaker's 40,000 is AWS's per-table quota, not capacity to buy (40,000 provisioned units on a table cost about $25,000 a month)",
                        if c.mode == CapacityMode::AutoScaling { "the maximums" } else { "what `rmdeploy quota-check --offline` says the table needs" }
                    ),
                ));
            }
        }
    }
    if c.mode == CapacityMode::AutoScaling {
        let pairs = [
            ("min_read_units", c.min_read_units, c.read_units),
            ("min_write_units", c.min_write_units, c.write_units),
        ];
        for (key, min, max) in pairs {
            let Some(max) = max else { continue };
            let min = min.unwrap_or(DEFAULT_MIN_UNITS);
            if min > max {
                out.push(Issue::new(
                    &path(key),
                    format!("{key} is {min}, above the maximum {max}"),
                    "with auto_scaling, read_units and write_units are the maximums: keep each minimum at or below them",
                ));
            }
        }
        if let Some(t) = c.target_utilization {
            bounded(
                out,
                &path("target_utilization"),
                t,
                "DynamoDB auto scaling targets 20 to 90 percent; 70 is usual",
            );
        }
    }
}

fn capacity(p: &Profile, out: &mut Vec<Issue>) {
    let c = &p.capacity;
    bounded(
        out,
        &["capacity", "devices"],
        c.devices,
        "the number of devices you expect online at once",
    );
    bounded(
        out,
        &["capacity", "messages_per_device_per_day"],
        c.messages_per_device_per_day,
        "MQTT messages each device publishes per day, for example 1440 (one a minute)",
    );
    if let Some(users) = c.app_users {
        bounded(
            out,
            &["capacity", "app_users"],
            users,
            "monthly active users of the phone apps; leave it out for one per two devices",
        );
    }
    for (key, value, hint) in [
        (
            "connections_per_device_per_day",
            c.connections_per_device_per_day,
            "MQTT connections a device makes a day: 1 when it stays connected",
        ),
        (
            "api_requests_per_device_per_day",
            c.api_requests_per_device_per_day,
            "REST requests the apps make per device a day, for example 10",
        ),
        (
            "ota_updates_per_year",
            c.ota_updates_per_year,
            "firmware updates each device downloads a year, for example 4",
        ),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            out.push(Issue::new(
                &["capacity", key],
                format!("capacity.{key} is {value}; it must be a number of at least 0"),
                hint,
            ));
        }
    }
    if !(c.peak_factor.is_finite() && c.peak_factor >= 1.0) {
        out.push(Issue::new(
            &["capacity", "peak_factor"],
            format!(
                "capacity.peak_factor is {}; it must be at least 1",
                c.peak_factor
            ),
            "the peak rate over the daily average, for example 3",
        ));
    }
}

fn api(p: &Profile, out: &mut Vec<Issue>) {
    let a = &p.api;
    let stage_ok = !a.stage_name.is_empty()
        && a.stage_name.len() <= 128
        && a.stage_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !stage_ok {
        out.push(Issue::new(
            &["api", "stage_name"],
            format!("api.stage_name `{}` is not allowed", a.stage_name),
            "use letters, digits, hyphens and underscores, for example `live`",
        ));
    }
    bounded(
        out,
        &["api", "rate_limit"],
        a.rate_limit,
        "requests per second, for example 1000",
    );
    bounded(
        out,
        &["api", "burst_limit"],
        a.burst_limit,
        "a burst of requests, for example 2000",
    );
    bounded(
        out,
        &["api", "waf", "rate_limit"],
        a.waf.rate_limit,
        "requests one IP address may send in 5 minutes, for example 3000 (AWS WAF allows 10 to 2,000,000,000)",
    );
    bounded(
        out,
        &["api", "waf", "sign_in_rate_limit"],
        a.waf.sign_in_rate_limit,
        "sign-up and login requests one IP address may send in 5 minutes, for example 100 (AWS WAF allows 10 to 2,000,000,000)",
    );
}

/// The groups claim, the admin group, the authorizer's cache and threat protection.
fn identity_access(p: &Profile, variant: Variant, out: &mut Vec<Issue>) {
    let id = &p.identity;
    let provider = p.identity_provider(variant);
    bounded(
        out,
        &["identity", "authorizer_cache_seconds"],
        id.authorizer_cache_seconds,
        "a revoked or expired token works as long as its verdict is cached: write 60 or less (0 turns the cache off)",
    );
    let bad_name =
        |n: &str| n.trim().is_empty() || n.trim() != n || n.chars().any(char::is_control);
    if let Some(claim) = &id.groups_claim {
        if bad_name(claim) {
            out.push(Issue::new(
                &["identity", "groups_claim"],
                format!("identity.groups_claim {claim:?} is not a claim name"),
                "write the claim your tokens list groups in, for example `groups` (or remove the key for the provider's usual one)",
            ));
        }
    }
    let admin = &id.admin_group;
    if bad_name(admin) {
        out.push(Issue::new(
            &["identity", "admin_group"],
            format!("identity.admin_group {admin:?} is not a group name"),
            "write the exact name of the group whose members manage OTA jobs, for example `admin`",
        ));
    } else if provider == IdentityProvider::Cognito && admin.contains(',') {
        out.push(Issue::new(
            &["identity", "admin_group"],
            format!("identity.admin_group `{admin}` has a comma: API Gateway joins a Cognito user's groups with commas, so no user could be told apart as its member"),
            "name the admin group without a comma, for example `admin`",
        ));
    }
    if id.threat_protection != ThreatProtection::Off && provider != IdentityProvider::Cognito {
        out.push(Issue::new(
            &["identity", "threat_protection"],
            if variant == Variant::China {
                "Cognito threat protection is not available in AWS China (there are no Cognito user pools)".to_string()
            } else {
                "identity.threat_protection is a Cognito user pool setting, but the provider is oauth2".to_string()
            },
            "remove `threat_protection`, or use `provider: cognito` (global regions only)",
        ));
    }
}

fn identity(p: &Profile, variant: Variant, out: &mut Vec<Issue>) {
    let id = &p.identity;
    if variant == Variant::China {
        if id.provider == Some(IdentityProvider::Cognito) {
            out.push(Issue::new(
                &["identity", "provider"],
                "Cognito user pools are not available in AWS China",
                "use `provider: oauth2` with identity.oauth2.issuer and audience (OAuth2 is mandatory in China)",
            ));
        }
        if id.email {
            out.push(Issue::new(
                &["identity", "email"],
                "Amazon SES email is not available in AWS China",
                "turn email off and send mail through your OAuth2 provider or a local email service",
            ));
        }
        if id.sms_otp {
            out.push(Issue::new(
                &["identity", "sms_otp"],
                "SMS one-time passwords through Amazon SNS are not available in AWS China",
                "turn sms_otp off and use a local SMS gateway through your OAuth2 provider",
            ));
        }
        if p.features.push_notifications {
            out.push(Issue::new(
                &["features", "push_notifications"],
                "SNS mobile push is not available in AWS China",
                "turn push_notifications off: AWS China has no SNS mobile push (alerts are still stored for the apps)",
            ));
        }
    }
    let provider = p.identity_provider(variant);
    if provider == IdentityProvider::Oauth2 {
        match &id.oauth2 {
            None => out.push(Issue::new(
                &["identity"],
                "the identity provider is oauth2 but identity.oauth2 is missing",
                "add identity.oauth2 with `issuer: https://...` and `audience: ...` (your OIDC provider's values)",
            )),
            Some(o) => {
                https_url(out, &["identity", "oauth2", "issuer"], &o.issuer);
                if o.audience.trim().is_empty() {
                    out.push(Issue::new(
                        &["identity", "oauth2", "audience"],
                        "identity.oauth2.audience is empty",
                        "give the audience (`aud` claim) your issuer puts in tokens for this API",
                    ));
                }
                if let Some(j) = &o.jwks_uri {
                    https_url(out, &["identity", "oauth2", "jwks_uri"], j);
                }
            }
        }
    }
    if provider != IdentityProvider::Cognito {
        for (key, on) in [("email", id.email), ("sms_otp", id.sms_otp)] {
            if on && variant == Variant::Global {
                out.push(Issue::new(
                    &["identity", key],
                    format!("identity.{key} is sent by the Cognito user pool, but the provider is oauth2"),
                    format!("use `provider: cognito`, or turn {key} off and let your OAuth2 provider handle it"),
                ));
            }
        }
    }
    if id.email && variant == Variant::Global {
        match &id.email_from {
            None => out.push(Issue::new(
                &["identity", "email"],
                "identity.email is on but identity.email_from is missing",
                "add `email_from: no-reply@your-domain` (an address SES may send from)",
            )),
            Some(addr) if !looks_like_email(addr) => out.push(Issue::new(
                &["identity", "email_from"],
                format!("identity.email_from `{addr}` is not an email address"),
                "write an address such as no-reply@example.com",
            )),
            Some(_) => {}
        }
    }
}

fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
}

fn https_url(out: &mut Vec<Issue>, path: &[&str], url: &str) {
    let ok = url.strip_prefix("https://").is_some_and(|rest| {
        !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace)
    });
    if !ok {
        out.push(Issue::new(
            path,
            format!("{} `{url}` is not an https URL", display_path(path)),
            "write the full URL, starting with https://",
        ));
    }
}

fn firmware(p: &Profile, out: &mut Vec<Issue>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, image) in p.firmware.images.iter().enumerate() {
        let index = i.to_string();
        let at =
            |key: &'static str| -> Vec<&str> { vec!["firmware", "images", index.as_str(), key] };
        if image.name.trim().is_empty() {
            out.push(Issue::new(
                &at("name"),
                "a firmware image has an empty name",
                "name an image of the device-fw/ manifest",
            ));
        } else if !seen.insert(image.name.as_str()) {
            out.push(Issue::new(
                &at("name"),
                format!("firmware image `{}` is listed twice", image.name),
                "list each image once",
            ));
        }
        for (key, v) in [
            ("max_parallel_per_network", image.max_parallel_per_network),
            ("max_per_minute", image.max_per_minute),
        ] {
            if let Some(v) = v {
                bounded(
                    out,
                    &at(key),
                    v,
                    "rollout limits are whole numbers of at least 1",
                );
            }
        }
    }
}

/// Things worth telling that do not stop a deploy.
pub fn warnings(p: &Profile, variant: Variant, identity: IdentityProvider) -> Vec<String> {
    let mut w = Vec::new();
    if identity == IdentityProvider::Oauth2 {
        if let Some(o) = &p.identity.oauth2 {
            let host = o
                .issuer
                .trim_start_matches("https://")
                .split('/')
                .next()
                .unwrap_or("");
            let example = host
                .split('.')
                .any(|label| label == "example" || label == "invalid");
            if example {
                w.push(format!(
                    "identity.oauth2.issuer `{}` is a placeholder: set your own OIDC issuer and audience before `apply`",
                    o.issuer
                ));
            }
        }
    }
    if p.lambda.timeout_seconds > 29 {
        w.push(format!(
            "lambda.timeout_seconds is {}; API Gateway ends requests after 29 s, so API functions are given 29",
            p.lambda.timeout_seconds
        ));
    }
    w.extend(placeholder_features(p).into_iter().map(|(name, why)| {
        format!("features.{name} is on, but {why}: turn it off until rmdeploy implements it")
    }));
    if p.features.device_defender {
        w.push("features.device_defender: AWS closed Device Defender Detect to new customers on 2026-08-31; an account that had not used it before cannot create the security profile".into());
    }
    if p.features.logging_levels {
        w.push(
            "features.logging_levels sets AWS IoT Core logging for the whole account and region"
                .into(),
        );
    }
    if variant == Variant::China {
        w.push("AWS China: API Gateway APIs that are not IAM-authenticated, and custom domains, need an ICP recordal before they serve traffic; the user API here uses an OAuth2 authorizer, so file one for this account".into());
    }
    w
}

/// Features with no data table nothing reads yet.
const UNREAD_FEATURES: &[(&str, &str)] = &[(
    "message_templates",
    "nothing reads its table yet (no handler renders templates)",
)];

/// The toggles that are on but do not work yet, with why: a function of theirs runs the
/// `pending` placeholder (fails every call), or nothing uses what they deploy.
pub fn placeholder_features(p: &Profile) -> Vec<(&'static str, String)> {
    FEATURE_NAMES
        .iter()
        .filter(|name| p.features.get(name) == Some(true))
        .filter_map(|name| {
            let pending: Vec<&str> = catalog::FUNCTIONS
                .iter()
                .filter(|f| f.feature == *name && !f.bundled())
                .map(|f| f.name)
                .collect();
            if !pending.is_empty() {
                return Some((
                    *name,
                    format!(
                        "its function {} has no handler yet: it runs `pending`, which fails every call",
                        pending.join(", ")
                    ),
                ));
            }
            UNREAD_FEATURES
                .iter()
                .find(|(n, _)| n == name)
                .map(|(n, why)| (*n, why.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_show_indexes_in_brackets() {
        assert_eq!(
            display_path(&["firmware", "images", "0", "max_per_minute"]),
            "firmware.images[0].max_per_minute"
        );
        assert_eq!(display_path(&["lambda", "memory_mb"]), "lambda.memory_mb");
    }

    #[test]
    fn ranges_match_any_key_for_a_star() {
        assert_eq!(allowed_range(&["lambda", "memory_mb"]), Some((128, 10_240)));
        assert_eq!(
            allowed_range(&["dynamodb", "tables", "nodes", "target_utilization"]),
            Some((20, 90))
        );
        assert_eq!(
            allowed_range(&["firmware", "images", "3", "max_per_minute"]),
            Some((1, i64::MAX))
        );
        assert_eq!(allowed_range(&["lambda", "log_retention_days"]), None);
        assert_eq!(allowed_range(&["capacity"]), None);
    }

    /// (file, line, column, message, help) of each problem of a profile text.
    struct Found {
        file: String,
        line: usize,
        column: usize,
        message: String,
        help: Option<String>,
    }

    impl std::fmt::Debug for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }

    fn problems(text: &str) -> Vec<Found> {
        let source = crate::profile::Source {
            name: "my.yaml".into(),
            text: text.into(),
            shipped: None,
        };
        match crate::profile::parse(&source)
            .and_then(|p| crate::profile::resolve(p, source.clone(), None))
        {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems()
                .iter()
                .map(|p| Found {
                    file: p.file.clone(),
                    line: p.line,
                    column: p.column,
                    message: p.message.clone(),
                    help: p.help.clone(),
                })
                .collect(),
        }
    }

    /// Issue 14: an authorizer cache over 60 s is refused at its key; WAF limits and the admin
    /// group are checked too.
    #[test]
    fn identity_and_waf_settings_are_checked_where_they_are_written() {
        let head = "stack_name: demo\nregion: us-east-1\n";
        let p = problems(&format!(
            "{head}identity:\n  authorizer_cache_seconds: 300\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            (p[0].file.as_str(), p[0].line, p[0].column),
            ("my.yaml", 4, 29)
        );
        assert_eq!(
            p[0].message,
            "identity.authorizer_cache_seconds is 300; allowed: 0 to 60"
        );
        assert!(p[0].help.as_deref().unwrap().contains("60 or less"));
        for ok in [0, 30, 60] {
            assert!(problems(&format!(
                "{head}identity:\n  authorizer_cache_seconds: {ok}\n"
            ))
            .is_empty());
        }
        let p = problems(&format!("{head}api:\n  waf:\n    rate_limit: 5\n"));
        assert_eq!((p.len(), p[0].line), (1, 5), "{p:?}");
        assert!(
            p[0].message.contains("10 to 2000000000"),
            "{}",
            p[0].message
        );
        let p = problems(&format!("{head}identity:\n  admin_group: \"x,admin\"\n"));
        assert_eq!((p.len(), p[0].line), (1, 4), "{p:?}");
        assert!(p[0].message.contains("comma"), "{}", p[0].message);
        let p = problems(
            "stack_name: demo\nregion: cn-north-1\nidentity:\n  oauth2: {issuer: https://login.example.cn, audience: api}\n  threat_protection: audit\n",
        );
        assert_eq!((p.len(), p[0].line), (1, 5), "{p:?}");
        assert!(p[0].message.contains("not available in AWS China"));
    }
}
