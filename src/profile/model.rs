//! The profile format: what a YAML profile may say. Doc comments here become the JSON Schema
//! descriptions that editors show, so they are written for the person editing a profile.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{FunctionKey, TableKey};

/// An rmdeploy profile: everything needed to render and deploy one IoT backend stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// CloudFormation stack name: a letter, then letters, digits or hyphens; at most 32 characters
    /// (it prefixes function, table and log group names).
    pub stack_name: String,
    /// Default AWS region, for example `us-east-1` or `cn-north-1`; `--region` overrides it.
    pub region: String,
    /// Pin the variant. Normally left out: it follows the region's partition (`cn-*` is china).
    /// When set, a region of the other partition is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// Keep DynamoDB tables and the firmware bucket when the stack is deleted or they are replaced.
    #[serde(default = "yes")]
    pub retain_data: bool,
    /// Turn on stack termination protection.
    #[serde(default = "yes")]
    pub termination_protection: bool,
    /// AWS X-Ray active tracing of the functions and the API stage (global regions only). Off by
    /// default: at the default sampling it records about 5 % of invocations, $5 per million
    /// traces (`rmdeploy cost` shows the figure).
    #[serde(default)]
    pub tracing: bool,
    /// Lambda settings, shared by every bundled function.
    #[serde(default)]
    pub lambda: LambdaSettings,
    /// DynamoDB capacity, as a default for every table and per table.
    #[serde(default)]
    pub dynamodb: DynamoSettings,
    /// Optional features; each adds or removes exactly its own resources.
    #[serde(default)]
    pub features: Features,
    /// How users sign up and log in.
    #[serde(default)]
    pub identity: Identity,
    /// The user-facing REST API.
    #[serde(default)]
    pub api: ApiSettings,
    /// The fleet this stack is sized for; the quota check derives rates from it.
    #[serde(default)]
    pub capacity: Capacity,
    /// Device firmware to publish for OTA.
    #[serde(default)]
    pub firmware: FirmwareSettings,
    /// How devices get their identity: claiming (`esp-rainmaker-cli claim`) and `rmdeploy nodes`.
    #[serde(default)]
    pub devices: DeviceSettings,
    /// A ceiling on the estimated monthly cost: `plan` and `apply` stop (exit 2) when the
    /// estimate is over it, unless `--ignore-budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

/// A ceiling on the estimated monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The most the stack may cost a month, in the region's currency (USD; CNY in AWS China).
    #[schemars(range(min = 0.0))]
    pub monthly: f64,
    /// The currency `monthly` is in: `USD` or `CNY`. Optional; when given it must be the
    /// currency of the region's prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

fn yes() -> bool {
    true
}

/// The deployment variant: AWS global regions or AWS China.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Global,
    China,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Global => "global",
            Variant::China => "china",
        }
    }
    /// The AWS partition this variant deploys into.
    pub fn partition(self) -> &'static str {
        match self {
            Variant::Global => "aws",
            Variant::China => "aws-cn",
        }
    }
    /// The currency AWS bills in the partition.
    pub fn currency(self) -> &'static str {
        match self {
            Variant::Global => "USD",
            Variant::China => "CNY",
        }
    }
    /// The DNS suffix of the partition's endpoints (`AWS::URLSuffix`).
    pub fn url_suffix(self) -> &'static str {
        match self {
            Variant::Global => "amazonaws.com",
            Variant::China => "amazonaws.com.cn",
        }
    }
}

/// CPU architecture of the Lambda functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

/// Log level of the functions (`RUST_LOG`) and, with `features.logging_levels`, of IoT Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
    /// The nearest AWS IoT Core logging level.
    pub fn iot_level(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug | LogLevel::Trace => "DEBUG",
        }
    }
}

/// Lambda settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaSettings {
    /// Account concurrency the deployment needs (1 to 100000). The quota check compares it with
    /// the account's limit; new accounts can have as little as 10.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 100000))]
    pub concurrency_target: i64,
    /// Memory per function in MB (128 to 10240).
    #[serde(default = "default_memory")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: i64,
    /// Timeout per function in seconds (1 to 900; API functions are cut at 29 by API Gateway).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 900))]
    pub timeout_seconds: i64,
    /// `arm64` or `x86_64`. Default: arm64 in global regions, x86_64 in China.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Function log level.
    #[serde(default = "default_log_level")]
    pub log_level: LogLevel,
    /// Days CloudWatch keeps function logs; one of the values CloudWatch Logs allows.
    #[serde(default = "default_retention")]
    pub log_retention_days: i64,
    /// Reserved concurrency per function, for example `api: 200`. Together they must leave at
    /// least 100 of `concurrency_target` unreserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reserved_concurrency: BTreeMap<FunctionKey, i64>,
}

fn default_concurrency() -> i64 {
    1000
}
fn default_memory() -> i64 {
    256
}
fn default_timeout() -> i64 {
    30
}
fn default_log_level() -> LogLevel {
    LogLevel::Info
}
fn default_retention() -> i64 {
    30
}

impl Default for LambdaSettings {
    fn default() -> Self {
        Self {
            concurrency_target: default_concurrency(),
            memory_mb: default_memory(),
            timeout_seconds: default_timeout(),
            architecture: None,
            log_level: default_log_level(),
            log_retention_days: default_retention(),
            reserved_concurrency: BTreeMap::new(),
        }
    }
}

/// DynamoDB capacity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamoSettings {
    /// Capacity of every table not named under `tables`.
    #[serde(default)]
    pub default: TableCapacity,
    /// Capacity per table, overriding `default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<TableKey, TableCapacity>,
}

/// How a table pays for throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapacityMode {
    /// Fixed read and write units.
    Provisioned,
    /// Pay per request.
    OnDemand,
    /// Units scale between a minimum and a maximum to hold a target utilisation.
    AutoScaling,
}

impl CapacityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityMode::Provisioned => "provisioned",
            CapacityMode::OnDemand => "on_demand",
            CapacityMode::AutoScaling => "auto_scaling",
        }
    }
}

/// Capacity of one table (and its indexes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableCapacity {
    /// `on_demand` (the default: pay per request), `provisioned` or `auto_scaling`.
    #[serde(default = "default_mode")]
    pub mode: CapacityMode,
    /// Read units: fixed when provisioned, the maximum when auto scaling. Required by both; no
    /// default (ESP RainMaker's 40,000 is AWS's per-table quota, not capacity to buy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_units: Option<i64>,
    /// Write units: fixed when provisioned, the maximum when auto scaling. Required by both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_units: Option<i64>,
    /// Auto scaling only: the minimum read units (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_read_units: Option<i64>,
    /// Auto scaling only: the minimum write units (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_write_units: Option<i64>,
    /// Auto scaling only: target utilisation in percent, 20 to 90 (default 70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization: Option<i64>,
}

fn default_mode() -> CapacityMode {
    CapacityMode::OnDemand
}

/// AWS's default per-table throughput quota (ESP RainMaker's "default provisioned throughput of
/// 40,000 units"): what the capacity figures are checked against, not capacity to buy.
pub const DEFAULT_TABLE_QUOTA: i64 = 40_000;
/// Auto-scaling minimum when not given.
pub const DEFAULT_MIN_UNITS: i64 = 5;
/// Auto-scaling target when not given.
pub const DEFAULT_TARGET_UTILIZATION: i64 = 70;

impl Default for TableCapacity {
    fn default() -> Self {
        Self {
            mode: CapacityMode::OnDemand,
            read_units: None,
            write_units: None,
            min_read_units: None,
            min_write_units: None,
            target_utilization: None,
        }
    }
}

impl TableCapacity {
    /// Fill the figures the mode uses with their defaults, so the effective profile shows them
    /// (the units themselves have none: validation asks for them).
    pub fn fill_defaults(&mut self) {
        if self.mode == CapacityMode::AutoScaling {
            self.min_read_units.get_or_insert(DEFAULT_MIN_UNITS);
            self.min_write_units.get_or_insert(DEFAULT_MIN_UNITS);
            self.target_utilization
                .get_or_insert(DEFAULT_TARGET_UTILIZATION);
        }
    }
}

/// Optional features (ESP RainMaker's configurable features). All off unless turned on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Alert and push message templates, kept in their own table.
    #[serde(default)]
    pub message_templates: bool,
    /// AWS IoT Device Defender security profile over every registered node.
    #[serde(default)]
    pub device_defender: bool,
    /// An API Gateway usage plan at `api.rate_limit` and `api.burst_limit` (the stage throttles at
    /// those figures with or without it).
    #[serde(default)]
    pub api_rate_limiting: bool,
    /// Push notifications of node alerts through an SNS topic (global only).
    #[serde(default)]
    pub push_notifications: bool,
    /// AWS IoT Core logging at `lambda.log_level` (an account-wide setting).
    #[serde(default)]
    pub logging_levels: bool,
    /// Voice assistant integration endpoint (Alexa / Google Home fulfilment).
    #[serde(default)]
    pub voice_assistants: bool,
    /// API passthrough: `/v1/passthrough/...` forwarded to a function you own.
    #[serde(default)]
    pub api_passthrough: bool,
    /// Admin API for managing users (`/v1/admin/users`).
    #[serde(default)]
    pub internal_user_management: bool,
    /// Webhooks for node alerts: a queue, a dispatcher function and a subscriptions table.
    #[serde(default)]
    pub webhooks: bool,
}

/// The nine feature toggles by name, in profile order.
pub const FEATURE_NAMES: [&str; 9] = [
    "message_templates",
    "device_defender",
    "api_rate_limiting",
    "push_notifications",
    "logging_levels",
    "voice_assistants",
    "api_passthrough",
    "internal_user_management",
    "webhooks",
];

impl Features {
    /// Whether the named toggle is on; `None` for a name that is not a toggle.
    pub fn get(&self, name: &str) -> Option<bool> {
        Some(match name {
            "message_templates" => self.message_templates,
            "device_defender" => self.device_defender,
            "api_rate_limiting" => self.api_rate_limiting,
            "push_notifications" => self.push_notifications,
            "logging_levels" => self.logging_levels,
            "voice_assistants" => self.voice_assistants,
            "api_passthrough" => self.api_passthrough,
            "internal_user_management" => self.internal_user_management,
            "webhooks" => self.webhooks,
            _ => return None,
        })
    }

    /// Set the named toggle; returns false for a name that is not a toggle.
    pub fn set(&mut self, name: &str, on: bool) -> bool {
        let slot = match name {
            "message_templates" => &mut self.message_templates,
            "device_defender" => &mut self.device_defender,
            "api_rate_limiting" => &mut self.api_rate_limiting,
            "push_notifications" => &mut self.push_notifications,
            "logging_levels" => &mut self.logging_levels,
            "voice_assistants" => &mut self.voice_assistants,
            "api_passthrough" => &mut self.api_passthrough,
            "internal_user_management" => &mut self.internal_user_management,
            "webhooks" => &mut self.webhooks,
            _ => return false,
        };
        *slot = on;
        true
    }
}

impl Profile {
    /// The identity provider in force: the profile's, else the variant's default.
    pub fn identity_provider(&self, variant: Variant) -> IdentityProvider {
        self.identity.provider.unwrap_or(match variant {
            Variant::Global => IdentityProvider::Cognito,
            Variant::China => IdentityProvider::Oauth2,
        })
    }

    /// Whether resources produced by `producer` belong to this profile's stack: `core`, one of
    /// the nine toggles, or an identity option (`identity_cognito`, `identity_oauth2`,
    /// `identity_email`, `identity_sms_otp`).
    pub fn produces(&self, producer: &str, variant: Variant) -> bool {
        let cognito = self.identity_provider(variant) == IdentityProvider::Cognito;
        match producer {
            crate::catalog::CORE => true,
            "identity_cognito" => cognito,
            "identity_oauth2" => !cognito,
            "identity_email" => cognito && self.identity.email,
            "identity_sms_otp" => cognito && self.identity.sms_otp,
            toggle => self.features.get(toggle).unwrap_or(false),
        }
    }
}

/// Identity provider for app users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProvider {
    /// Amazon Cognito user pool (global regions only).
    Cognito,
    /// Any OAuth2 / OpenID Connect issuer; the API checks its JWTs with a Lambda authorizer.
    Oauth2,
}

impl IdentityProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::Cognito => "cognito",
            IdentityProvider::Oauth2 => "oauth2",
        }
    }
}

/// Identity settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `cognito` or `oauth2`. Default: cognito in global regions, oauth2 in China (mandatory there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<IdentityProvider>,
    /// Send sign-up and reset emails through Amazon SES (cognito only; not in China).
    #[serde(default)]
    pub email: bool,
    /// Sender address for SES email, required when `email` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    /// Verify phone numbers with SMS one-time passwords through Amazon SNS (cognito only; not in China).
    #[serde(default)]
    pub sms_otp: bool,
    /// The OAuth2 / OIDC issuer, required when the provider is oauth2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Settings>,
    /// The token claim that lists a user's groups. Default: `cognito:groups` with cognito,
    /// `groups` with oauth2. Group names are matched exactly, never split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// The group whose members may manage OTA jobs (`/v1/admin/otajobs`), by its exact name.
    /// With cognito, a user counts as a member only when it is the user's one group: API Gateway
    /// joins several groups with commas, which a group name may also contain.
    #[serde(default = "default_admin_group")]
    pub admin_group: String,
    /// Seconds API Gateway may reuse an authorizer's verdict for the same token: 0 to 60
    /// (default 60). A revoked or expired token works at most this long.
    #[serde(default = "default_authorizer_cache")]
    #[schemars(range(min = 0, max = 60))]
    pub authorizer_cache_seconds: i64,
    /// Cognito threat protection (formerly advanced security: compromised-credential and
    /// risk-based sign-in checks): `off` (default), `audit` or `enforced` (cognito only; not in
    /// China). `audit` and `enforced` put the user pool on the Plus plan, $0.020 per monthly
    /// active user with no free tier, instead of Essentials' $0.015 (`rmdeploy cost` shows it).
    #[serde(default)]
    pub threat_protection: ThreatProtection,
}

fn default_admin_group() -> String {
    "admin".into()
}
fn default_authorizer_cache() -> i64 {
    60
}

/// The most an authorizer's verdict may be cached, in seconds.
pub const MAX_AUTHORIZER_CACHE_SECONDS: i64 = 60;

impl Default for Identity {
    fn default() -> Self {
        Identity {
            provider: None,
            email: false,
            email_from: None,
            sms_otp: false,
            oauth2: None,
            groups_claim: None,
            admin_group: default_admin_group(),
            authorizer_cache_seconds: default_authorizer_cache(),
            threat_protection: ThreatProtection::Off,
        }
    }
}

impl Identity {
    /// The claim the groups are read from: the profile's, else the provider's usual one.
    pub fn groups_claim(&self, provider: IdentityProvider) -> String {
        self.groups_claim.clone().unwrap_or_else(|| {
            match provider {
                IdentityProvider::Cognito => "cognito:groups",
                IdentityProvider::Oauth2 => "groups",
            }
            .into()
        })
    }
}

/// Cognito threat protection (`UserPoolAddOns.AdvancedSecurityMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreatProtection {
    /// None (the Essentials plan).
    #[default]
    Off,
    /// Assess and log the risk of each sign-in, take no action (Plus plan).
    Audit,
    /// Block or challenge risky sign-ins and compromised passwords (Plus plan).
    Enforced,
}

impl ThreatProtection {
    /// The `AdvancedSecurityMode` value.
    pub fn mode(self) -> &'static str {
        match self {
            ThreatProtection::Off => "OFF",
            ThreatProtection::Audit => "AUDIT",
            ThreatProtection::Enforced => "ENFORCED",
        }
    }
}

/// An OAuth2 / OpenID Connect issuer whose JWTs the API accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// Issuer URL (the `iss` claim), https.
    pub issuer: String,
    /// Expected audience (the `aud` claim).
    pub audience: String,
    /// JWKS URL. Default: `<issuer>/.well-known/jwks.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

/// The user-facing REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// API Gateway stage name; the base URL ends with it, and clients call `<base>/v1/...`.
    #[serde(default = "default_stage")]
    pub stage_name: String,
    /// Steady request rate per second the stage allows (and the usage plan, with
    /// `features.api_rate_limiting`).
    #[serde(default = "default_rate")]
    #[schemars(range(min = 1))]
    pub rate_limit: i64,
    /// Burst of requests the stage allows (and the usage plan).
    #[serde(default = "default_burst")]
    #[schemars(range(min = 1))]
    pub burst_limit: i64,
    /// An AWS WAF web ACL on the API stage that blocks clients (by IP address) sending too many
    /// requests. Costs $5 a month, $1 per rule (two) and $0.60 per million requests (USD list
    /// prices; `rmdeploy cost` shows the figure). On in the shipped `global` and `china`
    /// profiles.
    #[serde(default)]
    pub waf: WafSettings,
}

/// The API's AWS WAF web ACL: rate-based rules per client IP address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafSettings {
    /// Deploy the web ACL. Off unless turned on.
    #[serde(default)]
    pub enabled: bool,
    /// Requests one IP address may send to any route in 5 minutes before it is blocked
    /// (10 to 2,000,000,000; default 3000, 10 a second).
    #[serde(default = "default_waf_rate")]
    #[schemars(range(min = 10, max = 2_000_000_000))]
    pub rate_limit: i64,
    /// Requests one IP address may send to sign-up and login (`/v1/user2`, `/v1/login2`) in
    /// 5 minutes before those are blocked for it (10 to 2,000,000,000; default 100).
    #[serde(default = "default_waf_sign_in_rate")]
    #[schemars(range(min = 10, max = 2_000_000_000))]
    pub sign_in_rate_limit: i64,
}

fn default_waf_rate() -> i64 {
    3000
}
fn default_waf_sign_in_rate() -> i64 {
    100
}

impl Default for WafSettings {
    fn default() -> Self {
        WafSettings {
            enabled: false,
            rate_limit: default_waf_rate(),
            sign_in_rate_limit: default_waf_sign_in_rate(),
        }
    }
}

fn default_stage() -> String {
    "live".into()
}
fn default_rate() -> i64 {
    1000
}
fn default_burst() -> i64 {
    2000
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            stage_name: default_stage(),
            rate_limit: default_rate(),
            burst_limit: default_burst(),
            waf: WafSettings::default(),
        }
    }
}

/// The fleet the stack is sized for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// Devices expected online at once.
    #[serde(default = "default_devices")]
    #[schemars(range(min = 1))]
    pub devices: i64,
    /// MQTT messages each device publishes per day.
    #[serde(default = "default_messages")]
    #[schemars(range(min = 1))]
    pub messages_per_device_per_day: i64,
    /// Peak rate over the daily average (at least 1).
    #[serde(default = "default_peak")]
    #[schemars(range(min = 1.0))]
    pub peak_factor: f64,
    /// MQTT connections each device makes a day (1: it stays connected). Each connection
    /// sends a config, the initial params and an OTA fetch, and raises two presence events.
    #[serde(default = "default_connections")]
    #[schemars(range(min = 0.0))]
    pub connections_per_device_per_day: f64,
    /// Requests the phone apps make to the REST API per device a day (for the cost estimate).
    #[serde(default = "default_api_requests")]
    #[schemars(range(min = 0.0))]
    pub api_requests_per_device_per_day: f64,
    /// App users (monthly active). Default: one for every two devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub app_users: Option<i64>,
    /// Firmware updates each device downloads a year (for the cost estimate).
    #[serde(default = "default_ota_updates")]
    #[schemars(range(min = 0.0))]
    pub ota_updates_per_year: f64,
}

fn default_devices() -> i64 {
    10_000
}
fn default_messages() -> i64 {
    1_440
}
fn default_peak() -> f64 {
    3.0
}
fn default_connections() -> f64 {
    1.0
}
fn default_api_requests() -> f64 {
    10.0
}
fn default_ota_updates() -> f64 {
    4.0
}

impl Capacity {
    /// Monthly active app users: the profile's figure, else one for every two devices.
    pub fn users(&self) -> i64 {
        self.app_users.unwrap_or((self.devices + 1) / 2)
    }
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            devices: default_devices(),
            messages_per_device_per_day: default_messages(),
            peak_factor: default_peak(),
            connections_per_device_per_day: default_connections(),
            api_requests_per_device_per_day: default_api_requests(),
            app_users: None,
            ota_updates_per_year: default_ota_updates(),
        }
    }
}

/// How devices get their identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceSettings {
    /// Chips one user may claim in an hour (`claim/initiate`); more get HTTP 429.
    #[serde(default = "default_claims_per_hour")]
    pub claims_per_user_per_hour: i64,
    /// The firmware project (`project_name` in the manifest) a claimed node is bound to for OTA.
    /// Without it, a claimed node gets OTA only once its thing has a `project_name` attribute
    /// (`rmdeploy nodes provision --project` sets it for a factory batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_project: Option<String>,
}

fn default_claims_per_hour() -> i64 {
    20
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings {
            claims_per_user_per_hour: default_claims_per_hour(),
            claim_project: None,
        }
    }
}

/// Device firmware to publish for OTA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmwareSettings {
    /// The firmware manifest, relative to the folder rmdeploy runs in.
    #[serde(default = "default_manifest")]
    pub manifest: String,
    /// Images from the manifest, by name, with optional rollout limits; `apply` publishes them
    /// after the stack is deployed.
    #[serde(default)]
    pub images: Vec<FirmwareImage>,
    /// Also create an AWS IoT Job per image (rollout, abort and timeout from the manifest),
    /// targeting the thing group `<stack_name>-<project>`.
    #[serde(default)]
    pub iot_jobs: bool,
}

fn default_manifest() -> String {
    "device-fw/manifest.yaml".into()
}

impl Default for FirmwareSettings {
    fn default() -> Self {
        FirmwareSettings {
            manifest: default_manifest(),
            images: Vec::new(),
            iot_jobs: false,
        }
    }
}

/// One firmware image to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmwareImage {
    /// The image's name in the `device-fw/` manifest.
    pub name: String,
    /// At most this many OTA sessions at once per network (Thread networks want few).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_parallel_per_network: Option<i64>,
    /// At most this many devices started per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_per_minute: Option<i64>,
}
