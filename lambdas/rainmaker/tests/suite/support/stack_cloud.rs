//! The node side of a rendered stack on this machine: the template's topic rules (their SQL run
//! by [`super::iot_sql`]), each invoking the real `bootstrap` of its function (built by `rmdeploy
//! build`) on a loopback Runtime API with the function's environment from the template, against
//! moto_server; what the functions publish to nodes is recorded by a proxy.
//!
//! A message is published as a node publishes it: on a basic ingest topic
//! (`$aws/rules/<rule>/node/<id>/...`, which reaches that rule only, with `topic()` the part after
//! the rule's name) or on a plain topic (every rule whose topic filter and condition take it), and
//! only when the stack's node policy lets that node publish there.

use std::collections::HashMap;
use std::process::Child;

use serde_json::{json, Value};

use super::moto::Moto;
use super::proxy::Proxy;
use super::runtime_api::{built, start, Answer, RuntimeApi};
use rmdeploy::catalog;

/// The stack's name in the functions' environment.
pub const STACK: &str = "conformance";
/// The firmware bucket in moto.
pub const BUCKET: &str = "rm-firmware";

struct Rule {
    name: String,
    sql: String,
    /// The function's logical id prefix.
    function: String,
}

struct Function {
    api: RuntimeApi,
    child: Child,
    /// The function's name (`<stack>-<name>`).
    name: String,
}

pub struct StackCloud {
    /// The emulator, running as long as the stack does.
    #[expect(dead_code, reason = "held for its Drop, which stops moto_server")]
    moto: Moto,
    /// In front of moto's IoT data plane: keeps every publish to a node.
    pub proxy: Proxy,
    pub config: aws_config::SdkConfig,
    pub rt: tokio::runtime::Runtime,
    pub db: aws_sdk_dynamodb::Client,
    pub template: Value,
    rules: Vec<Rule>,
    functions: HashMap<String, Function>,
    /// How many of the functions' asynchronous invocations have been delivered.
    invoked: std::cell::Cell<usize>,
    /// (function name, answer) of every asynchronous invocation delivered.
    invocation_answers: std::cell::RefCell<Vec<(String, Answer)>>,
}

impl Drop for StackCloud {
    fn drop(&mut self) {
        for f in self.functions.values_mut() {
            let _ = f.child.kill();
            let _ = f.child.wait();
        }
    }
}

fn resources<'a>(doc: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    doc["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(move |(_, r)| r["Type"] == kind)
}

/// Whether an IAM resource pattern (`*` any run of characters) matches a text.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(rest, &text[head.len() + i..]))
        }
    }
}

/// The node policy's document of the template, its `Fn::Sub`s filled in for moto's account.
fn policy_document(template: &Value) -> String {
    fn fill(v: &Value) -> Value {
        match v {
            Value::Object(m) if m.contains_key("Fn::Sub") => {
                let text = m["Fn::Sub"].as_str().unwrap_or_default();
                json!(text
                    .replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", "us-east-1")
                    .replace("${AWS::AccountId}", "123456789012")
                    .replace("${!", "${"))
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), fill(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(fill).collect()),
            other => other.clone(),
        }
    }
    fill(&template["Resources"]["NodePolicy"]["Properties"]["PolicyDocument"]).to_string()
}

impl StackCloud {
    /// The stack of a shipped profile, its tables in moto, its functions running.
    pub fn start(profile: &str) -> StackCloud {
        let template = super::render(profile, None).stack.document.clone();
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.url);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (config, db, refs) = rt.block_on(async {
            let config = super::tables::config(&moto.url).await;
            let db = aws_sdk_dynamodb::Client::new(&config);
            super::tables::stack_tables(&db).await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            );
            s3.create_bucket().bucket(BUCKET).send().await.unwrap();
            let topic = aws_sdk_sns::Client::new(&config)
                .create_topic()
                .name("push")
                .send()
                .await
                .unwrap()
                .topic_arn
                .unwrap();
            let queue = aws_sdk_sqs::Client::new(&config)
                .create_queue()
                .queue_name("webhooks")
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            let mut refs: HashMap<String, String> = catalog::TABLES
                .iter()
                .map(|t| (t.logical_id.to_string(), t.name.to_string()))
                .collect();
            refs.insert("IotDataEndpoint".into(), proxy.url.clone());
            refs.insert("FirmwareBucket".into(), BUCKET.into());
            refs.insert("PushTopic".into(), topic);
            refs.insert("WebhookQueue".into(), queue);
            refs.insert("AWS::StackName".into(), STACK.into());
            // the node policy and thing type, made in moto as the template makes them
            let iot = aws_sdk_iot::Client::new(&config);
            let policy = format!("{STACK}-node");
            let document = policy_document(&template);
            iot.create_policy()
                .policy_name(&policy)
                .policy_document(document)
                .send()
                .await
                .unwrap();
            let thing_type = format!("{STACK}-esp-node");
            iot.create_thing_type()
                .thing_type_name(&thing_type)
                .send()
                .await
                .unwrap();
            refs.insert("NodePolicy".into(), policy);
            refs.insert("NodeThingType".into(), thing_type);
            for f in catalog::FUNCTIONS {
                refs.insert(
                    format!("{}Function", f.prefix),
                    format!("{STACK}-{}", f.name),
                );
            }
            (config, db, refs)
        });
        let rules: Vec<Rule> = resources(&template, "AWS::IoT::TopicRule")
            .map(|(_, r)| {
                let p = &r["Properties"];
                let arn = &p["TopicRulePayload"]["Actions"][0]["Lambda"]["FunctionArn"];
                Rule {
                    name: p["RuleName"].as_str().unwrap().into(),
                    sql: p["TopicRulePayload"]["Sql"].as_str().unwrap().into(),
                    function: arn["Fn::GetAtt"][0]
                        .as_str()
                        .unwrap()
                        .trim_end_matches("Function")
                        .into(),
                }
            })
            .collect();
        let mut wanted: Vec<String> = rules.iter().map(|r| r.function.clone()).collect();
        wanted.push(catalog::function(catalog::FunctionKey::Api).prefix.into());
        wanted.push(catalog::function(catalog::FunctionKey::Claim).prefix.into());
        wanted.sort();
        wanted.dedup();
        let mut functions = HashMap::new();
        for prefix in wanted {
            let spec = catalog::FUNCTIONS
                .iter()
                .find(|f| f.prefix == prefix)
                .unwrap();
            let variables = &template["Resources"][format!("{prefix}Function")]["Properties"]
                ["Environment"]["Variables"];
            let env: Vec<(String, String)> = variables
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.as_str() != "RUST_LOG")
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        other => {
                            let name = other["Ref"].as_str().unwrap_or_else(|| {
                                panic!("{prefix}: {k} is neither a text nor a Ref: {other}")
                            });
                            refs.get(name)
                                .unwrap_or_else(|| panic!("{prefix}: {k} refers to {name}"))
                                .clone()
                        }
                    };
                    (k.clone(), value)
                })
                .collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let api = RuntimeApi::start();
            // every AWS call through the proxy, which plays Lambda's `Invoke`
            let child = start(
                &built(spec.code.1),
                &api,
                &proxy.url,
                &format!("{STACK}-{}", spec.name),
                &env,
            );
            let name = format!("{STACK}-{}", spec.name);
            functions.insert(prefix, Function { api, child, name });
        }
        StackCloud {
            moto,
            proxy,
            config,
            rt,
            db,
            template,
            rules,
            functions,
            invoked: std::cell::Cell::new(0),
            invocation_answers: Default::default(),
        }
    }

    /// Whether the node policy lets `node` publish on `topic`.
    pub fn policy_allows_publish(&self, node: &str, topic: &str) -> bool {
        let policy = &self.template["Resources"]["NodePolicy"]["Properties"]["PolicyDocument"];
        let resource = format!("arn:aws:iot:us-east-1:123456789012:topic/{topic}");
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Allow" && s["Action"] == "iot:Publish")
            .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["Fn::Sub"].as_str().map(str::to_string))
            .map(|r| {
                r.replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", "us-east-1")
                    .replace("${AWS::AccountId}", "123456789012")
                    .replace("${!iot:Connection.Thing.ThingName}", node)
            })
            .any(|pattern| glob(&pattern, &resource))
    }

    /// The rules a message on `topic` reaches: (rule, what its SQL hands the function's topic).
    pub fn route(&self, topic: &str) -> Vec<(&str, String)> {
        if let Some(rest) = topic.strip_prefix("$aws/rules/") {
            let (rule, inner) = rest.split_once('/').unwrap();
            return self
                .rules
                .iter()
                .filter(|r| r.name == rule && super::iot_sql::matches(&r.sql, inner))
                .map(|r| (r.name.as_str(), inner.to_string()))
                .collect();
        }
        self.rules
            .iter()
            .filter(|r| super::iot_sql::matches(&r.sql, topic))
            .map(|r| (r.name.as_str(), topic.to_string()))
            .collect()
    }

    /// Publish as `node` at `at_ms`: checked against the node policy, run through every rule it
    /// reaches, each rule's function invoked with what the rule makes of it. (rule, answer) each.
    pub fn publish(
        &self,
        node: &str,
        topic: &str,
        bytes: &[u8],
        at_ms: i64,
    ) -> Vec<(String, Answer)> {
        assert!(
            self.policy_allows_publish(node, topic),
            "the node policy refuses {node} publishing on {topic}"
        );
        self.deliver(topic, bytes, at_ms)
    }

    /// What AWS IoT itself publishes (presence events) or delivers: no policy applies. The
    /// asynchronous invocations the functions make meanwhile are delivered after, in order, each
    /// answer listed as `invoke <function name>`.
    pub fn deliver(&self, topic: &str, bytes: &[u8], at_ms: i64) -> Vec<(String, Answer)> {
        let mut answers: Vec<(String, Answer)> = self
            .route(topic)
            .into_iter()
            .map(|(rule, inner)| {
                let r = self.rules.iter().find(|r| r.name == rule).unwrap();
                let event = super::iot_sql::run(&r.sql, &inner, bytes, at_ms);
                (
                    rule.to_string(),
                    self.functions[&r.function].api.invoke(event),
                )
            })
            .collect();
        answers.extend(self.run_invocations());
        answers
    }

    /// Deliver the asynchronous invocations not delivered yet (and those they make).
    pub fn run_invocations(&self) -> Vec<(String, Answer)> {
        let mut answers = Vec::new();
        loop {
            let all = self.proxy.invocations();
            let Some((name, event)) = all.get(self.invoked.get()).cloned() else {
                return answers;
            };
            self.invoked.set(self.invoked.get() + 1);
            let f = self
                .functions
                .values()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("an invocation of {name}, which is not running"));
            let answer = f.api.invoke(event);
            self.invocation_answers
                .borrow_mut()
                .push((name.clone(), answer.clone()));
            answers.push((format!("invoke {name}"), answer));
        }
    }

    /// (function name, answer) of every asynchronous invocation delivered so far.
    pub fn invocation_answers(&self) -> Vec<(String, Answer)> {
        self.invocation_answers.borrow().clone()
    }

    /// Invoke a function (`<stack>-<name>`) with an event, as Lambda would.
    pub fn invoke(&self, name: &str, event: Value) -> Answer {
        let full = format!("{STACK}-{name}");
        let f = self.functions.values().find(|f| f.name == full).unwrap();
        let answer = f.api.invoke(event);
        self.run_invocations();
        answer
    }

    /// A user's request to the REST API, as API Gateway hands it over after the authorizer:
    /// (status, body).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        query: Value,
        body: Option<Value>,
        user: &str,
    ) -> (u16, Value) {
        self.api_in_groups(method, path, query, body, user, &[])
    }

    /// [`StackCloud::api`] for a user in `groups`.
    pub fn api_in_groups(
        &self,
        method: &str,
        path: &str,
        query: Value,
        body: Option<Value>,
        user: &str,
        groups: &[&str],
    ) -> (u16, Value) {
        let event = json!({"httpMethod": method, "path": format!("/v1/{path}"),
            "resource": format!("/v1/{path}"), "queryStringParameters": query,
            "body": body.map(|b| b.to_string()), "isBase64Encoded": false,
            "requestContext": {"authorizer": {"principalId": user,
                "groups": serde_json::to_string(groups).unwrap()}}});
        let api = catalog::function(catalog::FunctionKey::Api).prefix;
        let answer = match self.functions[api].api.invoke(event) {
            Answer::Response(r) => (
                r["statusCode"].as_u64().unwrap() as u16,
                serde_json::from_str(r["body"].as_str().unwrap()).unwrap(),
            ),
            Answer::Error(e) => panic!("the api function failed: {e}"),
        };
        self.run_invocations();
        answer
    }

    /// (topic, bytes) of every publish to a node so far.
    pub fn published(&self) -> Vec<(String, Vec<u8>)> {
        self.proxy.published_bytes()
    }
}
