//! Table test: every kind of bad profile is refused with a message that names the file, line and
//! column and says what is allowed.

use rmdeploy::profile::{self, ProfileError, Source};

const HEAD: &str = "stack_name: demo\nregion: us-east-1\n";
const CHINA: &str = "stack_name: demo\nregion: cn-north-1\n";
const OIDC: &str = "  oauth2:\n    issuer: https://login.corp.example.org\n    audience: api\n";

struct Case {
    name: &'static str,
    yaml: String,
    region_flag: Option<&'static str>,
    /// Expected line and column of the first problem.
    at: (usize, usize),
    /// Text the message must hold.
    message: &'static str,
    /// Text the help must hold.
    help: &'static str,
}

fn case(
    name: &'static str,
    yaml: impl Into<String>,
    at: (usize, usize),
    message: &'static str,
    help: &'static str,
) -> Case {
    Case {
        name,
        yaml: yaml.into(),
        region_flag: None,
        at,
        message,
        help,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("unknown top-level key", format!("{HEAD}regoin: eu-west-1\n"), (3, 1), "unknown field `regoin`", "did you mean `region`?"),
        case("unknown nested key", format!("{HEAD}lambda:\n  memroy_mb: 512\n"), (4, 3), "lambda: unknown field `memroy_mb`", "did you mean `memory_mb`?"),
        case("wrong type", format!("{HEAD}lambda:\n  memory_mb: lots\n"), (4, 14), "lambda.memory_mb: invalid type: string \"lots\", expected i64", "give a value of the type"),
        case("wrong enum value", format!("{HEAD}lambda:\n  architecture: riscv\n"), (4, 17), "unknown variant `riscv`, expected `arm64` or `x86_64`", "one of the values"),
        case("empty file", "", (1, 1), "the profile is empty", "stack_name"),
        case("only comments", "# nothing here\n\n", (1, 1), "the profile is empty", "rmdeploy profile show"),
        case("not YAML", "stack_name: demo\n\tregion: us-east-1\n", (2, 1), "found a tab character that violates indentation, while scanning a plain scalar", "must be YAML"),
        case("not a mapping", "- a\n- b\n", (1, 1), "expected struct Profile", "mapping of keys"),
        case("missing stack name", "region: us-east-1\n", (1, 1), "missing field `stack_name`", "add the key"),
        case("concurrency zero", format!("{HEAD}lambda:\n  concurrency_target: 0\n"), (4, 23), "lambda.concurrency_target is 0; allowed: 1 to 100000", "1000"),
        case("concurrency above 100,000", format!("{HEAD}lambda:\n  concurrency_target: 100001\n"), (4, 23), "is 100001; allowed: 1 to 100000", "1000"),
        case("memory too small", format!("{HEAD}lambda:\n  memory_mb: 64\n"), (4, 14), "lambda.memory_mb is 64; allowed: 128 to 10240", "MB"),
        case("retention not allowed", format!("{HEAD}lambda:\n  log_retention_days: 10\n"), (4, 23), "CloudWatch Logs allows only 1, 3, 5, 7, 14", "nearest"),
        case("reserved leaves too little", format!("{HEAD}lambda:\n  concurrency_target: 300\n  reserved_concurrency:\n    api: 150\n    params: 100\n"), (5, 3), "adds up to 250, which leaves less than 100", "at least 350"),
        case("reserved for a function not deployed", format!("{HEAD}lambda:\n  reserved_concurrency:\n    voice: 10\n"), (5, 12), "function `voice` is not part of this stack", "voice_assistants"),
        case("negative devices", format!("{HEAD}capacity:\n  devices: -5\n"), (4, 12), "capacity.devices is -5; it must be a whole number of at least 1", "devices you expect"),
        case("zero messages", format!("{HEAD}capacity:\n  messages_per_device_per_day: 0\n"), (4, 32), "messages_per_device_per_day is 0", "1440"),
        case("peak factor below one", format!("{HEAD}capacity:\n  peak_factor: 0.5\n"), (4, 16), "capacity.peak_factor is 0.5; it must be at least 1", "peak"),
        case("zero table units", format!("{HEAD}dynamodb:\n  default:\n    mode: provisioned\n    read_units: 0\n    write_units: 5\n"), (6, 17), "dynamodb.default.read_units is 0", "quota-check --offline"),
        case("provisioned without units", format!("{HEAD}dynamodb:\n  default:\n    mode: provisioned\n"), (4, 3), "mode provisioned needs read_units: there is no default", "per-table quota, not capacity to buy"),
        case("auto scaling without maximums", format!("{HEAD}dynamodb:\n  tables:\n    nodes: {{mode: auto_scaling, min_read_units: 5}}\n"), (5, 5), "mode auto_scaling needs read_units", "the maximums"),
        case("budget of zero", format!("{HEAD}budget:\n  monthly: 0\n"), (4, 12), "budget.monthly is 0; it must be more than 0", "the most the stack may cost"),
        case("budget in the wrong currency", format!("{HEAD}budget:\n  monthly: 500\n  currency: CNY\n"), (5, 13), "budget.currency is `CNY`, but the global variant's prices are in USD", "in USD"),
        case("tracing in China", format!("{CHINA}tracing: true\nidentity:\n{OIDC}"), (3, 10), "AWS X-Ray is not available in AWS China", "remove `tracing`"),
        case("negative app requests", format!("{HEAD}capacity:\n  api_requests_per_device_per_day: -1\n"), (4, 36), "capacity.api_requests_per_device_per_day is -1", "REST requests"),
        case("units with on-demand", format!("{HEAD}dynamodb:\n  tables:\n    nodes:\n      mode: on_demand\n      write_units: 5\n"), (7, 20), "write_units has no effect with mode on_demand", "remove it"),
        case("auto scaling min above max", format!("{HEAD}dynamodb:\n  default:\n    mode: auto_scaling\n    read_units: 10\n    min_read_units: 20\n    write_units: 10\n"), (7, 21), "min_read_units is 20, above the maximum 10", "maximums"),
        case("unknown table", format!("{HEAD}dynamodb:\n  tables:\n    gadgets: {{mode: on_demand}}\n"), (5, 5), "unknown variant `gadgets`", "one of the values"),
        case("table of a feature that is off", format!("{HEAD}dynamodb:\n  tables:\n    webhooks: {{mode: on_demand}}\n"), (5, 5), "table `webhooks` is not part of this stack", "features.webhooks"),
        case("China with Cognito", format!("{CHINA}identity:\n  provider: cognito\n{OIDC}"), (4, 13), "Cognito user pools are not available in AWS China", "provider: oauth2"),
        case("China with SES email", format!("{CHINA}identity:\n  email: true\n  email_from: a@b.cn\n{OIDC}"), (4, 10), "Amazon SES email is not available in AWS China", "local email"),
        case("China with SMS OTP", format!("{CHINA}identity:\n  sms_otp: true\n{OIDC}"), (4, 12), "SMS one-time passwords through Amazon SNS are not available in AWS China", "SMS gateway"),
        case("China with push", format!("{CHINA}features:\n  push_notifications: true\nidentity:\n{OIDC}"), (4, 23), "SNS mobile push is not available in AWS China", "turn push_notifications off"),
        case("China without an issuer", format!("{CHINA}lambda:\n  memory_mb: 256\n"), (1, 1), "the identity provider is oauth2 but identity.oauth2 is missing", "issuer"),
        case("issuer not https", format!("{HEAD}identity:\n  provider: oauth2\n  oauth2:\n    issuer: http://plain.example.org\n    audience: x\n"), (6, 13), "is not an https URL", "https://"),
        case("email without sender", format!("{HEAD}identity:\n  email: true\n"), (4, 10), "identity.email_from is missing", "email_from"),
        case("pinned variant against region", "stack_name: demo\nregion: cn-north-1\nvariant: global\n", (3, 10), "variant is pinned to `global` but region `cn-north-1` (the profile's region) is in the china partition (aws-cn)", "remove `variant`"),
        Case {
            region_flag: Some("us-east-1"),
            ..case("pinned variant against --region", format!("stack_name: demo\nregion: cn-north-1\nvariant: china\nidentity:\n{OIDC}"), (3, 10), "region `us-east-1` (from --region) is in the global partition (aws)", "use a china region")
        },
        case("unknown region", "stack_name: demo\nregion: us-east-9\n", (2, 9), "region `us-east-9` is not a region rmdeploy knows", "did you mean `us-east-1`?"),
        case("GovCloud", "stack_name: demo\nregion: us-gov-west-1\n", (2, 9), "region `us-gov-west-1` is not a region rmdeploy knows", "GovCloud"),
        case("bad stack name", "stack_name: 9lives\nregion: us-east-1\n", (1, 13), "stack_name `9lives` is not allowed", "a letter"),
        case("bad stage name", format!("{HEAD}api:\n  stage_name: \"v 1\"\n"), (4, 15), "api.stage_name `v 1` is not allowed", "letters"),
        case("duplicate firmware", format!("{HEAD}firmware:\n  images:\n    - name: app\n    - name: app\n"), (6, 13), "firmware image `app` is listed twice", "once"),
        case("zero rollout rate", format!("{HEAD}firmware:\n  images:\n    - name: app\n      max_per_minute: 0\n"), (6, 23), "firmware.images[0].max_per_minute is 0", "at least 1"),
        case("number beyond 64 bits", format!("{HEAD}lambda:\n  memory_mb: 99999999999999999999999\n"), (4, 14), "lambda.memory_mb: 99999999999999999999999 is too large; allowed: 128 to 10240", "from 128 to 10240"),
        case("number just beyond 64 bits", format!("{HEAD}capacity:\n  devices: 9223372036854775808\n"), (4, 12), "is too large; allowed: 1 to 9223372036854775807", "whole number"),
        case("number far below 64 bits", format!("{HEAD}api:\n  rate_limit: -99999999999999999999999\n"), (4, 15), "api.rate_limit: -99999999999999999999999 is too small; allowed: 1 to", "whole number"),
        case("control character", format!("{HEAD}api:\n  stage_name: a{}b\n", '\u{1}'), (4, 16), "control characters are not allowed: U+0001 here", "remove the control character"),
        case("duplicate key", format!("{HEAD}lambda:\n  memory_mb: 256\n  memory_mb: 512\n"), (5, 3), "lambda: duplicate field `memory_mb` (first given at 4:3)", "keep `memory_mb` once"),
    ]
}

fn check(c: &Case) -> Result<(), String> {
    let source = Source {
        name: "bad.yaml".into(),
        text: c.yaml.clone(),
        shipped: None,
    };
    let result =
        profile::parse(&source).and_then(|p| profile::resolve(p, source.clone(), c.region_flag));
    let err = match result {
        Ok(_) => return Err("was accepted".into()),
        Err(e) => e,
    };
    let Some(first) = err.problems().first() else {
        return Err(format!("no located problem: {err}"));
    };
    let shown = first.to_string();
    let expected_prefix = format!("bad.yaml:{}:{}: ", c.at.0, c.at.1);
    if !shown.starts_with(&expected_prefix) {
        return Err(format!("expected {expected_prefix}…, got {shown}"));
    }
    if !shown.contains(c.message) {
        return Err(format!("message {shown:?} lacks {:?}", c.message));
    }
    let help = first.help.clone().unwrap_or_default();
    if !help.contains(c.help) {
        return Err(format!("help {help:?} lacks {:?}", c.help));
    }
    Ok(())
}

#[test]
fn every_bad_profile_is_refused_with_its_place_and_a_fix() {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn several_problems_are_all_reported() {
    let source = Source {
        name: "bad.yaml".into(),
        text: format!("{CHINA}lambda:\n  concurrency_target: 0\nidentity:\n  provider: cognito\n  sms_otp: true\n{OIDC}"),
        shipped: None,
    };
    let err = profile::parse(&source)
        .and_then(|p| profile::resolve(p, source.clone(), None))
        .unwrap_err();
    let lines: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with("bad.yaml:4:23: lambda.concurrency_target is 0"));
    assert!(lines[1].starts_with("bad.yaml:6:13: Cognito"));
    assert!(lines[2].starts_with("bad.yaml:7:12: SMS"));
    assert_eq!(
        err.to_string(),
        "bad.yaml is not a valid profile: 3 problems"
    );
}

#[test]
fn every_unknown_key_and_wrong_type_of_a_file_is_reported_in_one_run() {
    let source = Source {
        name: "bad.yaml".into(),
        text: format!(
            "{HEAD}lambda:\n  memroy_mb: 256\n  timeout_seconds: fast\n  reserved_concurrency:\n    api: 5\ncolour: blue\ncapacity:\n  devices: many\n"
        ),
        shipped: None,
    };
    let err = profile::parse(&source).unwrap_err();
    let lines: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].starts_with("bad.yaml:4:3: lambda: unknown field `memroy_mb`"));
    assert!(lines[1].starts_with("bad.yaml:5:20: lambda.timeout_seconds: invalid type"));
    assert!(lines[2].starts_with("bad.yaml:8:1: unknown field `colour`"));
    assert!(lines[3].starts_with("bad.yaml:10:12: capacity.devices: invalid type"));
    // A required key of the wrong type is reported once, not again as missing.
    let source = Source {
        text: "stack_name: [a]\nregion: us-east-1\nextra: 1\n".into(),
        ..source
    };
    let lines: Vec<String> = profile::parse(&source)
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("bad.yaml:1:13: stack_name: invalid type"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("bad.yaml:3:1: unknown field `extra`"),
        "{lines:#?}"
    );
}

#[test]
fn an_unknown_region_flag_names_the_flag() {
    let err = profile::load(Some("global"), Some("eu-wets-1")).unwrap_err();
    assert!(
        matches!(err, ProfileError::UnknownRegionFlag { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "region `eu-wets-1` (from --region) is not a region rmdeploy knows"
    );
}

#[test]
fn good_profiles_fill_variant_dependent_defaults() {
    let global = profile::load(Some("global"), None).unwrap();
    assert_eq!(global.architecture.as_str(), "arm64");
    assert_eq!(global.identity.as_str(), "cognito");
    let china = profile::load(None, Some("cn-northwest-1")).unwrap();
    assert_eq!(china.source.shipped.as_deref(), Some("china"));
    assert_eq!(china.region, "cn-northwest-1");
    assert_eq!(china.architecture.as_str(), "x86_64");
    assert_eq!(china.identity.as_str(), "oauth2");
    let dev = profile::load(Some("dev"), None).unwrap();
    assert_eq!(
        dev.profile.dynamodb.default.read_units, None,
        "on-demand tables have no units"
    );
    assert!(!dev.profile.termination_protection);
}

/// A file saved with a UTF-8 byte order mark (Windows Notepad) loads, and places on its first
/// line count from the character after the mark.
#[test]
fn a_utf8_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("bom.yaml");
    std::fs::write(&good, "\u{feff}stack_name: demo\nregion: eu-west-1\n").unwrap();
    let resolved = profile::load(Some(good.to_str().unwrap()), None).unwrap();
    assert_eq!(resolved.profile.stack_name, "demo");
    assert_eq!(resolved.region, "eu-west-1");

    let bad = dir.path().join("bad-bom.yaml");
    std::fs::write(&bad, "\u{feff}stack_name: 9lives\nregion: eu-west-1\n").unwrap();
    let err = profile::load(Some(bad.to_str().unwrap()), None).unwrap_err();
    let first = &err.problems()[0];
    assert_eq!((first.line, first.column), (1, 13), "{first}");
}

/// A file that is not UTF-8 is refused saying what it looks like and to save it as UTF-8, not
/// that the path may be wrong.
#[test]
fn files_that_are_not_utf8_text_say_how_to_save_them() {
    let dir = tempfile::tempdir().unwrap();
    let utf16 = dir.path().join("utf16.yaml");
    let bytes: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(
            "stack_name: demo\nregion: eu-west-1\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(&utf16, bytes).unwrap();
    let path = utf16.to_str().unwrap();
    let err = profile::load(Some(path), None).unwrap_err();
    assert!(matches!(err, ProfileError::NotText { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot read profile {path}: it is UTF-16 text, not UTF-8")
    );
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("save it as UTF-8"), "{help}");

    let missing = dir.path().join("missing.yaml");
    let err = profile::load(Some(missing.to_str().unwrap()), None).unwrap_err();
    assert!(matches!(err, ProfileError::Read { .. }), "{err:?}");
}

/// Duplicate keys are refused where given again, in a section (serde) or a map.
#[test]
fn duplicate_keys_point_at_the_second_one() {
    for (text, at, message) in [
        (
            format!("{HEAD}region: eu-west-1\n"),
            (3, 1),
            "duplicate field `region` (first given at 2:1)",
        ),
        (
            format!("{HEAD}lambda:\n  concurrency_target: 1000\n  reserved_concurrency:\n    params: 10\n    params: 20\n"),
            (7, 5),
            "lambda.reserved_concurrency: duplicate key `params` (first given at 6:5)",
        ),
    ] {
        let source = Source {
            name: "bad.yaml".into(),
            text,
            shipped: None,
        };
        let err = profile::parse(&source).unwrap_err();
        let first = &err.problems()[0];
        assert_eq!((first.line, first.column), at, "{first}");
        assert!(first.message.contains(message), "{first}");
        assert!(first.help.as_deref().unwrap_or_default().contains("once"), "{first:?}");
    }
}
