//! What a profile needs of the account's quotas, each with its reason. Pure: no AWS here.

use serde::Serialize;

use crate::profile::{IdentityProvider, Resolved, Variant};
use crate::stack::{traffic, TableModel};

fn read_units(t: &TableModel) -> i64 {
    t.read_units
}

fn write_units(t: &TableModel) -> i64 {
    t.write_units
}

/// Where the current value comes from besides Service Quotas: the service's own account API,
/// which reflects what is in force right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountValue {
    /// Lambda GetAccountSettings: `AccountLimit.ConcurrentExecutions`.
    LambdaConcurrency,
    /// Lambda GetAccountSettings: `AccountLimit.UnreservedConcurrentExecutions`.
    LambdaUnreserved,
    /// DynamoDB DescribeLimits.
    DynamoTableRead,
    DynamoTableWrite,
    DynamoAccountRead,
    DynamoAccountWrite,
}

/// One quota the profile needs, and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    /// Stable id (`Q001` ...) that `--ignore` takes.
    pub id: &'static str,
    pub quota: &'static str,
    /// Service Quotas service code.
    pub service: &'static str,
    /// Service Quotas quota code, when it is fixed; else found by name (`keywords`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Lower-case words the quota's name contains, to find it when the code is not fixed.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub keywords: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_value: Option<AccountValue>,
    pub required: f64,
    /// Why the profile needs this much.
    pub why: String,
}

/// Assumed mean time of one function invocation, for the concurrency the capacity figures need.
pub const INVOCATION_SECONDS: f64 = 0.1;
/// Window in which every device may reconnect after an outage, for the connect rate.
pub const RECONNECT_WINDOW_SECONDS: f64 = 600.0;

fn n(v: f64) -> String {
    crate::output::thousands(v.round() as usize)
}

/// Messages per second at peak, from the capacity figures.
pub fn peak_messages_per_second(r: &Resolved) -> f64 {
    let c = &r.profile.capacity;
    c.devices as f64 * c.messages_per_device_per_day as f64 / 86_400.0 * c.peak_factor
}

/// Everything the profile needs, in id order.
pub fn derive(r: &Resolved) -> Vec<Requirement> {
    let p = &r.profile;
    let c = &p.capacity;
    let peak = peak_messages_per_second(r);
    let mut out = Vec::new();

    let from_capacity = (peak * INVOCATION_SECONDS).ceil();
    let target = p.lambda.concurrency_target as f64;
    out.push(Requirement {
        id: "Q001",
        quota: "Lambda concurrent executions",
        service: "lambda",
        code: Some("L-B99A9384"),
        keywords: &[],
        account_value: Some(AccountValue::LambdaConcurrency),
        required: target.max(from_capacity),
        why: format!(
            "lambda.concurrency_target is {}; the capacity figures need {} ({} messages/s at peak × {INVOCATION_SECONDS} s per invocation)",
            n(target),
            n(from_capacity),
            n(peak.ceil())
        ),
    });

    let reserved: i64 = p.lambda.reserved_concurrency.values().sum();
    if reserved > 0 {
        out.push(Requirement {
            id: "Q002",
            quota: "Lambda unreserved concurrency",
            service: "lambda",
            code: None,
            keywords: &[],
            account_value: Some(AccountValue::LambdaUnreserved),
            required: (reserved + 100) as f64,
            why: format!(
                "the profile reserves {} for its functions and Lambda keeps at least 100 unreserved (raise Q001 to raise this)",
                n(reserved as f64)
            ),
        });
    }

    let model = crate::stack::build(r);
    // What each table must be able to serve: the peak the capacity figures need of an
    // on-demand table, the units bought for a provisioned one (the maximum when auto scaling).
    let serves = |t: &TableModel, read: bool| -> (f64, String) {
        match t.mode {
            "on_demand" => {
                let (reads, writes) = traffic::peak_units(c, t.key);
                let need = if read { reads } else { writes };
                (need.ceil(), "on demand, peak need".into())
            }
            "auto_scaling" => (
                (if read { t.read_units } else { t.write_units }) as f64,
                "auto-scaling maximum".into(),
            ),
            _ => (
                (if read { t.read_units } else { t.write_units }) as f64,
                "provisioned".into(),
            ),
        }
    };
    for (id, quota, code, value, read) in [
        (
            "Q003",
            "DynamoDB table-level read capacity units",
            "L-CF0CBE56",
            AccountValue::DynamoTableRead,
            true,
        ),
        (
            "Q004",
            "DynamoDB table-level write capacity units",
            "L-AB614373",
            AccountValue::DynamoTableWrite,
            false,
        ),
    ] {
        let what = if read { "read" } else { "write" };
        let Some((top, (units, how))) = model
            .tables
            .iter()
            .map(|t| (t, serves(t, read)))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
        else {
            continue;
        };
        out.push(Requirement {
            id,
            quota,
            service: "dynamodb",
            code: Some(code),
            keywords: &[],
            account_value: Some(value),
            required: units.max(1.0),
            why: format!(
                "the largest {what} throughput a table needs is {} units/s ({}, {how}; from the capacity figures and what each handler {what}s per message)",
                n(units),
                top.name
            ),
        });
    }
    let provisioned: Vec<_> = model
        .tables
        .iter()
        .filter(|t| t.mode != "on_demand")
        .collect();
    if !provisioned.is_empty() {
        // A table's global secondary index has the table's units and counts on its own.
        let counted = |t: &TableModel| if t.index.is_some() { 2 } else { 1 };
        for (id, quota, code, value, units, what) in [
            (
                "Q005",
                "DynamoDB account-level read capacity units",
                "L-34F6A552",
                AccountValue::DynamoAccountRead,
                read_units as fn(&TableModel) -> i64,
                "read",
            ),
            (
                "Q006",
                "DynamoDB account-level write capacity units",
                "L-34F8CCC8",
                AccountValue::DynamoAccountWrite,
                write_units,
                "write",
            ),
        ] {
            let sum: i64 = provisioned.iter().map(|t| units(t) * counted(t)).sum();
            let parts: Vec<String> = provisioned
                .iter()
                .map(|t| {
                    let k = counted(t);
                    if k > 1 {
                        format!("{} {}×{k}", t.name, n(units(t) as f64))
                    } else {
                        format!("{} {}", t.name, n(units(t) as f64))
                    }
                })
                .collect();
            out.push(Requirement {
                id,
                quota,
                service: "dynamodb",
                code: Some(code),
                keywords: &[],
                account_value: Some(value),
                required: sum as f64,
                why: format!(
                    "the {what} capacity of all provisioned and auto-scaling tables and their indexes adds up to {} ({}); on-demand tables do not count; tables already in the account do",
                    n(sum as f64),
                    parts.join(", ")
                ),
            });
        }
    }

    let connect = (c.devices as f64 / RECONNECT_WINDOW_SECONDS)
        .ceil()
        .max(1.0);
    out.push(Requirement {
        id: "Q007",
        quota: "IoT Core connect requests per second per account",
        service: "iotcore",
        code: None,
        keywords: &["connect requests per second", "per account"],
        account_value: None,
        required: connect,
        why: format!(
            "{} devices reconnecting within {} minutes after an outage",
            n(c.devices as f64),
            RECONNECT_WINDOW_SECONDS / 60.0
        ),
    });
    let publish = peak.ceil().max(1.0);
    out.push(Requirement {
        id: "Q008",
        quota: "IoT Core inbound publish requests per second per account",
        service: "iotcore",
        code: None,
        keywords: &["inbound publish requests per second", "per account"],
        account_value: None,
        required: publish,
        why: format!(
            "{} devices × {} messages a day ÷ 86,400 s × peak factor {}",
            n(c.devices as f64),
            n(c.messages_per_device_per_day as f64),
            c.peak_factor
        ),
    });
    out.push(Requirement {
        id: "Q009",
        quota: "IoT Core outbound publish requests per second per account",
        service: "iotcore",
        code: None,
        keywords: &["outbound publish requests per second", "per account"],
        account_value: None,
        required: publish,
        why: "at most one message back to a node (params/remote, otaurl, mapping answers) per message in, at the inbound peak".into(),
    });
    out.push(Requirement {
        id: "Q010",
        quota: "IoT Core concurrent client connections per account",
        service: "iotcore",
        code: None,
        keywords: &["connections", "per account"],
        account_value: None,
        required: c.devices as f64,
        why: format!(
            "capacity.devices: {} devices online at once",
            n(c.devices as f64)
        ),
    });

    out.push(Requirement {
        id: "Q011",
        quota: "API Gateway throttle rate",
        service: "apigateway",
        code: Some("L-8A5B8E43"),
        keywords: &[],
        account_value: None,
        required: p.api.rate_limit as f64,
        why: format!(
            "api.rate_limit: the stage and usage plan allow {} requests/s",
            n(p.api.rate_limit as f64)
        ),
    });
    out.push(Requirement {
        id: "Q012",
        quota: "API Gateway throttle burst",
        service: "apigateway",
        code: Some("L-CDF5615A"),
        keywords: &[],
        account_value: None,
        required: p.api.burst_limit as f64,
        why: format!(
            "api.burst_limit: bursts of {} requests",
            n(p.api.burst_limit as f64)
        ),
    });

    if r.variant == Variant::Global && r.identity == IdentityProvider::Cognito {
        out.push(Requirement {
            id: "Q013",
            quota: "Cognito user pools",
            service: "cognito-idp",
            code: None,
            keywords: &["user pools"],
            account_value: None,
            required: 1.0,
            why: "the stack makes one user pool (pools already in the account count too)".into(),
        });
    }
    out
}
