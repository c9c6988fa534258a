//! What the stack is made of: the DynamoDB tables, the bundled functions and the IoT topic rules
//! of the ESP RainMaker node-to-cloud contract. The templates loop over these; the feature that
//! produces each item lives here, in one place.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The producer of resources that are always there.
pub const CORE: &str = "core";

/// A DynamoDB table of the stack.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TableKey {
    Nodes,
    NodeParams,
    UserNodes,
    MappingRequests,
    OtaJobs,
    Claims,
    Timeseries,
    MessageTemplates,
    Webhooks,
    Users,
}

/// A bundled Lambda function of the stack.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKey {
    NodeConfig,
    Params,
    NodeAlert,
    UserMapping,
    OtaFetch,
    OtaStatus,
    TsIngest,
    CmdResp,
    Api,
    Claim,
    Auth,
    Authorizer,
    WebhookDispatch,
    Voice,
    Passthrough,
    UserAdmin,
}

pub struct TableSpec {
    pub key: TableKey,
    pub name: &'static str,
    pub logical_id: &'static str,
    pub feature: &'static str,
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    /// Attribute holding an epoch-seconds expiry, when items expire.
    pub ttl_attribute: Option<&'static str>,
    /// A global secondary index (name, hash key, range key).
    pub index: Option<(&'static str, &'static str, &'static str)>,
}

pub const TABLES: &[TableSpec] = &[
    TableSpec {
        key: TableKey::Nodes,
        name: "nodes",
        logical_id: "NodesTable",
        feature: CORE,
        hash_key: "node_id",
        range_key: None,
        ttl_attribute: None,
        // sparse: only connected nodes have an `online_key` (their project and chip), so the index
        // holds the nodes an OTA job can be offered to at once
        index: Some(("online", "online_key", "fw_version")),
    },
    TableSpec {
        key: TableKey::NodeParams,
        name: "node_params",
        logical_id: "NodeParamsTable",
        feature: CORE,
        hash_key: "node_id",
        range_key: Some("sk"),
        ttl_attribute: Some("expires_at"),
        index: None,
    },
    TableSpec {
        key: TableKey::UserNodes,
        name: "user_nodes",
        logical_id: "UserNodesTable",
        feature: CORE,
        hash_key: "user_id",
        range_key: Some("node_id"),
        ttl_attribute: None,
        index: Some(("by_node", "node_id", "user_id")),
    },
    TableSpec {
        key: TableKey::MappingRequests,
        name: "mapping_requests",
        logical_id: "MappingRequestsTable",
        feature: CORE,
        hash_key: "request_id",
        range_key: None,
        ttl_attribute: Some("expires_at"),
        index: None,
    },
    TableSpec {
        key: TableKey::OtaJobs,
        name: "ota_jobs",
        logical_id: "OtaJobsTable",
        feature: CORE,
        hash_key: "job_id",
        range_key: Some("sk"),
        // sessions and status reports expire; jobs carry no `expires_at`
        ttl_attribute: Some("expires_at"),
        // sparse: only `job` items have a `project`, so the index holds the jobs and nothing else
        index: Some(("by_project", "sk", "project")),
    },
    TableSpec {
        // who claimed which chip, the claims under way, the per-user claim rate (`claim`)
        key: TableKey::Claims,
        name: "claims",
        logical_id: "ClaimsTable",
        feature: CORE,
        hash_key: "pk",
        range_key: None,
        ttl_attribute: Some("expires_at"),
        index: None,
    },
    TableSpec {
        key: TableKey::Timeseries,
        name: "timeseries",
        logical_id: "TimeseriesTable",
        feature: CORE,
        hash_key: "node_id",
        range_key: Some("ts"),
        ttl_attribute: Some("expires_at"),
        index: None,
    },
    TableSpec {
        key: TableKey::MessageTemplates,
        name: "message_templates",
        logical_id: "MessageTemplatesTable",
        feature: "message_templates",
        hash_key: "template_id",
        range_key: None,
        ttl_attribute: None,
        index: None,
    },
    TableSpec {
        key: TableKey::Webhooks,
        name: "webhooks",
        logical_id: "WebhooksTable",
        feature: "webhooks",
        hash_key: "user_id",
        range_key: Some("webhook_id"),
        ttl_attribute: None,
        index: None,
    },
    TableSpec {
        key: TableKey::Users,
        name: "users",
        logical_id: "UsersTable",
        feature: "internal_user_management",
        hash_key: "user_id",
        range_key: None,
        ttl_attribute: None,
        index: None,
    },
];

/// How a function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// By IoT topic rules, asynchronously.
    IotRule,
    /// By API Gateway, synchronously, as a proxy integration.
    Api,
    /// By API Gateway as a TOKEN authorizer.
    Authorizer,
    /// By an SQS event source mapping.
    Queue,
}

/// A DynamoDB operation a function's code calls. A role is allowed exactly the operations its
/// code calls, table by table (`tests/security.rs` reads them from the code and compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    GetItem,
    BatchGetItem,
    Query,
    Scan,
    PutItem,
    UpdateItem,
    DeleteItem,
    BatchWriteItem,
}

impl Op {
    /// The IAM action.
    pub fn action(self) -> &'static str {
        match self {
            Op::GetItem => "dynamodb:GetItem",
            Op::BatchGetItem => "dynamodb:BatchGetItem",
            Op::Query => "dynamodb:Query",
            Op::Scan => "dynamodb:Scan",
            Op::PutItem => "dynamodb:PutItem",
            Op::UpdateItem => "dynamodb:UpdateItem",
            Op::DeleteItem => "dynamodb:DeleteItem",
            Op::BatchWriteItem => "dynamodb:BatchWriteItem",
        }
    }
}

pub struct FunctionSpec {
    pub key: FunctionKey,
    /// Name suffix after the stack name, and the name `lambdas/` builds it under.
    pub name: &'static str,
    /// Logical id prefix: `<prefix>Function`, `<prefix>Role`, `<prefix>LogGroup`, `<prefix>CodeKey`.
    pub prefix: &'static str,
    /// The feature that adds it; identity functions name the identity setting.
    pub feature: &'static str,
    pub trigger: Trigger,
    pub description: &'static str,
    /// The tables its code uses, each with the operations it calls on it.
    pub tables: &'static [(TableKey, &'static [Op])],
    /// Topic suffixes under `node/<node_id>/` it publishes to.
    pub publishes: &'static [&'static str],
    /// Reads firmware objects (to presign OTA URLs).
    pub reads_firmware: bool,
    /// Reads the IoT registry (`iot:DescribeThing`): the project and chip a node is bound to.
    pub reads_registry: bool,
    /// Reads the certificates attached to nodes' things (`iot:ListThingPrincipals`,
    /// `iot:DescribeCertificate`): their keys sign the nodes' answers to mapping challenges.
    pub reads_certificates: bool,
    /// Registers nodes in AWS IoT (claiming): certificates from CSRs, things, their policy and
    /// principals, revocation of replaced certificates, the credential-provider endpoint.
    pub registers_nodes: bool,
    /// Functions it invokes asynchronously (`lambda:InvokeFunction`), named to it in
    /// `FUNCTION_<NAME>` (`FUNCTION_OTA_FETCH`).
    pub invokes: &'static [FunctionKey],
    /// The crate folder under `lambdas/` and the binary that runs the function.
    pub code: (&'static str, &'static str),
}

/// The binary of functions whose handler is not bundled yet: it fails every invocation with a
/// message naming the function, so the stack is complete and nothing is dropped silently.
/// Its role allows nothing beyond its own logs (and its trigger's needs): the placeholder calls
/// nothing, and a role holds only what its code calls.
pub const PENDING: (&str, &str) = ("rainmaker", "pending");

impl FunctionSpec {
    /// Whether the function's own handler is bundled (not the placeholder).
    pub fn bundled(&self) -> bool {
        self.code != PENDING
    }
}

use Op::{BatchGetItem, BatchWriteItem, DeleteItem, GetItem, PutItem, Query, UpdateItem};

pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        key: FunctionKey::NodeConfig,
        name: "node-config",
        prefix: "NodeConfig",
        feature: CORE,
        trigger: Trigger::IotRule,
        description:
            "Stores a node's configuration and presence (esp_node_config, esp_node_presence)",
        tables: &[(TableKey::Nodes, &[UpdateItem])],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "node-config"),
    },
    FunctionSpec {
        key: FunctionKey::Params,
        name: "params",
        prefix: "Params",
        feature: CORE,
        trigger: Trigger::IotRule,
        description:
            "Stores reported and initial parameter values (esp_set_params, esp_init_params)",
        tables: &[(TableKey::NodeParams, &[GetItem, PutItem])],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "params"),
    },
    FunctionSpec {
        key: FunctionKey::NodeAlert,
        name: "node-alert",
        prefix: "NodeAlert",
        feature: CORE,
        trigger: Trigger::IotRule,
        description: "Routes node alerts to push notifications and webhooks (esp_node_alert)",
        tables: &[
            (TableKey::UserNodes, &[Query]),
            (TableKey::NodeParams, &[PutItem, UpdateItem]),
        ],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "node-alert"),
    },
    FunctionSpec {
        key: FunctionKey::UserMapping,
        name: "user-mapping",
        prefix: "UserMapping",
        feature: CORE,
        trigger: Trigger::IotRule,
        description: "Confirms user-node mappings from the device side (esp_user_node_mapping)",
        tables: &[
            (TableKey::UserNodes, &[Query, PutItem, DeleteItem]),
            (TableKey::MappingRequests, &[GetItem, PutItem, UpdateItem]),
        ],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "user-mapping"),
    },
    FunctionSpec {
        key: FunctionKey::OtaFetch,
        name: "ota-fetch",
        prefix: "OtaFetch",
        feature: CORE,
        trigger: Trigger::IotRule,
        description: "Answers OTA fetch requests with a presigned firmware URL (esp_node_otafetch)",
        tables: &[
            (TableKey::OtaJobs, &[GetItem, BatchGetItem, Query, PutItem]),
            (TableKey::Nodes, &[GetItem, Query]),
        ],
        publishes: &["otaurl"],
        reads_firmware: true,
        reads_registry: true,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "ota-fetch"),
    },
    FunctionSpec {
        key: FunctionKey::OtaStatus,
        name: "ota-status",
        prefix: "OtaStatus",
        feature: CORE,
        trigger: Trigger::IotRule,
        description: "Records OTA status reports and enforces rollout limits (esp_node_otastatus)",
        tables: &[(
            TableKey::OtaJobs,
            &[GetItem, BatchGetItem, Query, PutItem, UpdateItem],
        )],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[FunctionKey::OtaFetch],
        code: ("rainmaker", "ota-status"),
    },
    FunctionSpec {
        key: FunctionKey::TsIngest,
        name: "ts-ingest",
        prefix: "TsIngest",
        feature: CORE,
        trigger: Trigger::IotRule,
        description: "Stores time-series data (esp_ts_ingest)",
        tables: &[(TableKey::Timeseries, &[BatchWriteItem])],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "ts-ingest"),
    },
    FunctionSpec {
        key: FunctionKey::CmdResp,
        name: "cmd-resp",
        prefix: "CmdResp",
        feature: CORE,
        trigger: Trigger::IotRule,
        description:
            "Stores command responses from nodes and sends their pending commands (esp_cmd_resp)",
        tables: &[(TableKey::NodeParams, &[Query, PutItem, UpdateItem])],
        publishes: &["to-node"],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "cmd-resp"),
    },
    FunctionSpec {
        key: FunctionKey::Api,
        name: "api",
        prefix: "Api",
        feature: CORE,
        trigger: Trigger::Api,
        description: "User REST API (ESP RainMaker v1 paths)",
        tables: &[
            (TableKey::Nodes, &[GetItem]),
            (TableKey::NodeParams, &[GetItem]),
            (TableKey::UserNodes, &[GetItem, Query, PutItem, DeleteItem]),
            (TableKey::MappingRequests, &[GetItem, PutItem, UpdateItem]),
            (TableKey::OtaJobs, &[BatchGetItem, Query, UpdateItem]),
        ],
        publishes: &["params/remote"],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: true,
        registers_nodes: false,
        invokes: &[FunctionKey::OtaFetch],
        code: ("rainmaker", "api"),
    },
    FunctionSpec {
        key: FunctionKey::Claim,
        name: "claim",
        prefix: "Claim",
        feature: CORE,
        trigger: Trigger::Api,
        description: "Claims chips for users: node ids, certificates from CSRs, things (claim/initiate, claim/verify, mqtt_host)",
        tables: &[(TableKey::Claims, &[GetItem, PutItem, UpdateItem, DeleteItem])],
        publishes: &[],
        reads_firmware: false,
        reads_registry: true,
        reads_certificates: false,
        registers_nodes: true,
        invokes: &[],
        code: ("rainmaker", "claim"),
    },
    FunctionSpec {
        key: FunctionKey::Auth,
        name: "auth",
        prefix: "Auth",
        feature: "identity_cognito",
        trigger: Trigger::Api,
        description: "Sign-up and login through the Cognito user pool (user2, login2)",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "auth"),
    },
    FunctionSpec {
        key: FunctionKey::Authorizer,
        name: "authorizer",
        prefix: "Authorizer",
        feature: "identity_oauth2",
        trigger: Trigger::Authorizer,
        description: "Verifies OAuth2 / OIDC JWTs against the issuer's JWKS",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: ("rainmaker", "authorizer"),
    },
    FunctionSpec {
        key: FunctionKey::WebhookDispatch,
        name: "webhook-dispatch",
        prefix: "WebhookDispatch",
        feature: "webhooks",
        trigger: Trigger::Queue,
        description: "Delivers node alerts to subscribed webhooks",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: PENDING,
    },
    FunctionSpec {
        key: FunctionKey::Voice,
        name: "voice",
        prefix: "Voice",
        feature: "voice_assistants",
        trigger: Trigger::Api,
        description: "Voice assistant fulfilment (Alexa / Google Home)",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: PENDING,
    },
    FunctionSpec {
        key: FunctionKey::Passthrough,
        name: "passthrough",
        prefix: "Passthrough",
        feature: "api_passthrough",
        trigger: Trigger::Api,
        description: "API passthrough to the owner's service",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: PENDING,
    },
    FunctionSpec {
        key: FunctionKey::UserAdmin,
        name: "user-admin",
        prefix: "UserAdmin",
        feature: "internal_user_management",
        trigger: Trigger::Api,
        description: "Admin API for internal user management",
        tables: &[],
        publishes: &[],
        reads_firmware: false,
        reads_registry: false,
        reads_certificates: false,
        registers_nodes: false,
        invokes: &[],
        code: PENDING,
    },
];

/// What a topic rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A JSON payload on `node/<node_id>/<suffix>`.
    Json,
    /// A binary payload (TLV8) on `node/<node_id>/<suffix>`, handed over base64-encoded.
    Binary,
    /// AWS IoT lifecycle events on `$aws/events/presence/<event>/<client id>` (the client id is
    /// the thing name, that is the node id); nodes do not publish these.
    Presence,
    /// `user/mapping`: the payload carries the mapping secret, so the rule selects named fields
    /// and hashes the secret; the plaintext never leaves AWS IoT (no function event, log, retry
    /// or dead-letter queue holds it).
    Mapping,
}

/// An IoT topic rule of the ESP RainMaker node-to-cloud contract.
pub struct RuleSpec {
    /// The rule name; devices use it in basic ingest topics (`$aws/rules/<name>/...`).
    pub name: &'static str,
    /// Topic suffix after `node/<node_id>/`.
    pub suffix: &'static str,
    pub function: FunctionKey,
    pub logical_id: &'static str,
    pub kind: RuleKind,
    /// A `WHERE` condition, when the topic filter takes more than the rule's messages.
    pub condition: Option<&'static str>,
}

impl RuleSpec {
    /// The rule's SQL: the payload plus the node id, the topic and the time of arrival.
    /// The rule's SQL. The node's bytes go under `payload`, base64-encoded, so nothing a node
    /// publishes can set the fields AWS IoT vouches for (`lambdas/rainmaker/src/event.rs`).
    pub fn sql(&self) -> String {
        let trusted = |node: u8| {
            format!("topic({node}) AS node_id, topic() AS topic, timestamp() AS received_at")
        };
        let select = match self.kind {
            RuleKind::Json | RuleKind::Binary => format!(
                "SELECT encode(*, 'base64') AS payload, {} FROM 'node/+/{}'",
                trusted(2),
                self.suffix
            ),
            RuleKind::Presence => format!(
                "SELECT encode(*, 'base64') AS payload, {} FROM '$aws/events/presence/+/+'",
                trusted(5)
            ),
            RuleKind::Mapping => format!(
                "SELECT node_id AS claimed_node_id, user_id, sha256(secret_key) AS secret_sha256, \
                 reset, {} FROM 'node/+/{}'",
                trusted(2),
                self.suffix
            ),
        };
        match self.condition {
            Some(condition) => format!("{select} WHERE {condition}"),
            None => select,
        }
    }

    pub fn published_by_nodes(&self) -> bool {
        self.kind != RuleKind::Presence
    }

    /// Whether nodes may also reach the rule by basic ingest (`$aws/rules/<name>/node/<id>/...`):
    /// every rule of theirs whose topic has no wildcard.
    pub fn basic_ingest(&self) -> bool {
        self.published_by_nodes() && !self.suffix.contains('+')
    }
}

pub const RULES: &[RuleSpec] = &[
    RuleSpec {
        name: "esp_node_config",
        suffix: "config",
        function: FunctionKey::NodeConfig,
        logical_id: "NodeConfigRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_set_params",
        suffix: "params/local",
        function: FunctionKey::Params,
        logical_id: "SetParamsRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_init_params",
        suffix: "params/local/init",
        function: FunctionKey::Params,
        logical_id: "InitParamsRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        // Reports of a node in a group (`esp_rmaker_report_param_internal` with an active group
        // id), and its last will then: `node/<id>/params/local/<group_id>`, never basic ingest.
        name: "esp_group_params",
        suffix: "params/local/+",
        function: FunctionKey::Params,
        logical_id: "GroupParamsRule",
        kind: RuleKind::Json,
        condition: Some("topic(5) <> 'init'"),
    },
    RuleSpec {
        name: "esp_node_alert",
        suffix: "alert",
        function: FunctionKey::NodeAlert,
        logical_id: "NodeAlertRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_user_node_mapping",
        suffix: "user/mapping",
        function: FunctionKey::UserMapping,
        logical_id: "UserNodeMappingRule",
        kind: RuleKind::Mapping,
        condition: None,
    },
    RuleSpec {
        name: "esp_node_otafetch",
        suffix: "otafetch",
        function: FunctionKey::OtaFetch,
        logical_id: "OtaFetchRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_node_otastatus",
        suffix: "otastatus",
        function: FunctionKey::OtaStatus,
        logical_id: "OtaStatusRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_ts_ingest",
        suffix: "tsdata",
        function: FunctionKey::TsIngest,
        logical_id: "TsIngestRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        // `esp_rmaker_simple_ts_data_report_internal`: one value, `d` days to keep it.
        name: "esp_simple_ts_ingest",
        suffix: "simple_tsdata",
        function: FunctionKey::TsIngest,
        logical_id: "SimpleTsIngestRule",
        kind: RuleKind::Json,
        condition: None,
    },
    RuleSpec {
        name: "esp_cmd_resp",
        suffix: "from-node",
        function: FunctionKey::CmdResp,
        logical_id: "CmdRespRule",
        kind: RuleKind::Binary,
        condition: None,
    },
    RuleSpec {
        name: "esp_node_presence",
        suffix: "",
        function: FunctionKey::NodeConfig,
        logical_id: "NodePresenceRule",
        kind: RuleKind::Presence,
        condition: None,
    },
];

/// Topic suffixes the cloud publishes to a node.
pub const CLOUD_TO_NODE: &[&str] = &["params/remote", "otaurl", "to-node"];

pub fn table(key: TableKey) -> &'static TableSpec {
    TABLES
        .iter()
        .find(|t| t.key == key)
        .expect("every table key has a spec")
}

pub fn function(key: FunctionKey) -> &'static FunctionSpec {
    FUNCTIONS
        .iter()
        .find(|f| f.key == key)
        .expect("every function key has a spec")
}

/// A route of the user REST API, under `/v1/`.
pub struct RouteSpec {
    /// Under `/v1/`, or from the stage's root when it starts with `/`.
    pub path: &'static str,
    pub method: &'static str,
    pub function: FunctionKey,
    /// Requires a signed-in user (the authorizer); sign-up and login do not.
    pub authorized: bool,
    pub feature: &'static str,
}

const fn route(
    path: &'static str,
    method: &'static str,
    function: FunctionKey,
    authorized: bool,
    feature: &'static str,
) -> RouteSpec {
    RouteSpec {
        path,
        method,
        function,
        authorized,
        feature,
    }
}

/// The routes, following the ESP RainMaker v1 REST API where it has one.
pub const ROUTES: &[RouteSpec] = &[
    route(
        "user2",
        "POST",
        FunctionKey::Auth,
        false,
        "identity_cognito",
    ),
    route(
        "login2",
        "POST",
        FunctionKey::Auth,
        false,
        "identity_cognito",
    ),
    route("user/nodes", "GET", FunctionKey::Api, true, CORE),
    route("user/nodes/status", "GET", FunctionKey::Api, true, CORE),
    route("user/nodes/config", "GET", FunctionKey::Api, true, CORE),
    route("user/nodes/params", "GET", FunctionKey::Api, true, CORE),
    route("user/nodes/params", "PUT", FunctionKey::Api, true, CORE),
    route("user/nodes/mapping", "GET", FunctionKey::Api, true, CORE),
    route("user/nodes/mapping", "PUT", FunctionKey::Api, true, CORE),
    route(
        "user/nodes/mapping/initiate",
        "POST",
        FunctionKey::Api,
        true,
        CORE,
    ),
    route(
        "user/nodes/mapping/verify",
        "POST",
        FunctionKey::Api,
        true,
        CORE,
    ),
    route("claim/initiate", "POST", FunctionKey::Claim, true, CORE),
    route("claim/verify", "POST", FunctionKey::Claim, true, CORE),
    route("admin/claims", "PUT", FunctionKey::Claim, true, CORE),
    // from the stage's root: esp-rainmaker-cli asks `<base URL without v1/>mqtt_host`, unsigned
    route("/mqtt_host", "GET", FunctionKey::Claim, false, CORE),
    route("admin/otajobs", "GET", FunctionKey::Api, true, CORE),
    route("admin/otajobs", "POST", FunctionKey::Api, true, CORE),
    route(
        "admin/users",
        "GET",
        FunctionKey::UserAdmin,
        true,
        "internal_user_management",
    ),
    route(
        "admin/users",
        "POST",
        FunctionKey::UserAdmin,
        true,
        "internal_user_management",
    ),
    route(
        "admin/users",
        "DELETE",
        FunctionKey::UserAdmin,
        true,
        "internal_user_management",
    ),
    route(
        "voice",
        "POST",
        FunctionKey::Voice,
        true,
        "voice_assistants",
    ),
    route(
        "passthrough/{proxy+}",
        "ANY",
        FunctionKey::Passthrough,
        true,
        "api_passthrough",
    ),
];
