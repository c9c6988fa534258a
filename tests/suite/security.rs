//! Security invariants of the rendered templates of every shipped profile and test fixture (see
//! docs/security.md): no wildcard IAM action; `Resource: "*"` and wildcards inside ARNs only where
//! they are named below with the reason; every ARN built with `${AWS::Partition}`; private,
//! encrypted, TLS-only buckets; a node policy scoped to the node's own thing; authorized and
//! throttled API methods; conditioned service trust; roles that allow exactly what their
//! function's code calls; topic rules that never hand over a plaintext secret (issue 14). Those
//! that need the handlers (rules keep a node's payload apart from what AWS IoT vouches for) are in
//! the Lambda crate's tests (lambdas/rainmaker/tests/suite/security.rs).

use std::collections::BTreeSet;

use rmdeploy::catalog;
use rmdeploy::profile;
use serde_json::Value;

/// `Resource: "*"` in an Allow statement: (resource, action, why AWS offers nothing narrower).
const STAR_RESOURCES: &[(&str, &str, &str)] = &[
    (
        "CognitoSmsRole",
        "sns:Publish",
        "an SMS goes to a phone number, which has no ARN; SNS defines only the topic resource type",
    ),
    (
        "ClaimRole",
        "iot:CreateCertificateFromCsr",
        "IAM defines no resource type for it: the certificate does not exist before the call",
    ),
    (
        "ClaimRole",
        "iot:DescribeEndpoint",
        "IAM defines no resource type for it: an endpoint is the account's",
    ),
];

/// Cloud-to-node topics the functions publish to, for any node (the node id is runtime data).
fn publish_to_any_node(resource: &str) -> bool {
    catalog::CLOUD_TO_NODE.iter().any(|suffix| {
        resource
            == format!(
                "arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:topic/node/*/{suffix}"
            )
    })
}

/// Wildcards inside an ARN of an Allow statement, each limited to one parent resource.
fn named_wildcard(actions: &[String], resource: &str) -> bool {
    let only = |allowed: &[&str]| actions.iter().all(|a| allowed.contains(&a.as_str()));
    // objects of the firmware bucket, read to presign OTA URLs
    (only(&["s3:GetObject"]) && resource == "${FirmwareBucket.Arn}/*")
        // the node-bound topics of the functions that publish to nodes
        || (only(&["iot:Publish"]) && publish_to_any_node(resource))
        // the registry entries of the nodes (things named by node id, a runtime value): ota-fetch
        // reads the project and chip a node is bound to
        || (only(&["iot:DescribeThing"])
            && resource == "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:thing/*")
        // the certificates attached to the nodes' things (certificate ids are runtime values):
        // the api checks a node's answer to a mapping challenge with its certificate's key
        || (only(&["iot:ListThingPrincipals", "iot:DescribeCertificate"])
            && [
                "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:thing/*",
                "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cert/*",
            ]
            .contains(&resource))
        // claiming: the things and certificates of nodes (named at run time) the claim function
        // registers, attaches and revokes
        || (only(&[
            "iot:CreateThing",
            "iot:UpdateThing",
            "iot:ListThingPrincipals",
            "iot:AttachThingPrincipal",
            "iot:DetachThingPrincipal",
        ]) && [
            "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:thing/*",
            "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cert/*",
        ]
        .contains(&resource))
        || (only(&["iot:AttachPolicy", "iot:UpdateCertificate"])
            && resource == "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cert/*")
        // the log streams of AWS IoT's own log group
        || (only(&[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:PutMetricFilter",
            "logs:PutRetentionPolicy",
        ]) && resource
            == "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:AWSIotLogsV2:*")
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A resource or ARN as text: a string, the string of a `Fn::Sub`, `Ref X`, or `X.Arn`.
fn text(v: &Value) -> String {
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    if let Some(s) = v.get("Fn::Sub").and_then(Value::as_str) {
        return s.to_string();
    }
    if let Some(r) = v.get("Ref").and_then(Value::as_str) {
        return format!("Ref {r}");
    }
    if let Some(parts) = v.get("Fn::GetAtt").and_then(Value::as_array) {
        let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
        return parts.join(".");
    }
    v.to_string()
}

struct Statement<'a> {
    /// Logical id of the resource holding the policy.
    owner: &'a str,
    kind: &'a str,
    raw: &'a Value,
    effect: &'a str,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// Every permission statement of a template: role and policy documents, bucket and IoT policies
/// (trust policies are checked on their own).
fn statements(doc: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for (id, r) in doc["Resources"].as_object().unwrap() {
        let kind = r["Type"].as_str().unwrap();
        let p = &r["Properties"];
        let docs: Vec<&Value> = match kind {
            "AWS::IAM::Role" => list(&p["Policies"])
                .into_iter()
                .map(|pol| &pol["PolicyDocument"])
                .collect(),
            "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::S3::BucketPolicy"
            | "AWS::IoT::Policy"
            | "AWS::SNS::TopicPolicy"
            | "AWS::SQS::QueuePolicy" => vec![&p["PolicyDocument"]],
            _ => Vec::new(),
        };
        for d in docs {
            for s in list(&d["Statement"]) {
                assert!(
                    s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                    "{id}: NotAction/NotResource"
                );
                out.push(Statement {
                    owner: id,
                    kind,
                    raw: s,
                    effect: s["Effect"].as_str().unwrap(),
                    actions: list(&s["Action"])
                        .into_iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    resources: list(&s["Resource"]).into_iter().map(text).collect(),
                });
            }
        }
    }
    out
}

fn resources_of<'a>(doc: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    doc["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn no_allow_statement_has_a_wildcard_action() {
    for (name, _, docs) in crate::support::every_rendering() {
        for doc in &docs {
            for s in statements(doc).iter().filter(|s| s.effect == "Allow") {
                for a in &s.actions {
                    assert!(
                        a != "*" && !a.ends_with('*'),
                        "{name}: {} allows the wildcard action {a}",
                        s.owner
                    );
                }
            }
        }
    }
}

#[test]
fn star_and_wildcard_resources_are_only_the_named_ones() {
    for (name, _, docs) in crate::support::every_rendering() {
        for doc in &docs {
            for s in statements(doc).iter().filter(|s| s.effect == "Allow") {
                if s.kind == "AWS::IoT::Policy" {
                    continue; // the node policy has its own test
                }
                for resource in &s.resources {
                    if resource == "*" {
                        for a in &s.actions {
                            assert!(
                                STAR_RESOURCES
                                    .iter()
                                    .any(|(owner, action, _)| *owner == s.owner && action == a),
                                "{name}: {} allows {a} on Resource \"*\"",
                                s.owner
                            );
                        }
                    } else if resource.contains('*') {
                        assert!(
                            named_wildcard(&s.actions, resource),
                            "{name}: {} allows {:?} on the wildcard {resource}",
                            s.owner,
                            s.actions
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn deny_statements_are_only_the_tls_guards_of_buckets() {
    for (name, _, docs) in crate::support::every_rendering() {
        for doc in &docs {
            for s in statements(doc).iter().filter(|s| s.effect != "Allow") {
                assert_eq!(s.kind, "AWS::S3::BucketPolicy", "{name}: {}", s.owner);
                assert_eq!(
                    s.raw["Condition"]["Bool"]["aws:SecureTransport"], "false",
                    "{name}: {} denies without the TLS condition",
                    s.owner
                );
            }
        }
    }
}

#[test]
fn the_only_managed_policy_is_x_ray_write_access_outside_china() {
    const XRAY: &str = "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess";
    for (name, resolved, docs) in crate::support::every_rendering() {
        let china = resolved.variant == profile::Variant::China;
        let resources = docs[0]["Resources"].as_object().unwrap();
        for (id, role) in resources_of(&docs[0], "AWS::IAM::Role") {
            let arns: Vec<String> = list(&role["Properties"]["ManagedPolicyArns"])
                .into_iter()
                .map(text)
                .collect();
            let function = format!("{}Function", id.trim_end_matches("Role"));
            let traced = resolved.profile.tracing && !china;
            let expected: Vec<String> = if traced && resources.contains_key(&function) {
                vec![XRAY.into()]
            } else {
                Vec::new()
            };
            assert_eq!(arns, expected, "{name}: managed policies of {id}");
        }
    }
}

#[test]
fn every_arn_is_built_with_the_partition() {
    for (name, _, docs) in crate::support::every_rendering() {
        for doc in &docs {
            let json = doc.to_string();
            assert!(!json.contains("arn:aws"), "{name}: literal partition");
            for (at, _) in json.match_indices("arn:") {
                assert!(
                    json[at..].starts_with("arn:${AWS::Partition}:"),
                    "{name}: ARN without ${{AWS::Partition}}: {}",
                    &json[at..(at + 60).min(json.len())]
                );
            }
        }
    }
}

#[test]
fn buckets_are_private_encrypted_and_tls_only() {
    for (name, _, docs) in crate::support::every_rendering() {
        for doc in &docs {
            let policies = resources_of(doc, "AWS::S3::BucketPolicy");
            for (id, bucket) in resources_of(doc, "AWS::S3::Bucket") {
                let p = &bucket["Properties"];
                for flag in [
                    "BlockPublicAcls",
                    "BlockPublicPolicy",
                    "IgnorePublicAcls",
                    "RestrictPublicBuckets",
                ] {
                    assert_eq!(
                        p["PublicAccessBlockConfiguration"][flag], true,
                        "{name}: {id} {flag}"
                    );
                }
                assert!(
                    p["BucketEncryption"]["ServerSideEncryptionConfiguration"].is_array(),
                    "{name}: {id} has no default encryption"
                );
                assert_eq!(
                    p["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced",
                    "{name}: {id} keeps ACLs"
                );
                let own: Vec<&Value> = policies
                    .iter()
                    .filter(|(_, pol)| pol["Properties"]["Bucket"]["Ref"] == id.as_str())
                    .map(|(_, pol)| &pol["Properties"]["PolicyDocument"])
                    .collect();
                assert_eq!(own.len(), 1, "{name}: {id} has no bucket policy");
                let guard = list(&own[0]["Statement"]).into_iter().any(|s| {
                    let resources: BTreeSet<String> =
                        list(&s["Resource"]).into_iter().map(text).collect();
                    s["Effect"] == "Deny"
                        && s["Principal"] == "*"
                        && s["Action"] == "s3:*"
                        && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                        && resources.contains(&format!("{id}.Arn"))
                        && resources.contains(&format!("${{{id}.Arn}}/*"))
                });
                assert!(guard, "{name}: {id} accepts requests without TLS");
                assert!(
                    list(&own[0]["Statement"])
                        .into_iter()
                        .all(|s| s["Effect"] == "Deny"),
                    "{name}: the policy of {id} grants access"
                );
            }
        }
    }
}

#[test]
fn a_node_acts_only_as_its_own_thing() {
    const THING: &str = "${!iot:Connection.Thing.ThingName}";
    let arn = |rest: &str| {
        format!("arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:{rest}")
    };
    let mut basic_ingest: BTreeSet<String> = catalog::RULES
        .iter()
        .filter(|r| r.basic_ingest())
        .map(|r| {
            arn(&format!(
                "topic/$aws/rules/{}/node/{THING}/{}",
                r.name, r.suffix
            ))
        })
        .collect();
    basic_ingest.insert(arn(&format!("topic/node/{THING}/*")));
    for (name, _, docs) in crate::support::every_rendering() {
        let policies = resources_of(&docs[0], "AWS::IoT::Policy");
        assert_eq!(policies.len(), 1, "{name}: one IoT policy, the node's");
        let statements = statements(&docs[0]);
        let node: Vec<&Statement> = statements
            .iter()
            .filter(|s| s.kind == "AWS::IoT::Policy")
            .collect();
        let mut seen = BTreeSet::new();
        for s in node {
            assert_eq!(s.effect, "Allow");
            assert_eq!(s.actions.len(), 1, "{name}: one action per statement");
            let action = s.actions[0].as_str();
            seen.insert(action);
            for r in &s.resources {
                assert!(
                    r.contains(THING),
                    "{name}: {action} on {r} is not the node's own"
                );
            }
            let resources: BTreeSet<String> = s.resources.iter().cloned().collect();
            match action {
                "iot:Connect" => {
                    assert_eq!(resources, BTreeSet::from([arn(&format!("client/{THING}"))]));
                    assert_eq!(
                        s.raw["Condition"]["Bool"]["iot:Connection.Thing.IsAttached"], "true",
                        "{name}: connect without an attached certificate"
                    );
                }
                "iot:Publish" => assert_eq!(resources, basic_ingest, "{name}: publish"),
                "iot:Subscribe" => assert_eq!(
                    resources,
                    BTreeSet::from([arn(&format!("topicfilter/node/{THING}/*"))])
                ),
                "iot:Receive" => assert_eq!(
                    resources,
                    BTreeSet::from([arn(&format!("topic/node/{THING}/*"))])
                ),
                other => panic!("{name}: the node policy allows {other}"),
            }
        }
        assert_eq!(
            seen,
            BTreeSet::from(["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"])
        );
    }
}

#[test]
fn api_methods_are_authorized_and_the_stage_is_throttled() {
    // Sign-up and login (Cognito only) and the MQTT host (an endpoint name the CLI asks for
    // before sign-in; it serves nothing else) are the only public methods.
    let public = ["ApiV1User2PostMethod", "ApiV1Login2PostMethod"];
    for (name, resolved, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for (id, m) in resources_of(doc, "AWS::ApiGateway::Method") {
            let p = &m["Properties"];
            if id == "ApiMqttHostGetMethod" {
                assert_eq!(p["AuthorizationType"], "NONE", "{name}: {id}");
                assert_eq!(p["HttpMethod"], "GET", "{name}: {id}");
            } else if public.contains(&id.as_str()) {
                assert_eq!(p["AuthorizationType"], "NONE", "{name}: {id}");
                assert_eq!(resolved.identity, profile::IdentityProvider::Cognito);
            } else {
                assert!(
                    p["AuthorizationType"] == "COGNITO_USER_POOLS"
                        || p["AuthorizationType"] == "CUSTOM",
                    "{name}: {id} is not authorized"
                );
                assert_eq!(p["AuthorizerId"]["Ref"], "ApiAuthorizer", "{name}: {id}");
            }
        }
        let stages = resources_of(doc, "AWS::ApiGateway::Stage");
        assert_eq!(stages.len(), 1, "{name}: one stage");
        let settings = list(&stages[0].1["Properties"]["MethodSettings"]);
        let api = &resolved.profile.api;
        assert!(
            settings.iter().any(|s| s["ResourcePath"] == "/*"
                && s["HttpMethod"] == "*"
                && s["ThrottlingRateLimit"] == api.rate_limit
                && s["ThrottlingBurstLimit"] == api.burst_limit),
            "{name}: the stage does not throttle every method at {}/{} (rate/burst)",
            api.rate_limit,
            api.burst_limit
        );
    }
}

#[test]
fn services_are_trusted_only_under_conditions_and_invocations_name_their_source() {
    for (name, _, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for (id, role) in resources_of(doc, "AWS::IAM::Role") {
            for s in list(&role["Properties"]["AssumeRolePolicyDocument"]["Statement"]) {
                assert_eq!(s["Action"], "sts:AssumeRole", "{name}: {id}");
                let service = s["Principal"]["Service"].as_str().unwrap_or_default();
                let condition = &s["Condition"]["StringEquals"];
                match service {
                    // execution roles: only the Lambda service assumes them, for this function
                    "lambda.amazonaws.com" => {
                        let function = format!("{}Function", id.trim_end_matches("Role"));
                        assert_eq!(
                            doc["Resources"][&function]["Properties"]["Role"]["Fn::GetAtt"][0],
                            id.as_str(),
                            "{name}: {id} is not the role of one function"
                        );
                    }
                    "iot.amazonaws.com" => assert_eq!(
                        condition["aws:SourceAccount"]["Ref"], "AWS::AccountId",
                        "{name}: {id} trusts AWS IoT of any account"
                    ),
                    "cognito-idp.amazonaws.com" => assert!(
                        condition["sts:ExternalId"].is_object(),
                        "{name}: {id} trusts Cognito without an external id"
                    ),
                    other => panic!("{name}: {id} trusts {other:?}"),
                }
            }
        }
        for (id, perm) in resources_of(doc, "AWS::Lambda::Permission") {
            let p = &perm["Properties"];
            assert_eq!(p["Action"], "lambda:InvokeFunction", "{name}: {id}");
            let source = text(&p["SourceArn"]);
            match p["Principal"].as_str().unwrap() {
                "iot.amazonaws.com" => {
                    assert!(source.contains(":rule/esp_"), "{name}: {id} {source}");
                    assert_eq!(p["SourceAccount"]["Ref"], "AWS::AccountId", "{name}: {id}");
                }
                "apigateway.amazonaws.com" => assert!(
                    source.starts_with(
                        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/"
                    ),
                    "{name}: {id} {source}"
                ),
                other => panic!("{name}: {id} lets {other} invoke"),
            }
        }
    }
}

#[test]
fn data_is_encrypted_at_rest_and_tables_recoverable() {
    for (name, _, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for (id, t) in resources_of(doc, "AWS::DynamoDB::Table") {
            let p = &t["Properties"];
            assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{name}: {id}");
            assert_eq!(
                p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
                "{name}: {id}"
            );
        }
        for (id, q) in resources_of(doc, "AWS::SQS::Queue") {
            assert_eq!(
                q["Properties"]["SqsManagedSseEnabled"], true,
                "{name}: {id}"
            );
        }
        for (id, t) in resources_of(doc, "AWS::SNS::Topic") {
            assert!(
                t["Properties"]["KmsMasterKeyId"].is_string(),
                "{name}: {id}"
            );
        }
    }
}

#[test]
fn no_secret_is_rendered() {
    for (name, _, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for (id, client) in resources_of(doc, "AWS::Cognito::UserPoolClient") {
            assert_eq!(
                client["Properties"]["GenerateSecret"], false,
                "{name}: {id}"
            );
        }
        for (id, f) in resources_of(doc, "AWS::Lambda::Function") {
            let vars = f["Properties"]["Environment"]["Variables"]
                .as_object()
                .unwrap();
            for var in vars.keys() {
                assert!(
                    ["SECRET", "PASSWORD", "PRIVATE", "CREDENTIAL"]
                        .iter()
                        .all(|w| !var.contains(w)),
                    "{name}: {id} has the environment variable {var}"
                );
            }
        }
        for (id, output) in doc["Outputs"].as_object().unwrap() {
            assert!(
                output["Value"].get("Fn::GetAtt").is_none(),
                "{name}: output {id} exposes an attribute"
            );
        }
    }
}

/// Issue 14, finding 7: every function's role allows exactly what its code calls, read from the
/// code (`support::code_calls`: the files its binary reaches, the AWS calls in them and the tables
/// they name), not from a list kept beside it. Besides its own logs, a role may hold only what
/// Lambda itself does with it: send a failed asynchronous event to `AsyncFailuresQueue`, and read
/// the queue of its SQS trigger. A call guarded by a variable the function is not given (push
/// without `PUSH_TOPIC_ARN`) is not required. A placeholder (`pending`) calls nothing.
#[test]
fn role_actions_equal_the_code_calls() {
    use std::collections::BTreeSet;
    let src = crate::support::root().join("lambdas/rainmaker/src");
    // calls made only when the function is given the variable
    let guarded = [
        ("sns:Publish", "PUSH_TOPIC_ARN"),
        ("sqs:SendMessage", "WEBHOOK_QUEUE_URL"),
    ];
    let env_of_table = |logical: &str| {
        catalog::TABLES
            .iter()
            .find(|t| logical == t.logical_id)
            .map(|t| format!("TABLE_{}", t.name.to_uppercase()))
            .unwrap_or_else(|| panic!("{logical} is not a table"))
    };
    for (name, _, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for f in catalog::FUNCTIONS {
            let role = format!("{}Role", f.prefix);
            let Some(function) = doc["Resources"].get(format!("{}Function", f.prefix)) else {
                continue;
            };
            let env: BTreeSet<String> = function["Properties"]["Environment"]["Variables"]
                .as_object()
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default();
            // (action, table env var, or topic suffix, or nothing)
            let mut granted: BTreeSet<(String, Option<String>)> = BTreeSet::new();
            for st in statements(doc).into_iter().filter(|s| s.owner == role) {
                assert_eq!(st.effect, "Allow", "{name}: {role}");
                for a in &st.actions {
                    let lambda_own = a.starts_with("logs:")
                        || (a == "sqs:SendMessage"
                            && st.resources == ["AsyncFailuresQueue.Arn"]
                            && f.trigger == catalog::Trigger::IotRule)
                        || (a.starts_with("sqs:")
                            && a != "sqs:SendMessage"
                            && f.trigger == catalog::Trigger::Queue);
                    if lambda_own {
                        continue;
                    }
                    if a.starts_with("dynamodb:") {
                        for r in &st.resources {
                            let logical =
                                r.trim_start_matches("${").split(['.', '}']).next().unwrap();
                            granted.insert((a.clone(), Some(env_of_table(logical))));
                        }
                    } else if a == "iot:Publish" {
                        for r in &st.resources {
                            let suffix = r.split("topic/node/*/").nth(1).unwrap();
                            granted.insert((a.clone(), Some(suffix.to_string())));
                        }
                    } else {
                        granted.insert((a.clone(), None));
                    }
                }
            }
            let calls = crate::support::code_calls::calls(&src, f.code.1);
            let tables: BTreeSet<String> = granted
                .iter()
                .filter(|(a, _)| a.starts_with("dynamodb:"))
                .filter_map(|(_, t)| t.clone())
                .collect();
            let mut required: BTreeSet<(String, Option<String>)> = BTreeSet::new();
            let mut somewhere: BTreeSet<String> = BTreeSet::new();
            for c in &calls {
                if let Some((_, var)) = guarded.iter().find(|(a, _)| *a == c.action) {
                    if !env.contains(*var) {
                        continue;
                    }
                }
                match (&c.table, &c.topic) {
                    (Some(t), _) => {
                        required.insert((c.action.clone(), Some(t.clone())));
                    }
                    (None, Some(topic)) => {
                        required.insert((c.action.clone(), Some(topic.clone())));
                    }
                    (None, None) if c.action.starts_with("dynamodb:") => {
                        // a helper's `table` parameter: on one of the function's tables
                        somewhere.insert(c.action.clone());
                    }
                    (None, None) => {
                        required.insert((c.action.clone(), None));
                    }
                }
            }
            for r in &required {
                assert!(
                    granted.contains(r),
                    "{name}: {} calls {r:?}, which its role {role} does not allow",
                    f.name
                );
            }
            for a in &somewhere {
                assert!(
                    tables
                        .iter()
                        .any(|t| granted.contains(&(a.clone(), Some(t.clone())))),
                    "{name}: {} calls {a} on one of its tables, which {role} does not allow",
                    f.name
                );
            }
            for g in &granted {
                let called = required.contains(g)
                    || (g.0.starts_with("dynamodb:") && somewhere.contains(&g.0));
                assert!(
                    called,
                    "{name}: {role} allows {g:?}, which the code of {} never calls (calls: {calls:?})",
                    f.name
                );
            }
        }
    }
}

/// Issue 14, finding 9: no rule hands a function (and so no retry, log or dead-letter queue)
/// the plaintext of a secret a node sends: stock firmware's `user/mapping` message, run through
/// every rendered rule, never leaves `secret_key` readable, base64-encoded or not.
#[test]
fn no_rule_output_holds_a_plaintext_secret() {
    use base64::Engine;
    let firmware =
        br#"{"node_id":"n1","user_id":"u-1","secret_key":"PLAINTEXT-SECRET","reset":true}"#;
    for (name, _, docs) in crate::support::every_rendering() {
        for (rule, sql) in crate::support::iot_sql::rules(&docs[0]) {
            let Some(spec) = catalog::RULES.iter().find(|r| r.name == rule) else {
                continue;
            };
            if spec.suffix != "user/mapping" {
                continue;
            }
            let out =
                crate::support::iot_sql::run(&sql, "node/n1/user/mapping", firmware, 1).to_string();
            assert!(!out.contains("PLAINTEXT-SECRET"), "{name} {rule}: {out}");
            for v in serde_json::from_str::<Value>(&out)
                .unwrap()
                .as_object()
                .unwrap()
                .values()
            {
                if let Some(bytes) = v
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                {
                    assert!(!String::from_utf8_lossy(&bytes).contains("PLAINTEXT-SECRET"));
                }
            }
        }
    }
}

/// Issue 14, findings 6 and 10: API Gateway reuses an authorizer's verdict for at most 60 s, the
/// OAuth2 authorizer is invoked only for a bare JWT (as the RainMaker apps and esp-rainmaker-cli
/// send it), and an AWS WAF web ACL with rate-based rules per client IP guards the API stage of
/// the shipped `global` and `china` stacks (both China regions), stricter on sign-up and login.
#[test]
fn authorizers_cache_briefly_and_waf_guards_the_shipped_stacks() {
    for (name, resolved, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        let authorizers = resources_of(doc, "AWS::ApiGateway::Authorizer");
        assert_eq!(authorizers.len(), 1, "{name}");
        for (id, a) in authorizers {
            let p = &a["Properties"];
            // Left out, API Gateway caches for 300 s.
            let ttl = p["AuthorizerResultTtlInSeconds"].as_i64();
            assert!(
                ttl.is_some_and(|t| (0..=60).contains(&t)),
                "{name}: {id} caches verdicts for {ttl:?} s"
            );
            if p["Type"] == "TOKEN" {
                assert_eq!(
                    p["IdentityValidationExpression"],
                    r"^[-0-9A-Za-z_]+\.[-0-9A-Za-z_]+\.[-0-9A-Za-z_]+$",
                    "{name}: {id}"
                );
            }
        }

        let acls = resources_of(doc, "AWS::WAFv2::WebACL");
        let shipped = ["global", "china"]
            .iter()
            .any(|s| name.starts_with(&format!("{s} (")));
        assert_eq!(
            !acls.is_empty(),
            resolved.profile.api.waf.enabled,
            "{name}: the web ACL follows api.waf.enabled"
        );
        if shipped {
            assert_eq!(
                acls.len(),
                1,
                "{name}: a shipped production stack has a web ACL"
            );
        }
        for (id, acl) in &acls {
            let p = &acl["Properties"];
            assert_eq!(p["Scope"], "REGIONAL", "{name}: {id}");
            assert!(p["DefaultAction"].get("Allow").is_some(), "{name}: {id}");
            let rules = list(&p["Rules"]);
            let rate = |r: &Value| r["Statement"]["RateBasedStatement"].clone();
            for r in &rules {
                assert_eq!(rate(r)["AggregateKeyType"], "IP", "{name}: {}", r["Name"]);
                assert!(r["Action"].get("Block").is_some(), "{name}: {}", r["Name"]);
            }
            let waf = &resolved.profile.api.waf;
            assert!(
                rules.iter().any(|r| rate(r)["Limit"] == waf.rate_limit
                    && rate(r).get("ScopeDownStatement").is_none()),
                "{name}: no rule limits every route at {}",
                waf.rate_limit
            );
            let sign_in = rules.iter().find(|r| {
                let scope = text(&rate(r)["ScopeDownStatement"]);
                scope.contains("/v1/user2") && scope.contains("/v1/login2")
            });
            if resolved.identity == profile::IdentityProvider::Cognito {
                let r = sign_in.unwrap_or_else(|| panic!("{name}: no sign-in rule"));
                assert_eq!(rate(r)["Limit"], waf.sign_in_rate_limit, "{name}");
            } else {
                assert!(sign_in.is_none(), "{name}: no sign-in route to guard");
            }
            let associations = resources_of(doc, "AWS::WAFv2::WebACLAssociation");
            assert_eq!(associations.len(), 1, "{name}");
            let a = &associations[0].1["Properties"];
            assert_eq!(a["WebACLArn"]["Fn::GetAtt"][0], id.as_str(), "{name}");
            assert_eq!(
                a["ResourceArn"]["Fn::Sub"],
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApi}/stages/${ApiStage}",
                "{name}: the association is on the API stage"
            );
        }
    }
}

/// What Lambda itself sets, or tests set: read by the code, never by the template.
const PLATFORM_ENV: [&str; 3] = ["AWS_REGION", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME"];

#[test]
fn each_function_is_given_exactly_the_environment_its_code_reads() {
    let src = crate::support::root().join("lambdas/rainmaker/src");
    let mut checked = 0;
    let mut ever_given: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for (name, _, docs) in crate::support::every_rendering() {
        let doc = &docs[0];
        for f in catalog::FUNCTIONS.iter().filter(|f| f.bundled()) {
            let Some(function) = doc["Resources"].get(format!("{}Function", f.prefix)) else {
                continue;
            };
            let given: BTreeSet<String> = function["Properties"]["Environment"]["Variables"]
                .as_object()
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default();
            let (required, optional) = crate::support::code_calls::env_reads(&src, f.code.1);
            let missing: Vec<&String> = required.difference(&given).collect();
            assert!(
                missing.is_empty(),
                "{name}: {} reads {missing:?}, which the template does not set",
                f.name
            );
            let unread: Vec<&String> = given
                .iter()
                .filter(|v| !required.contains(*v) && !optional.contains(*v))
                .collect();
            assert!(
                unread.is_empty(),
                "{name}: the template gives {} {unread:?}, which its code never reads",
                f.name
            );
            ever_given.entry(f.name).or_default().extend(given);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} functions were checked");
    // An optional read no profile ever sets is dead code, or a variable the template forgot.
    for f in catalog::FUNCTIONS.iter().filter(|f| f.bundled()) {
        let (_, optional) = crate::support::code_calls::env_reads(&src, f.code.1);
        let given = ever_given.get(f.name).cloned().unwrap_or_default();
        let never: Vec<&String> = optional
            .iter()
            .filter(|v| !PLATFORM_ENV.contains(&v.as_str()) && !given.contains(*v))
            .collect();
        assert!(
            never.is_empty(),
            "{} reads {never:?}, which no rendered profile gives it",
            f.name
        );
    }
}

#[test]
fn the_environment_reader_sees_library_reads_only_for_callers() {
    let src = crate::support::root().join("lambdas/rainmaker/src");
    let (required, _) = crate::support::code_calls::env_reads(&src, "cmd-resp");
    assert!(required.contains("IOT_DATA_ENDPOINT"), "{required:?}");
    assert!(required.contains("TABLE_NODE_PARAMS"), "{required:?}");
    let (required, optional) = crate::support::code_calls::env_reads(&src, "node-config");
    assert!(!required.contains("IOT_DATA_ENDPOINT"), "{required:?}");
    assert_eq!(
        required.into_iter().collect::<Vec<_>>(),
        vec!["TABLE_NODES".to_string()]
    );
    assert!(optional.contains("RUST_LOG"), "{optional:?}");
}
