//! What a rendered stack uses in a month under the profile's capacity figures: one line per
//! billed quantity, with the service, the feature that causes it and the price it is billed at.
//! The stack is read from the template (what it deploys, with which settings), so the same
//! code prices a stack already deployed from its template.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{self, FunctionKey, TableKey, CORE};
use crate::profile::Capacity;
use crate::stack::traffic;

/// Hours and days in a billing month, as AWS's calculators count them.
pub const HOURS_PER_MONTH: f64 = 730.0;
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// A handler's own time per event, measured against a local emulator (`bench/lambdas.py`:
/// 1.4 to 7 ms per event).
pub const HANDLER_MS: f64 = 5.0;
/// Time an AWS call (DynamoDB, IoT publish) adds to a handler, in the region.
pub const AWS_CALL_MS: f64 = 10.0;
/// A firmware image as OTA downloads it (a stock RainMaker app is 1 to 2 MB).
pub const FIRMWARE_MB: f64 = 1.5;
/// Firmware images kept in the bucket: the current release and one noncurrent version.
pub const FIRMWARE_IMAGES_KEPT: f64 = 2.0;
/// Requests a Lambda SQS event source makes a month while the queue is empty: five pollers
/// long-polling for 20 s.
pub const SQS_POLLS_PER_MONTH: f64 = 5.0 * 3.0 * 60.0 * HOURS_PER_MONTH;
/// Lambda's platform log lines per invocation (START, END, REPORT).
pub const PLATFORM_LOG_BYTES: f64 = 350.0;
/// X-Ray's default sampling: one request a second, then 5 %.
const XRAY_RESERVOIR_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
const XRAY_RATE: f64 = 0.05;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Handler log bytes per invocation at a `RUST_LOG` level.
pub fn handler_log_bytes(level: &str) -> f64 {
    match level {
        "info" => 150.0,
        "debug" => 1_000.0,
        "trace" => 8_000.0,
        _ => 0.0,
    }
}

/// AWS IoT Core log bytes per message at a logging level.
pub fn iot_log_bytes(level: &str) -> f64 {
    match level {
        "INFO" => 700.0,
        "DEBUG" => 2_000.0,
        _ => 0.0,
    }
}

/// One billed quantity of a month.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub service: &'static str,
    pub feature: String,
    pub item: String,
    pub quantity: f64,
    /// For auto-scaling tables: the quantity at the maximum (`quantity` is at the minimum).
    pub quantity_max: Option<f64>,
    pub price: &'static str,
}

fn usage(
    service: &'static str,
    feature: &str,
    item: String,
    quantity: f64,
    price: &'static str,
) -> Usage {
    Usage {
        service,
        feature: feature.to_string(),
        item,
        quantity,
        quantity_max: None,
        price,
    }
}

/// What the template deploys, as far as cost goes.
struct Deployed<'a> {
    resources: &'a serde_json::Map<String, Value>,
    stack_name: &'a str,
}

/// The producing feature recorded in a resource's `Metadata.rmdeploy.feature`.
fn feature(r: &Value) -> &str {
    r.pointer("/Metadata/rmdeploy/feature")
        .and_then(Value::as_str)
        .unwrap_or("unlabelled")
}

fn number(v: Option<&Value>) -> f64 {
    v.and_then(|v| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
    .unwrap_or(0.0)
}

impl<'a> Deployed<'a> {
    fn of_type(&self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    fn has(&self, kind: &str) -> Option<&'a Value> {
        self.resources
            .values()
            .find(|r| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    /// The catalogue name behind `<stack_name>-<name>`.
    fn short<'n>(&self, name: &'n str) -> Option<&'n str> {
        name.strip_prefix(self.stack_name)?.strip_prefix('-')
    }
}

/// A deployed function, as the template configures it.
struct Function {
    key: FunctionKey,
    feature: String,
    memory_gb: f64,
    arch: String,
    log_level: String,
    traced: bool,
}

fn functions(d: &Deployed) -> Vec<Function> {
    d.of_type("AWS::Lambda::Function")
        .filter_map(|(_, r)| {
            let p = r.get("Properties")?;
            let name = d.short(p.get("FunctionName")?.as_str()?)?;
            let spec = catalog::FUNCTIONS.iter().find(|f| f.name == name)?;
            Some(Function {
                key: spec.key,
                feature: feature(r).to_string(),
                memory_gb: number(p.get("MemorySize")) / 1024.0,
                arch: p
                    .pointer("/Architectures/0")
                    .and_then(Value::as_str)
                    .unwrap_or("x86_64")
                    .to_string(),
                log_level: p
                    .pointer("/Environment/Variables/RUST_LOG")
                    .and_then(Value::as_str)
                    .unwrap_or("info")
                    .to_string(),
                traced: p.pointer("/TracingConfig/Mode").and_then(Value::as_str) == Some("Active"),
            })
        })
        .collect()
}

/// A deployed table and how it pays for throughput.
struct Table {
    key: TableKey,
    name: String,
    feature: String,
    /// `None` on demand; else (read, write) units of the table and of each index, at the
    /// minimum, and the maximum when auto scaling.
    provisioned: Option<Provisioned>,
    indexes: f64,
}

struct Provisioned {
    read: (f64, f64),
    write: (f64, f64),
}

fn tables(d: &Deployed) -> Vec<Table> {
    // Auto-scaling maximums by the table's logical id and dimension.
    let mut maxima: BTreeMap<(String, &str), f64> = BTreeMap::new();
    for (_, r) in d.of_type("AWS::ApplicationAutoScaling::ScalableTarget") {
        let Some(p) = r.get("Properties") else {
            continue;
        };
        let id = p
            .pointer("/ResourceId/Fn::Sub")
            .or_else(|| p.get("ResourceId"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(logical) = id
            .strip_prefix("table/${")
            .and_then(|rest| rest.split('}').next())
        else {
            continue;
        };
        if id.contains("/index/") {
            continue;
        }
        let dim = match p.get("ScalableDimension").and_then(Value::as_str) {
            Some(s) if s.ends_with("ReadCapacityUnits") => "read",
            _ => "write",
        };
        maxima.insert((logical.to_string(), dim), number(p.get("MaxCapacity")));
    }
    d.of_type("AWS::DynamoDB::Table")
        .filter_map(|(logical, r)| {
            let p = r.get("Properties")?;
            let name = d.short(p.get("TableName")?.as_str()?)?;
            let spec = catalog::TABLES.iter().find(|t| t.name == name)?;
            let indexes = p
                .get("GlobalSecondaryIndexes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len) as f64;
            let provisioned = (p.get("BillingMode").and_then(Value::as_str) == Some("PROVISIONED"))
                .then(|| {
                    let read = number(p.pointer("/ProvisionedThroughput/ReadCapacityUnits"));
                    let write = number(p.pointer("/ProvisionedThroughput/WriteCapacityUnits"));
                    let max = |dim: &str, min: f64| {
                        maxima.get(&(logical.clone(), dim)).copied().unwrap_or(min)
                    };
                    Provisioned {
                        read: (read, max("read", read)),
                        write: (write, max("write", write)),
                    }
                });
            Some(Table {
                key: spec.key,
                name: name.to_string(),
                feature: feature(r).to_string(),
                provisioned,
                indexes,
            })
        })
        .collect()
}

/// Every billed quantity of a month for this template and these capacity figures.
pub fn derive(template: &Value, stack_name: &str, c: &Capacity) -> Vec<Usage> {
    let empty = serde_json::Map::new();
    let d = Deployed {
        resources: template
            .get("Resources")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
        stack_name,
    };
    let devices = c.devices as f64;
    let month = |per_device_day: f64| per_device_day * devices * DAYS_PER_MONTH;
    let rules: Vec<&str> = d
        .of_type("AWS::IoT::TopicRule")
        .filter_map(|(_, r)| r.pointer("/Properties/RuleName").and_then(Value::as_str))
        .collect();
    let functions = functions(&d);
    let deployed = |k: FunctionKey| functions.iter().any(|f| f.key == k);
    // Only what this stack serves: an event whose rule or function is missing is not handled.
    let events: Vec<traffic::Event> = traffic::events(c)
        .into_iter()
        .filter(|e| e.rule.is_none_or(|r| rules.contains(&r)))
        .filter(|e| e.function.is_none_or(deployed))
        .collect();
    let mut out = Vec::new();

    // IoT Core: always-on connections, metered messages, rules and their Lambda actions.
    out.push(usage(
        "IoT Core",
        CORE,
        format!(
            "{} devices connected all month",
            crate::output::thousands(c.devices as usize)
        ),
        devices * 60.0 * HOURS_PER_MONTH,
        "iot_connection_minutes",
    ));
    let messages: f64 = events
        .iter()
        .map(|e| month(e.per_device_day) * e.messages)
        .sum();
    out.push(usage(
        "IoT Core",
        CORE,
        "MQTT messages in and out".into(),
        messages,
        "iot_messages",
    ));
    let triggered: f64 = events
        .iter()
        .filter(|e| e.rule.is_some())
        .map(|e| month(e.per_device_day))
        .sum();
    out.push(usage(
        "IoT Core",
        CORE,
        "topic rules triggered".into(),
        triggered,
        "iot_rules_triggered",
    ));
    out.push(usage(
        "IoT Core",
        CORE,
        "rule actions (Lambda)".into(),
        triggered,
        "iot_actions_executed",
    ));
    if let Some(r) = d.has("AWS::IoT::SecurityProfile") {
        // Rules Detect bills metric datapoints: one per device and window for a windowed
        // behavior, one per message for a per-message one (message size).
        let device_messages: f64 = events
            .iter()
            .filter(|e| e.rule.is_some() || e.function.is_none())
            .map(|e| month(e.per_device_day) * e.messages)
            .sum();
        let datapoints: f64 = r
            .pointer("/Properties/Behaviors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|b| {
                match b
                    .pointer("/Criteria/DurationSeconds")
                    .map(|v| number(Some(v)))
                {
                    Some(window) if window > 0.0 => devices * HOURS_PER_MONTH * 3600.0 / window,
                    _ => device_messages,
                }
            })
            .sum();
        out.push(usage(
            "IoT Device Defender",
            feature(r),
            "Rules Detect metric datapoints".into(),
            datapoints,
            "iot_defender_rules_detect_datapoints",
        ));
    }
    if let Some(r) = d.has("AWS::IoT::Logging") {
        let level = r
            .pointer("/Properties/DefaultLogLevel")
            .and_then(Value::as_str)
            .unwrap_or("ERROR");
        let gb = messages * iot_log_bytes(level) / GB;
        if gb > 0.0 {
            out.push(usage(
                "CloudWatch Logs",
                feature(r),
                format!("IoT Core logs at {level}"),
                gb,
                "logs_ingestion_gb",
            ));
        }
    }

    // Lambda: invocations and GB-seconds per function, its logs, and X-Ray traces.
    let mut traced = 0.0;
    let retention_days = d
        .of_type("AWS::Logs::LogGroup")
        .map(|(_, r)| number(r.pointer("/Properties/RetentionInDays")))
        .fold(0.0, f64::max);
    let api_requests = if d.has("AWS::ApiGateway::RestApi").is_some() {
        month(c.api_requests_per_device_per_day)
    } else {
        0.0
    };
    for f in &functions {
        let spec = catalog::function(f.key);
        let (count, ms) = match f.key {
            FunctionKey::Authorizer => (api_requests, HANDLER_MS),
            FunctionKey::Auth => (c.users() as f64, HANDLER_MS + AWS_CALL_MS),
            key => events.iter().filter(|e| e.function == Some(key)).fold(
                (0.0, 0.0),
                |(n, weighted), e| {
                    let k = month(e.per_device_day);
                    (
                        n + k,
                        weighted + k * (HANDLER_MS + e.aws_calls * AWS_CALL_MS),
                    )
                },
            ),
        };
        let ms = if matches!(f.key, FunctionKey::Authorizer | FunctionKey::Auth) {
            ms
        } else if count > 0.0 {
            ms / count
        } else {
            0.0
        };
        if count <= 0.0 {
            continue;
        }
        out.push(usage(
            "Lambda",
            &f.feature,
            format!("{} invocations", spec.name),
            count,
            "lambda_requests",
        ));
        out.push(usage(
            "Lambda",
            &f.feature,
            format!(
                "{} compute ({} MB, {ms:.0} ms each, {})",
                spec.name,
                f.memory_gb * 1024.0,
                f.arch
            ),
            count * ms / 1000.0 * f.memory_gb,
            if f.arch == "arm64" {
                "lambda_gb_seconds_arm64"
            } else {
                "lambda_gb_seconds_x86_64"
            },
        ));
        let log_gb = count * (PLATFORM_LOG_BYTES + handler_log_bytes(&f.log_level)) / GB;
        out.push(usage(
            "CloudWatch Logs",
            &f.feature,
            format!("{} logs at {}", spec.name, f.log_level),
            log_gb,
            "logs_ingestion_gb",
        ));
        out.push(usage(
            "CloudWatch Logs",
            &f.feature,
            format!("{} logs kept {retention_days} days", spec.name),
            log_gb * retention_days / DAYS_PER_MONTH,
            "logs_storage_gb_months",
        ));
        if f.traced {
            traced += count;
        }
    }
    if traced > 0.0 {
        let traces = traced.min(XRAY_RESERVOIR_PER_MONTH)
            + XRAY_RATE * (traced - XRAY_RESERVOIR_PER_MONTH).max(0.0);
        out.push(usage(
            "X-Ray",
            CORE,
            "traces of the functions (active tracing, default sampling)".into(),
            traces,
            "xray_traces",
        ));
    }

    // DynamoDB: request units on demand, unit-hours when provisioned, storage.
    for t in tables(&d) {
        let (reads, writes) = events
            .iter()
            .flat_map(|e| e.units.iter().map(move |u| (e.per_device_day, u)))
            .filter(|(_, u)| u.table == t.key)
            .fold((0.0, 0.0), |(r, w), (rate, u)| {
                (r + month(rate) * u.reads, w + month(rate) * u.writes)
            });
        let copies = 1.0 + t.indexes;
        match &t.provisioned {
            None => {
                if writes > 0.0 {
                    out.push(usage(
                        "DynamoDB",
                        &t.feature,
                        format!("{} write request units", t.name),
                        writes * copies,
                        "dynamodb_write_request_units",
                    ));
                }
                if reads > 0.0 {
                    out.push(usage(
                        "DynamoDB",
                        &t.feature,
                        format!("{} read request units", t.name),
                        reads,
                        "dynamodb_read_request_units",
                    ));
                }
            }
            Some(p) => {
                for (what, (min, max), price) in [
                    ("write", p.write, "dynamodb_wcu_hours"),
                    ("read", p.read, "dynamodb_rcu_hours"),
                ] {
                    let mut u = usage(
                        "DynamoDB",
                        &t.feature,
                        format!(
                            "{} provisioned {what} units ({})",
                            t.name,
                            units_text(min, max, copies)
                        ),
                        min * copies * HOURS_PER_MONTH,
                        price,
                    );
                    if max > min {
                        u.quantity_max = Some(max * copies * HOURS_PER_MONTH);
                    }
                    out.push(u);
                }
            }
        }
        let bytes = traffic::stored_bytes(c, t.key);
        if bytes > 0.0 {
            out.push(usage(
                "DynamoDB",
                &t.feature,
                format!("{} storage", t.name),
                bytes / GB,
                "dynamodb_storage_gb_months",
            ));
        }
    }

    // API Gateway and users.
    if let Some(r) = d.has("AWS::ApiGateway::RestApi") {
        out.push(usage(
            "API Gateway",
            feature(r),
            "REST API requests".into(),
            api_requests,
            "apigateway_rest_requests",
        ));
    }
    // AWS WAF on the API: the web ACL, its rules, and every API request it inspects.
    for (_, r) in d.of_type("AWS::WAFv2::WebACL") {
        let rules = r
            .pointer("/Properties/Rules")
            .and_then(Value::as_array)
            .map_or(0, Vec::len) as f64;
        out.push(usage(
            "WAF",
            feature(r),
            "web ACL on the API".into(),
            1.0,
            "waf_web_acl_months",
        ));
        out.push(usage(
            "WAF",
            feature(r),
            format!("rate-based rules ({rules})"),
            rules,
            "waf_rules_months",
        ));
        out.push(usage(
            "WAF",
            feature(r),
            "API requests inspected".into(),
            api_requests,
            "waf_requests",
        ));
    }
    if let Some(r) = d.has("AWS::Cognito::UserPool") {
        // Threat protection needs the Plus plan, billed per user instead of Essentials.
        let plus = r
            .pointer("/Properties/UserPoolTier")
            .and_then(Value::as_str)
            == Some("PLUS");
        out.push(usage(
            "Cognito",
            feature(r),
            if plus {
                "monthly active users (Plus plan: threat protection)".into()
            } else {
                "monthly active users".into()
            },
            c.users() as f64,
            if plus {
                "cognito_plus_mau"
            } else {
                "cognito_mau"
            },
        ));
    }

    // S3: firmware kept and downloaded for OTA.
    if d.resources.contains_key("FirmwareBucket") {
        let downloads = devices * c.ota_updates_per_year / 12.0;
        out.push(usage(
            "S3",
            CORE,
            "firmware images kept".into(),
            FIRMWARE_IMAGES_KEPT * FIRMWARE_MB / 1024.0,
            "s3_storage_gb_months",
        ));
        out.push(usage(
            "S3",
            CORE,
            "firmware downloads (GET)".into(),
            downloads,
            "s3_get_requests",
        ));
        out.push(usage(
            "Data transfer",
            CORE,
            "firmware downloads to devices".into(),
            downloads * FIRMWARE_MB / 1024.0,
            "data_transfer_out_gb",
        ));
    }

    // SQS: what a Lambda event source polls while its queue is empty.
    for (_, r) in d.of_type("AWS::Lambda::EventSourceMapping") {
        out.push(usage(
            "SQS",
            feature(r),
            "queue polling by its Lambda event source".into(),
            SQS_POLLS_PER_MONTH,
            "sqs_requests",
        ));
    }
    out
}

fn units_text(min: f64, max: f64, copies: f64) -> String {
    let n = |v: f64| crate::output::thousands(v as usize);
    let copies = if copies > 1.0 {
        format!(" × {copies} with the index")
    } else {
        String::new()
    };
    if max > min {
        format!("{} to {}{copies}", n(min), n(max))
    } else {
        format!("{}{copies}", n(min))
    }
}
