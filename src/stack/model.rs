//! Turns a resolved profile into the data the templates render: only what this profile deploys,
//! each item with the feature that produced it.

use serde::Serialize;
use serde_json::{json, Value};

use crate::catalog::{self, FunctionKey, Op, TableKey, Trigger, CORE};
use crate::profile::{IdentityProvider, Resolved, Variant};

/// API Gateway ends integrations after this many seconds.
const API_TIMEOUT_LIMIT: i64 = 29;

#[derive(Debug, Serialize)]
pub struct StackModel {
    pub stack_name: String,
    pub region: String,
    pub variant: &'static str,
    pub china: bool,
    /// X-Ray active tracing (never in China).
    pub tracing: bool,
    pub architecture: &'static str,
    pub log_level: &'static str,
    pub iot_log_level: &'static str,
    pub log_retention_days: i64,
    pub memory_mb: i64,
    pub retention_policy: &'static str,
    pub identity: IdentityModel,
    pub features: crate::profile::Features,
    pub api: crate::profile::ApiSettings,
    pub tables: Vec<TableModel>,
    pub functions: Vec<FunctionModel>,
    pub rules: Vec<RuleModel>,
    pub api_resources: Vec<ApiResourceModel>,
    pub api_methods: Vec<ApiMethodModel>,
}

#[derive(Debug, Serialize)]
pub struct IdentityModel {
    pub provider: &'static str,
    pub cognito: bool,
    pub oauth2: bool,
    pub email: bool,
    pub email_from: Option<String>,
    pub sms_otp: bool,
    /// The producer name of identity resources: `identity_cognito`, `identity_email`, ...
    pub feature: &'static str,
    /// The claim listing a user's groups, and the admin group's exact name (`GROUPS_CLAIM`,
    /// `ADMIN_GROUP` of the api function; the authorizer passes groups on, the api decides).
    pub groups_claim: String,
    pub admin_group: String,
    /// `AuthorizerResultTtlInSeconds`, at most 60.
    pub cache_seconds: i64,
    /// Cognito threat protection: `OFF`, `AUDIT` or `ENFORCED` (Plus plan unless `OFF`).
    pub threat_protection: &'static str,
}

#[derive(Debug, Serialize)]
pub struct TableModel {
    pub key: TableKey,
    pub name: &'static str,
    pub logical_id: &'static str,
    pub feature: &'static str,
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    pub ttl_attribute: Option<&'static str>,
    pub index: Option<IndexModel>,
    pub mode: &'static str,
    pub read_units: i64,
    pub write_units: i64,
    pub min_read_units: i64,
    pub min_write_units: i64,
    pub target_utilization: i64,
}

#[derive(Debug, Serialize)]
pub struct IndexModel {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
}

#[derive(Debug, Serialize)]
pub struct FunctionModel {
    pub name: &'static str,
    pub prefix: &'static str,
    pub feature: &'static str,
    pub trigger: &'static str,
    pub asynchronous: bool,
    pub description: &'static str,
    pub timeout_seconds: i64,
    pub reserved_concurrency: Option<i64>,
    pub tables: Vec<TableAccessModel>,
    pub publishes: Vec<&'static str>,
    pub reads_firmware: bool,
    pub reads_registry: bool,
    pub reads_certificates: bool,
    pub registers_nodes: bool,
    /// Logical id prefixes of the functions it invokes.
    pub invokes: Vec<&'static str>,
    pub publishes_push: bool,
    pub sends_webhooks: bool,
    pub consumes_webhooks: bool,
    pub manages_users: bool,
    /// Environment variables: name and the CloudFormation value as JSON.
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct TableAccessModel {
    pub logical_id: &'static str,
    /// The IAM actions of the operations the function's code calls on the table.
    pub actions: Vec<&'static str>,
    /// The table's index, when the function queries the table (it may query the index).
    pub index: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct RuleModel {
    pub name: &'static str,
    pub suffix: &'static str,
    pub sql: String,
    pub description: String,
    /// Nodes may publish to it by basic ingest: the node policy names its topic.
    pub basic_ingest: bool,
    pub logical_id: &'static str,
    pub function_prefix: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ApiResourceModel {
    pub logical_id: String,
    pub parent: Option<String>,
    pub path_part: String,
    pub feature: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ApiMethodModel {
    pub logical_id: String,
    pub resource: String,
    pub method: &'static str,
    pub function_prefix: &'static str,
    pub authorized: bool,
    pub feature: &'static str,
}

/// Whether resources of `feature` belong to this profile's stack.
fn feature_on(r: &Resolved, feature: &str) -> bool {
    r.profile.produces(feature, r.variant)
}

/// The bundled functions this profile's stack holds, in catalogue order.
pub fn deployed_functions(r: &Resolved) -> Vec<&'static catalog::FunctionSpec> {
    catalog::FUNCTIONS
        .iter()
        .filter(|f| feature_on(r, f.feature))
        .collect()
}

pub fn build(r: &Resolved) -> StackModel {
    let p = &r.profile;
    let tables: Vec<TableModel> = catalog::TABLES
        .iter()
        .filter(|t| feature_on(r, t.feature))
        .map(|t| {
            let cap = p.dynamodb.tables.get(&t.key).unwrap_or(&p.dynamodb.default);
            TableModel {
                key: t.key,
                name: t.name,
                logical_id: t.logical_id,
                feature: t.feature,
                hash_key: t.hash_key,
                range_key: t.range_key,
                ttl_attribute: t.ttl_attribute,
                index: t.index.map(|(name, hash_key, range_key)| IndexModel {
                    name,
                    hash_key,
                    range_key,
                }),
                mode: cap.mode.as_str(),
                read_units: cap.read_units.unwrap_or(0),
                write_units: cap.write_units.unwrap_or(0),
                min_read_units: cap.min_read_units.unwrap_or(0),
                min_write_units: cap.min_write_units.unwrap_or(0),
                target_utilization: cap.target_utilization.unwrap_or(0),
            }
        })
        .collect();

    let deployed_table = |k: TableKey| feature_on(r, catalog::table(k).feature);
    let functions: Vec<FunctionModel> = deployed_functions(r)
        .into_iter()
        .map(|f| function_model(r, f, &deployed_table))
        .collect();

    let rules = catalog::RULES
        .iter()
        .map(|rule| RuleModel {
            name: rule.name,
            suffix: rule.suffix,
            sql: rule.sql(),
            description: if rule.basic_ingest() {
                format!(
                    "node/<node_id>/{0} (also basic ingest: $aws/rules/{1}/node/<node_id>/{0})",
                    rule.suffix, rule.name
                )
            } else if rule.published_by_nodes() {
                format!("node/<node_id>/{}", rule.suffix.replace('+', "<group_id>"))
            } else {
                "AWS IoT presence events of the nodes ($aws/events/presence/<event>/<node_id>)"
                    .into()
            },
            basic_ingest: rule.basic_ingest(),
            logical_id: rule.logical_id,
            function_prefix: catalog::function(rule.function).prefix,
        })
        .collect();

    let (api_resources, api_methods) = api_tree(r);
    let identity = &p.identity;
    StackModel {
        stack_name: p.stack_name.clone(),
        region: r.region.clone(),
        variant: r.variant.as_str(),
        china: r.variant == Variant::China,
        tracing: p.tracing && r.variant == Variant::Global,
        architecture: r.architecture.as_str(),
        log_level: p.lambda.log_level.as_str(),
        iot_log_level: p.lambda.log_level.iot_level(),
        log_retention_days: p.lambda.log_retention_days,
        memory_mb: p.lambda.memory_mb,
        retention_policy: if p.retain_data { "Retain" } else { "Delete" },
        identity: IdentityModel {
            provider: r.identity.as_str(),
            cognito: r.identity == IdentityProvider::Cognito,
            oauth2: r.identity == IdentityProvider::Oauth2,
            email: feature_on(r, "identity_email"),
            email_from: identity.email_from.clone(),
            sms_otp: feature_on(r, "identity_sms_otp"),
            feature: if r.identity == IdentityProvider::Cognito {
                "identity_cognito"
            } else {
                "identity_oauth2"
            },
            groups_claim: identity.groups_claim(r.identity),
            admin_group: identity.admin_group.clone(),
            cache_seconds: identity.authorizer_cache_seconds,
            threat_protection: identity.threat_protection.mode(),
        },
        features: p.features.clone(),
        api: p.api.clone(),
        tables,
        functions,
        rules,
        api_resources,
        api_methods,
    }
}

fn function_model(
    r: &Resolved,
    f: &catalog::FunctionSpec,
    deployed_table: &dyn Fn(TableKey) -> bool,
) -> FunctionModel {
    let p = &r.profile;
    let features = &p.features;
    let cognito = r.identity == IdentityProvider::Cognito;
    let mut access: Vec<(TableKey, &[Op])> = f.tables.to_vec();
    access.retain(|(k, _)| deployed_table(*k));

    // Exactly what the function's code reads (tests/security.rs
    // `each_function_is_given_exactly_the_environment_its_code_reads`).
    let mut env: Vec<(String, String)> = vec![(
        "RUST_LOG".into(),
        json!(p.lambda.log_level.as_str()).to_string(),
    )];
    for (k, _) in &access {
        let t = catalog::table(*k);
        env.push((
            format!("TABLE_{}", t.name.to_uppercase()),
            json!({"Ref": t.logical_id}).to_string(),
        ));
    }
    let reference = |name: &str, value: Value| (name.to_string(), value.to_string());
    if !f.publishes.is_empty() || f.registers_nodes {
        env.push(reference(
            "IOT_DATA_ENDPOINT",
            json!({"Ref": "IotDataEndpoint"}),
        ));
    }
    for k in f.invokes {
        let target = catalog::function(*k);
        env.push(reference(
            &format!("FUNCTION_{}", target.name.replace('-', "_").to_uppercase()),
            json!({"Ref": format!("{}Function", target.prefix)}),
        ));
    }
    if f.registers_nodes {
        env.push(reference("THING_TYPE", json!({"Ref": "NodeThingType"})));
        env.push(reference("NODE_POLICY", json!({"Ref": "NodePolicy"})));
        env.push(reference(
            "CLAIMS_PER_USER_PER_HOUR",
            json!(p.devices.claims_per_user_per_hour.to_string()),
        ));
        if let Some(project) = &p.devices.claim_project {
            env.push(reference("CLAIM_PROJECT", json!(project)));
        }
    }
    if f.reads_firmware {
        env.push(reference(
            "FIRMWARE_BUCKET",
            json!({"Ref": "FirmwareBucket"}),
        ));
    }
    let publishes_push = f.key == FunctionKey::NodeAlert && features.push_notifications;
    // node-alert queues alerts for the webhook dispatcher (which runs the placeholder)
    let sends_webhooks = f.key == FunctionKey::NodeAlert && features.webhooks;
    if publishes_push {
        env.push(reference("PUSH_TOPIC_ARN", json!({"Ref": "PushTopic"})));
    }
    if sends_webhooks {
        env.push(reference(
            "WEBHOOK_QUEUE_URL",
            json!({"Ref": "WebhookQueue"}),
        ));
    }
    // the user-admin function runs the placeholder, which manages no user
    let manages_users = f.key == FunctionKey::UserAdmin && cognito && f.bundled();
    // Sign-up and login name the app client only; managing users needs the pool.
    if manages_users {
        env.push(reference("USER_POOL_ID", json!({"Ref": "UserPool"})));
    }
    if (f.key == FunctionKey::Auth || manages_users) && cognito {
        env.push(reference(
            "USER_POOL_CLIENT_ID",
            json!({"Ref": "UserPoolClient"}),
        ));
    }
    if f.key == FunctionKey::Authorizer {
        if let Some(o) = &p.identity.oauth2 {
            let jwks = o.jwks_uri.clone().unwrap_or_else(|| {
                format!("{}/.well-known/jwks.json", o.issuer.trim_end_matches('/'))
            });
            env.push(reference("OAUTH2_ISSUER", json!(o.issuer)));
            env.push(reference("OAUTH2_AUDIENCE", json!(o.audience)));
            env.push(reference("OAUTH2_JWKS_URI", json!(jwks)));
        }
    }
    let synchronous = matches!(f.trigger, Trigger::Api | Trigger::Authorizer);
    FunctionModel {
        name: f.name,
        prefix: f.prefix,
        feature: f.feature,
        trigger: match f.trigger {
            Trigger::IotRule => "iot_rule",
            Trigger::Api => "api",
            Trigger::Authorizer => "authorizer",
            Trigger::Queue => "queue",
        },
        asynchronous: f.trigger == Trigger::IotRule,
        description: f.description,
        timeout_seconds: if synchronous {
            p.lambda.timeout_seconds.min(API_TIMEOUT_LIMIT)
        } else {
            p.lambda.timeout_seconds
        },
        reserved_concurrency: p.lambda.reserved_concurrency.get(&f.key).copied(),
        tables: access
            .iter()
            .map(|(k, ops)| {
                let t = catalog::table(*k);
                TableAccessModel {
                    logical_id: t.logical_id,
                    actions: ops.iter().map(|o| o.action()).collect(),
                    index: t
                        .index
                        .filter(|_| ops.contains(&Op::Query))
                        .map(|(name, _, _)| name),
                }
            })
            .collect(),
        publishes: f.publishes.to_vec(),
        reads_firmware: f.reads_firmware,
        reads_registry: f.reads_registry,
        reads_certificates: f.reads_certificates,
        registers_nodes: f.registers_nodes,
        invokes: f
            .invokes
            .iter()
            .map(|k| catalog::function(*k).prefix)
            .collect(),
        publishes_push,
        sends_webhooks,
        consumes_webhooks: f.key == FunctionKey::WebhookDispatch,
        manages_users,
        env,
    }
}

/// API Gateway resources (one per path prefix) and methods for the deployed routes.
fn api_tree(r: &Resolved) -> (Vec<ApiResourceModel>, Vec<ApiMethodModel>) {
    let routes: Vec<&catalog::RouteSpec> = catalog::ROUTES
        .iter()
        .filter(|route| {
            feature_on(r, route.feature) && feature_on(r, catalog::function(route.function).feature)
        })
        .collect();
    let mut resources: Vec<ApiResourceModel> = vec![ApiResourceModel {
        logical_id: "ApiV1Resource".into(),
        parent: None,
        path_part: "v1".into(),
        feature: CORE,
    }];
    let mut methods = Vec::new();
    for route in &routes {
        // a route from the stage's root (`/mqtt_host`) hangs off the API's root resource
        let (path, mut parent, mut id) = match route.path.strip_prefix('/') {
            Some(path) => (path, None, "Api".to_string()),
            None => (
                route.path,
                Some("ApiV1Resource".to_string()),
                "ApiV1".to_string(),
            ),
        };
        for (depth, part) in path.split('/').enumerate() {
            id.push_str(&camel(part));
            let root = if route.path.starts_with('/') { "/" } else { "" };
            let prefix = format!(
                "{root}{}",
                path.split('/')
                    .take(depth + 1)
                    .collect::<Vec<_>>()
                    .join("/")
            );
            // A resource belongs to a feature when every route under it does.
            let under: Vec<&&catalog::RouteSpec> = routes
                .iter()
                .filter(|o| o.path == prefix || o.path.starts_with(&format!("{prefix}/")))
                .collect();
            let feature = if under.iter().all(|o| o.feature == route.feature) {
                route.feature
            } else {
                CORE
            };
            let logical_id = format!("{id}Resource");
            if !resources.iter().any(|res| res.logical_id == logical_id) {
                resources.push(ApiResourceModel {
                    logical_id: logical_id.clone(),
                    parent: parent.clone(),
                    path_part: part.to_string(),
                    feature,
                });
            }
            parent = Some(logical_id);
        }
        methods.push(ApiMethodModel {
            logical_id: format!("{id}{}Method", camel(&route.method.to_lowercase())),
            resource: parent.expect("a route has at least one part"),
            method: route.method,
            function_prefix: catalog::function(route.function).prefix,
            authorized: route.authorized,
            feature: route.feature,
        });
    }
    (resources, methods)
}

/// `nodes` → `Nodes`, `{proxy+}` → `Proxy`, `otajobs` → `Otajobs`.
fn camel(part: &str) -> String {
    part.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
