//! The quota check against recorded responses (aws-smithy-mocks): the emulator answers Service
//! Quotas only for `vpc`. An account is described by its values; each test changes one thing.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_servicequotas::operation::get_aws_default_service_quota::GetAwsDefaultServiceQuotaOutput;
use aws_sdk_servicequotas::operation::get_service_quota::{
    GetServiceQuotaError, GetServiceQuotaOutput,
};
use aws_sdk_servicequotas::operation::list_aws_default_service_quotas::ListAwsDefaultServiceQuotasOutput;
use aws_sdk_servicequotas::operation::list_service_quotas::ListServiceQuotasOutput;
use aws_sdk_servicequotas::types::error::NoSuchResourceException;
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use rmdeploy::aws::Clients;

use crate::support::answers::Answers;
use rmdeploy::quotas::{self, live, Check, Status};

/// An account: applied values by quota code (absent: no applied value), defaults by code, the
/// Lambda and DynamoDB account values.
#[derive(Clone)]
struct Account {
    applied: BTreeMap<&'static str, f64>,
    lambda: (i32, i32),
    dynamo: [i64; 4],
}

/// AWS defaults (by code) and the by-name quotas of IoT Core and Cognito.
const DEFAULTS: &[(&str, &str, &str, f64)] = &[
    ("lambda", "L-B99A9384", "Concurrent executions", 1_000.0),
    (
        "dynamodb",
        "L-CF0CBE56",
        "Table-level read throughput limit",
        40_000.0,
    ),
    (
        "dynamodb",
        "L-AB614373",
        "Table-level write throughput limit",
        40_000.0,
    ),
    (
        "dynamodb",
        "L-34F6A552",
        "Account-level read throughput limit (Provisioned mode)",
        80_000.0,
    ),
    (
        "dynamodb",
        "L-34F8CCC8",
        "Account-level write throughput limit (Provisioned mode)",
        80_000.0,
    ),
    ("apigateway", "L-8A5B8E43", "Throttle rate", 10_000.0),
    ("apigateway", "L-CDF5615A", "Throttle burst rate", 5_000.0),
    (
        "iotcore",
        "L-F2E6B2C0",
        "Connect requests per second per account",
        500.0,
    ),
    (
        "iotcore",
        "L-AB3F4A1B",
        "Inbound publish requests per second per account",
        20_000.0,
    ),
    (
        "iotcore",
        "L-9D8E7F6A",
        "Outbound publish requests per second per account",
        20_000.0,
    ),
    (
        "iotcore",
        "L-1A2B3C4D",
        "Maximum concurrent client connections per account",
        500_000.0,
    ),
    (
        "iotcore",
        "L-5E6F7A8B",
        "Connect requests per second per client ID",
        1.0,
    ),
    ("cognito-idp", "L-8E5ECA49", "User pools", 1_000.0),
];

impl Account {
    /// A healthy account with the AWS defaults.
    fn standard() -> Account {
        Account {
            applied: BTreeMap::new(),
            lambda: (1_000, 1_000),
            dynamo: [40_000, 40_000, 80_000, 80_000],
        }
    }
}

fn quota(service: &str, code: &str, name: &str, value: f64) -> ServiceQuota {
    ServiceQuota::builder()
        .service_code(service)
        .quota_code(code)
        .quota_name(name)
        .value(value)
        .adjustable(true)
        .build()
}

fn default_of(code: &str) -> Option<&'static (&'static str, &'static str, &'static str, f64)> {
    DEFAULTS.iter().find(|d| d.1 == code)
}

struct Mocked {
    clients: Clients,
    rules: Vec<Rule>,
}

fn mocked(account: &Account, extra_quota_rules: Vec<Rule>) -> Mocked {
    let a = account.clone();
    let get_default = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .then_compute_output(|req| {
            let (service, code, name, value) = *default_of(req.quota_code().unwrap()).unwrap();
            GetAwsDefaultServiceQuotaOutput::builder()
                .quota(quota(service, code, name, value))
                .build()
        });
    let applied = a.applied.clone();
    let get_applied = mock!(aws_sdk_servicequotas::Client::get_service_quota)
        .then_compute_response(move |req| {
            let code = req.quota_code().unwrap();
            match applied.get(code) {
                Some(v) => {
                    let (service, code, name, _) = *default_of(code).unwrap();
                    MockResponse::Output(
                        GetServiceQuotaOutput::builder()
                            .quota(quota(service, code, name, *v))
                            .build(),
                    )
                }
                None => MockResponse::Error(GetServiceQuotaError::NoSuchResourceException(
                    NoSuchResourceException::builder()
                        .message("no applied value")
                        .build(),
                )),
            }
        });
    let list_defaults = mock!(aws_sdk_servicequotas::Client::list_aws_default_service_quotas)
        .then_compute_output(|req| {
            let service = req.service_code().unwrap().to_string();
            ListAwsDefaultServiceQuotasOutput::builder()
                .set_quotas(Some(
                    DEFAULTS
                        .iter()
                        .filter(|d| d.0 == service)
                        .map(|d| quota(d.0, d.1, d.2, d.3))
                        .collect(),
                ))
                .build()
        });
    let applied = a.applied.clone();
    let list_applied = mock!(aws_sdk_servicequotas::Client::list_service_quotas)
        .then_compute_output(move |req| {
            let service = req.service_code().unwrap().to_string();
            ListServiceQuotasOutput::builder()
                .set_quotas(Some(
                    DEFAULTS
                        .iter()
                        .filter(|d| d.0 == service)
                        .filter_map(|d| applied.get(d.1).map(|v| quota(d.0, d.1, d.2, *v)))
                        .collect(),
                ))
                .build()
        });
    let (concurrency, unreserved) = a.lambda;
    let lambda_settings = Answers::new().on(
        "GET",
        "/2016-08-19/account-settings/",
        200,
        &format!(
            r#"{{"AccountLimit":{{"ConcurrentExecutions":{concurrency},"UnreservedConcurrentExecutions":{unreserved},"CodeSizeUnzipped":262144000}},"AccountUsage":{{"FunctionCount":0}}}}"#
        ),
    );
    let d = a.dynamo;
    let limits = mock!(aws_sdk_dynamodb::Client::describe_limits).then_output(move || {
        aws_sdk_dynamodb::operation::describe_limits::DescribeLimitsOutput::builder()
            .table_max_read_capacity_units(d[0])
            .table_max_write_capacity_units(d[1])
            .account_max_read_capacity_units(d[2])
            .account_max_write_capacity_units(d[3])
            .build()
    });
    let mut quota_rules = extra_quota_rules;
    quota_rules.extend([get_default, get_applied, list_defaults, list_applied]);
    let retry = |c: aws_sdk_servicequotas::config::Builder| {
        c.retry_config(
            aws_sdk_servicequotas::config::retry::RetryConfig::standard().with_max_attempts(3),
        )
    };
    let quotas_client = mock_client!(
        aws_sdk_servicequotas,
        RuleMode::MatchAny,
        &quota_rules,
        retry
    );
    let clients = Clients {
        config: aws_config::SdkConfig::builder().build(),
        region: "us-east-1".into(),
        cfn: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[]),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[]),
        iot: Answers::new().iot("us-east-1"),
        quotas: quotas_client,
        lambda: lambda_settings.lambda("us-east-1"),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&limits]),
        poll: Duration::ZERO,
    };
    let mut rules = quota_rules;
    rules.push(limits);
    Mocked { clients, rules }
}

/// A profile from YAML text, resolved for `region` (default: the profile's).
fn profile(yaml: &str, region: Option<&str>) -> rmdeploy::profile::Resolved {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, yaml).unwrap();
    rmdeploy::profile::load(Some(path.to_str().unwrap()), region).unwrap()
}

const SMALL: &str = r#"
stack_name: rainmaker
region: us-east-1
identity:
  provider: cognito
capacity:
  devices: 10000
  messages_per_device_per_day: 1440
  peak_factor: 3
dynamodb:
  default:
    mode: provisioned
    read_units: 5000
    write_units: 5000
"#;

async fn run(profile: &rmdeploy::profile::Resolved, account: &Account) -> (Vec<Check>, Mocked) {
    let m = mocked(account, Vec::new());
    let checks = live::check(&m.clients, &quotas::derive(profile))
        .await
        .unwrap();
    (checks, m)
}

/// The global profile as shipped before: every table provisioned at 40,000 units.
fn forty_thousand() -> rmdeploy::profile::Resolved {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/profiles/forty-thousand.yaml"
    );
    rmdeploy::profile::load(Some(path), None).unwrap()
}

#[tokio::test]
async fn the_shipped_global_profile_passes_a_default_account() {
    let global = rmdeploy::profile::load(Some("global"), None).unwrap();
    let (checks, _) = run(&global, &Account::standard()).await;
    assert!(quotas::passed(&checks), "{checks:#?}");
    let ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
    assert!(
        !ids.contains(&"Q005") && !ids.contains(&"Q006"),
        "on-demand tables do not count against the account-level quotas: {ids:?}"
    );
    // On demand, the table-level check is the peak the capacity figures need: node_params takes
    // two writes per report, 100,000 × 1,440 ÷ 86,400 × 3 = 5,000 reports a second at peak.
    let q004 = checks.iter().find(|c| c.id == "Q004").unwrap();
    assert!(
        (10_000.0..10_100.0).contains(&q004.required),
        "{}",
        q004.required
    );
    assert!(q004.why.contains("node_params, on demand"), "{}", q004.why);
    let q003 = checks.iter().find(|c| c.id == "Q003").unwrap();
    assert!(q003.required < 40_000.0 && q003.status == Status::Pass);
}

fn status(checks: &[Check], id: &str) -> Status {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .status
}

#[tokio::test]
async fn a_standard_account_covers_a_small_profile() {
    let (checks, _) = run(&profile(SMALL, None), &Account::standard()).await;
    let ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "Q001", "Q003", "Q004", "Q005", "Q006", "Q007", "Q008", "Q009", "Q010", "Q011", "Q012",
            "Q013"
        ]
    );
    assert!(quotas::passed(&checks), "{checks:#?}");
    let q008 = checks.iter().find(|c| c.id == "Q008").unwrap();
    assert_eq!(q008.required, 500.0, "10,000 × 1,440 / 86,400 × 3");
    assert_eq!(q008.current, Some(20_000.0));
    assert_eq!(q008.code.as_deref(), Some("L-AB3F4A1B"), "found by name");
    let q007 = checks.iter().find(|c| c.id == "Q007").unwrap();
    assert_eq!(
        q007.code.as_deref(),
        Some("L-F2E6B2C0"),
        "per account, not per client id"
    );
    assert_eq!(
        checks.iter().find(|c| c.id == "Q001").unwrap().source,
        "lambda:GetAccountSettings"
    );
}

#[tokio::test]
async fn a_new_account_with_lambda_concurrency_10_falls_short() {
    let mut account = Account::standard();
    account.lambda = (10, 10);
    account.applied.insert("L-B99A9384", 10.0);
    let (checks, _) = run(&profile(SMALL, None), &account).await;
    let q001 = checks.iter().find(|c| c.id == "Q001").unwrap();
    assert_eq!(q001.status, Status::Short);
    assert_eq!(
        (q001.required, q001.current, q001.default),
        (1_000.0, Some(10.0), Some(1_000.0))
    );
    assert_eq!(q001.adjustable, Some(true));
    assert!(!quotas::passed(&checks));
    // With reserved concurrency, what is left unreserved is checked too.
    let reserved = format!("{SMALL}lambda:\n  reserved_concurrency:\n    api: 200\n");
    let (checks, _) = run(&profile(&reserved, None), &account).await;
    let q002 = checks.iter().find(|c| c.id == "Q002").unwrap();
    assert_eq!((q002.required, q002.status), (300.0, Status::Short));
}

#[tokio::test]
async fn tables_summing_above_the_account_limit_are_caught() {
    // The global profile as it was shipped: every table and index at 40,000 units, 480,000 in
    // all (440,000 before the claims table, 400,000 before the nodes table's `online` index,
    // 360,000 before the ota_jobs one).
    let (checks, _) = run(&forty_thousand(), &Account::standard()).await;
    assert_eq!(
        status(&checks, "Q003"),
        Status::Pass,
        "each table fits the table-level limit"
    );
    let q005 = checks.iter().find(|c| c.id == "Q005").unwrap();
    assert_eq!(q005.status, Status::Short);
    assert_eq!((q005.required, q005.current), (480_000.0, Some(80_000.0)));
    assert!(q005.why.contains("nodes 40,000"), "{}", q005.why);
    // --ignore takes them out.
    let mut checks = checks;
    assert!(quotas::apply_ignore(&mut checks, &["q005".into(), "Q006".into()]).is_empty());
    assert!(quotas::passed(&checks));
    assert_eq!(
        quotas::apply_ignore(&mut checks, &["Q999".into()]),
        vec!["Q999"]
    );
}

#[tokio::test]
async fn without_an_applied_value_the_aws_default_is_used() {
    let mut account = Account::standard();
    account.applied.insert("L-8A5B8E43", 20_000.0);
    let (checks, m) = run(&profile(SMALL, None), &account).await;
    let rate = checks.iter().find(|c| c.id == "Q011").unwrap();
    assert_eq!(
        (rate.current, rate.default),
        (Some(20_000.0), Some(10_000.0)),
        "applied value wins"
    );
    let burst = checks.iter().find(|c| c.id == "Q012").unwrap();
    assert_eq!(
        burst.current,
        Some(5_000.0),
        "no applied value: the default"
    );
    assert_eq!(burst.source, "Service Quotas");
    // both the applied value and the default were asked for every coded quota
    assert_eq!(m.rules[1].num_calls(), m.rules[0].num_calls());
}

#[tokio::test]
async fn access_denied_names_the_missing_permission() {
    // Lambda's answer to a caller without the permission (its error type in the header, here
    // only in the body's message).
    let denied = Answers::new().on(
        "GET",
        "/2016-08-19/account-settings/",
        403,
        r#"{"Type":"User","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:GetAccountSettings"}"#,
    );
    let mut m = mocked(&Account::standard(), Vec::new());
    m.clients.lambda = denied.lambda("us-east-1");
    let err = live::check(&m.clients, &quotas::derive(&profile(SMALL, None)))
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("lambda:GetAccountSettings"), "{text}");
    let help = miette::Diagnostic::help(&err)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(
        help.contains("lack the IAM permission for lambda:GetAccountSettings"),
        "{help}"
    );
}

#[tokio::test]
async fn throttling_is_retried() {
    let throttled = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .match_requests(|r| r.quota_code() == Some("L-B99A9384"))
        .sequence()
        .http_response(|| {
            let mut r = HttpResponse::new(
                StatusCode::try_from(400).unwrap(),
                SdkBody::from(r#"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#),
            );
            r.headers_mut()
                .insert("x-amzn-errortype", "TooManyRequestsException");
            r
        })
        .times(2)
        .output(|| {
            GetAwsDefaultServiceQuotaOutput::builder()
                .quota(quota(
                    "lambda",
                    "L-B99A9384",
                    "Concurrent executions",
                    1_000.0,
                ))
                .build()
        })
        .build();
    let m = mocked(&Account::standard(), vec![throttled]);
    let checks = live::check(&m.clients, &quotas::derive(&profile(SMALL, None)))
        .await
        .expect("retried through the throttling");
    assert_eq!(
        m.rules[0].num_calls(),
        3,
        "two throttled answers, then the value"
    );
    assert_eq!(status(&checks, "Q001"), Status::Pass);
}

#[tokio::test]
async fn china_has_no_cognito_check_and_finds_iot_quotas_by_name() {
    let china = format!(
        "{}\nidentity:\n  provider: oauth2\n  oauth2:\n    issuer: https://login.example.cn/\n    audience: rainmaker\n",
        SMALL.replace("identity:\n  provider: cognito\n", "")
    );
    let resolved = profile(&china, Some("cn-northwest-1"));
    let (checks, m) = run(&resolved, &Account::standard()).await;
    assert!(checks.iter().all(|c| c.id != "Q013"));
    assert!(checks.iter().all(|c| c.service != "cognito-idp"));
    assert!(quotas::passed(&checks), "{checks:#?}");
    let listed: usize = m.rules[2].num_calls();
    assert_eq!(listed, 1, "one list of defaults: iotcore only");
}

#[tokio::test]
async fn increases_are_requested_for_adjustable_shortfalls_not_already_open() {
    use aws_sdk_servicequotas::operation::list_requested_service_quota_change_history::ListRequestedServiceQuotaChangeHistoryOutput;
    use aws_sdk_servicequotas::operation::request_service_quota_increase::RequestServiceQuotaIncreaseOutput;
    use aws_sdk_servicequotas::types::{RequestStatus, RequestedServiceQuotaChange};
    use rmdeploy::quotas::increase;

    let mut account = Account::standard();
    account.lambda = (10, 10);
    account.applied.insert("L-B99A9384", 10.0);
    let global = forty_thousand();
    let history = mock!(aws_sdk_servicequotas::Client::list_requested_service_quota_change_history)
        .then_compute_output(|req| {
            let mut out = ListRequestedServiceQuotaChangeHistoryOutput::builder();
            if req.service_code() == Some("dynamodb") {
                // Q005 already asked for; a denied old request does not count as open.
                out = out
                    .requested_quotas(
                        RequestedServiceQuotaChange::builder()
                            .id("r-open")
                            .service_code("dynamodb")
                            .quota_code("L-34F6A552")
                            .quota_name("Account-level read throughput limit (Provisioned mode)")
                            .desired_value(360_000.0)
                            .status(RequestStatus::CaseOpened)
                            .build(),
                    )
                    .requested_quotas(
                        RequestedServiceQuotaChange::builder()
                            .id("r-old")
                            .service_code("dynamodb")
                            .quota_code("L-34F8CCC8")
                            .desired_value(100_000.0)
                            .status(RequestStatus::Denied)
                            .build(),
                    );
            }
            out.build()
        });
    let filed = mock!(aws_sdk_servicequotas::Client::request_service_quota_increase)
        .then_compute_output(|req| {
            RequestServiceQuotaIncreaseOutput::builder()
                .requested_quota(
                    RequestedServiceQuotaChange::builder()
                        .id(format!("r-{}", req.quota_code().unwrap()))
                        .quota_code(req.quota_code().unwrap())
                        .desired_value(req.desired_value().unwrap())
                        .status(RequestStatus::Pending)
                        .build(),
                )
                .build()
        });
    let m = mocked(&account, vec![history, filed]);
    let checks = live::check(&m.clients, &quotas::derive(&global))
        .await
        .unwrap();
    let short: Vec<&str> = increase::adjustable_shortfalls(&checks)
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(short, ["Q001", "Q005", "Q006"]);
    let open = increase::open_requests(&m.clients, &checks).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].code.as_str(), open[0].status.as_str()),
        ("L-34F6A552", "CASE_OPENED")
    );
    let to_file = increase::to_request(&checks, &open);
    let mut requested = Vec::new();
    for c in to_file {
        requested.push(increase::request(&m.clients, c).await.unwrap());
    }
    let summary: Vec<(String, f64)> = requested
        .iter()
        .map(|r| (r.code.clone(), r.desired))
        .collect();
    assert_eq!(
        summary,
        [
            ("L-B99A9384".to_string(), 1_000.0),
            ("L-34F8CCC8".to_string(), 480_000.0)
        ]
    );
    assert_eq!(m.rules[1].num_calls(), 2);
}
