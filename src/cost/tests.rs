//! The estimate recomputed by hand from the capacity figures and the price table, line by line:
//! a wrong unit, a missing `per` or a factor of 1,000 anywhere fails here.

use serde_json::Value;

use super::prices::Price;
use crate::profile::{self, Source};

/// A small global stack: no optional feature, Cognito users, one provisioned table.
const PROFILE: &str = "\
stack_name: handcheck
region: us-east-1
lambda:
  memory_mb: 512
  log_level: warn
  log_retention_days: 14
dynamodb:
  tables:
    nodes: {mode: provisioned, read_units: 10, write_units: 20}
capacity:
  devices: 2000
  messages_per_device_per_day: 100
  peak_factor: 2
  connections_per_device_per_day: 2
  api_requests_per_device_per_day: 5
  app_users: 800
  ota_updates_per_year: 6
";

fn resolved(text: &str) -> profile::Resolved {
    let source = Source {
        name: "handcheck.yaml".into(),
        text: text.into(),
        shipped: None,
    };
    let p = profile::parse(&source).expect("the profile parses");
    profile::resolve(p, source, None).expect("the profile is valid")
}

/// us-east-1's price of `key` per single unit, read from the table file itself.
fn unit_price(key: &str) -> f64 {
    let table: Value = serde_yaml::from_str(include_str!("prices.yaml")).unwrap();
    let p: Price =
        serde_json::from_value(table["regions"]["us-east-1"]["prices"][key].clone()).unwrap();
    p.price.unwrap_or_else(|| p.tiers[0].price) / p.per
}

#[test]
fn the_estimate_of_a_small_stack_matches_a_hand_computation() {
    let r = resolved(PROFILE);
    let rendered = crate::render::render(&r, None).unwrap();
    let e = super::estimate(&r, &rendered.stack.document);
    assert_eq!(e.currency, "USD");
    assert_eq!(e.prices.region, "us-east-1");

    let days = 730.0 / 24.0;
    let devices = 2000.0;
    let per_month = |per_device_day: f64| per_device_day * devices * days;
    let gb = 1024.0_f64.powi(3);
    // Daily per device: 100 reports; per connection (2 a day): config, init, OTA fetch, two
    // presence events, five CONNECT/SUBSCRIBE; 5 app requests, one in ten publishing.
    let reports = per_month(100.0);
    let inits = per_month(2.0);
    let configs = per_month(2.0);
    let presences = per_month(4.0);
    let fetches = per_month(2.0);
    let api = per_month(5.0);
    let messages =
        reports + inits + configs + presences + fetches + per_month(2.0) * 5.0 + api * 0.1;
    let rules = reports + inits + configs + presences + fetches;

    let mut hand: Vec<(&str, f64)> = vec![
        (
            "devices connected",
            devices * 60.0 * 730.0 * unit_price("iot_connection_minutes"),
        ),
        ("MQTT messages", messages * unit_price("iot_messages")),
        ("topic rules", rules * unit_price("iot_rules_triggered")),
        ("rule actions", rules * unit_price("iot_actions_executed")),
    ];
    // Lambda at 512 MB on arm64: 5 ms plus 10 ms per AWS call; logs at warn are the 350
    // platform bytes of each invocation, kept 14 days.
    let gbs = unit_price("lambda_gb_seconds_arm64");
    for (name, count, ms) in [
        ("params", reports + inits, 25.0),
        ("node-config", configs + presences, 15.0),
        ("ota-fetch", fetches, 35.0),
        ("api", api, 25.0),
        ("auth", 800.0, 15.0),
    ] {
        hand.push((name, count * unit_price("lambda_requests")));
        hand.push((name, count * ms / 1000.0 * 0.5 * gbs));
        let log_gb = count * 350.0 / gb;
        hand.push((name, log_gb * unit_price("logs_ingestion_gb")));
        hand.push((
            name,
            log_gb * 14.0 / days * unit_price("logs_storage_gb_months"),
        ));
    }
    // DynamoDB. nodes is provisioned: 20 write and 10 read units all month, and as many for its
    // `online` index (the nodes OTA jobs are offered to).
    hand.push((
        "nodes wcu",
        2.0 * 20.0 * 730.0 * unit_price("dynamodb_wcu_hours"),
    ));
    hand.push((
        "nodes rcu",
        2.0 * 10.0 * 730.0 * unit_price("dynamodb_rcu_hours"),
    ));
    hand.push((
        "nodes storage",
        devices * 2048.0 / gb * unit_price("dynamodb_storage_gb_months"),
    ));
    // node_params: two writes a report (history and state), half a read a request.
    hand.push((
        "node_params writes",
        (reports + inits) * 2.0 * unit_price("dynamodb_write_request_units"),
    ));
    hand.push((
        "node_params reads",
        api * 0.5 * unit_price("dynamodb_read_request_units"),
    ));
    let history = devices * 400.0 + devices * 102.0 * 30.0 * 400.0;
    hand.push((
        "node_params storage",
        history / gb * unit_price("dynamodb_storage_gb_months"),
    ));
    hand.push((
        "user_nodes reads",
        api * 0.5 * unit_price("dynamodb_read_request_units"),
    ));
    hand.push((
        "user_nodes storage",
        devices * 300.0 / gb * unit_price("dynamodb_storage_gb_months"),
    ));
    // ota_jobs: each fetch reads the node's session (1 unit, consistent) and its job by key
    // (the index and the job item, half a unit each); each device's update opens a session once,
    // counting the job's sessions first (1,000 of 200 bytes, half a unit per 4 KB) and reading
    // its network's slots (1 unit, consistent), and writes three items (the slot, the session,
    // the slot freed at the end), each to the table and its index (× 2). Sessions and reports
    // (3 items a device and update, 200 bytes) stay 30 days: 6 × 30 / 365 of an update per
    // device.
    let opened = per_month(6.0 / 365.0);
    let count = (1_000.0 * 200.0 / 4096.0_f64).ceil() * 0.5 + 1.0;
    hand.push((
        "ota_jobs reads",
        (fetches * 2.0 + opened * count) * unit_price("dynamodb_read_request_units"),
    ));
    hand.push((
        "ota_jobs writes",
        opened * 3.0 * 2.0 * unit_price("dynamodb_write_request_units"),
    ));
    hand.push((
        "ota_jobs storage",
        devices * (6.0 * 30.0 / 365.0) * 3.0 * 200.0 / gb
            * unit_price("dynamodb_storage_gb_months"),
    ));
    hand.push(("api gateway", api * unit_price("apigateway_rest_requests")));
    hand.push(("cognito", 800.0 * unit_price("cognito_mau")));
    // OTA: 2 images of 1.5 MB kept; 2,000 devices × 6 updates a year ÷ 12 downloads a month.
    hand.push((
        "firmware kept",
        2.0 * 1.5 / 1024.0 * unit_price("s3_storage_gb_months"),
    ));
    hand.push(("firmware GETs", 1000.0 * unit_price("s3_get_requests")));
    hand.push((
        "firmware out",
        1000.0 * 1.5 / 1024.0 * unit_price("data_transfer_out_gb"),
    ));

    let total: f64 = hand.iter().map(|(_, v)| v).sum();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        close(e.monthly, total),
        "estimate {} vs hand {total}\n{:#?}",
        e.monthly,
        e.lines
    );
    assert_eq!(e.monthly, e.monthly_max, "no auto-scaling table");
    assert!(close(e.per_device_year, total * 12.0 / devices));
    // The lines a unit error would hit hardest, one by one.
    let line = |item: &str| {
        e.lines
            .iter()
            .find(|l| l.item == item)
            .unwrap_or_else(|| panic!("no line {item}"))
            .monthly
    };
    assert!(close(line("MQTT messages in and out"), hand[1].1));
    assert!(close(
        line("node_params write request units"),
        hand.iter().find(|h| h.0 == "node_params writes").unwrap().1
    ));
    assert!(close(
        line("nodes provisioned write units (20 × 2 with the index)"),
        2.0 * 20.0 * 730.0 * 0.00065
    ));
    assert_eq!(e.lines.len(), hand.len(), "one line per hand figure");
}

#[test]
fn tiers_charge_each_band_at_its_price() {
    let p: Price = serde_yaml::from_str(
        "{tiers: [{up_to: 1000, price: 1.0}, {up_to: 5000, price: 0.5}, {price: 0.25}], per: 100, unit: x, source: s, date: d}",
    )
    .unwrap();
    assert_eq!(p.cost(500.0), 5.0);
    assert_eq!(p.cost(1000.0), 10.0);
    // 1,000 at 1.0 + 4,000 at 0.5 + 1,000 at 0.25, per 100
    assert_eq!(p.cost(6000.0), 10.0 + 20.0 + 2.5);
}

#[test]
fn the_forty_thousand_unit_tables_cost_two_hundred_thousand_a_month() {
    let old = PROFILE.replace(
        "dynamodb:\n  tables:\n    nodes: {mode: provisioned, read_units: 10, write_units: 20}\n",
        "dynamodb:\n  default: {mode: provisioned, read_units: 40000, write_units: 40000}\n",
    );
    let r = resolved(&old);
    let rendered = crate::render::render(&r, None).unwrap();
    let e = super::estimate(&r, &rendered.stack.document);
    // Seven core tables (claims among them), the nodes, user_nodes and ota_jobs indexes:
    // 10 × 40,000 × 730 h × (0.00065 + 0.00013).
    let expected = 10.0 * 40_000.0 * 730.0 * (0.00065 + 0.00013);
    let dynamo = e.by_service["DynamoDB"];
    assert!(
        dynamo > expected && dynamo < expected * 1.05,
        "{dynamo} vs {expected}"
    );
}

#[test]
fn china_is_priced_in_yuan_and_an_unlisted_region_says_what_stood_in() {
    let china = resolved(&format!(
        "{}identity:\n  oauth2: {{issuer: https://login.example.cn, audience: api}}\n",
        PROFILE.replace("region: us-east-1", "region: cn-north-1")
    ));
    let rendered = crate::render::render(&china, None).unwrap();
    let e = super::estimate(&china, &rendered.stack.document);
    assert_eq!(e.currency, "CNY");
    assert!(e.headline().starts_with('¥'), "{}", e.headline());
    assert!(e.unpriced.iter().all(|u| !u.contains("Cognito")));

    let other = resolved(&PROFILE.replace("region: us-east-1", "region: sa-east-1"));
    let rendered = crate::render::render(&other, None).unwrap();
    let e = super::estimate(&other, &rendered.stack.document);
    assert!(!e.prices.listed);
    assert_eq!(e.prices.region, "us-east-1");
    assert!(
        e.source_line()
            .contains("sa-east-1 has no prices of its own"),
        "{}",
        e.source_line()
    );
}

#[test]
fn a_budget_below_the_estimate_is_over() {
    let r = resolved(&format!("{PROFILE}budget:\n  monthly: 5\n"));
    let rendered = crate::render::render(&r, None).unwrap();
    let e = super::estimate(&r, &rendered.stack.document);
    assert!(e.over_budget());
    let r = resolved(&format!(
        "{PROFILE}budget:\n  monthly: 1000000\n  currency: USD\n"
    ));
    let e = super::estimate(&r, &rendered.stack.document);
    assert!(!e.over_budget());
}

/// AWS WAF and Cognito threat protection, recomputed by hand as the difference they make.
#[test]
fn waf_and_threat_protection_add_their_list_prices() {
    let base = resolved(PROFILE);
    let rendered = crate::render::render(&base, None).unwrap();
    let without = super::estimate(&base, &rendered.stack.document);
    let guarded = resolved(&format!(
        "{PROFILE}api:\n  waf: {{enabled: true}}\nidentity:\n  threat_protection: enforced\n"
    ));
    let rendered = crate::render::render(&guarded, None).unwrap();
    let with = super::estimate(&guarded, &rendered.stack.document);

    // 5 app requests a device a day, 2,000 devices; two rules (all routes, sign-in routes).
    let api = 5.0 * 2000.0 * 730.0 / 24.0;
    let waf = unit_price("waf_web_acl_months")
        + 2.0 * unit_price("waf_rules_months")
        + api * unit_price("waf_requests");
    assert!((waf - (5.0 + 2.0 + api * 0.6 / 1e6)).abs() < 1e-9, "{waf}");
    // 800 users move from Essentials ($0.015) to Plus ($0.020).
    let plus = 800.0 * (unit_price("cognito_plus_mau") - unit_price("cognito_mau"));
    assert!((plus - 800.0 * 0.005).abs() < 1e-9, "{plus}");

    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        close(with.monthly - without.monthly, waf + plus),
        "{} - {} vs {}",
        with.monthly,
        without.monthly,
        waf + plus
    );
    assert!(close(with.by_service["WAF"], waf));
    assert!(!without.by_service.contains_key("WAF"));
    assert_eq!(with.lines.len(), without.lines.len() + 3, "three WAF lines");
}

/// In AWS China, WAF is priced from us-east-1's USD figures converted to CNY, and says so.
#[test]
fn china_waf_is_converted_and_said_to_be() {
    let china = resolved(&format!(
        "{}identity:\n  oauth2: {{issuer: https://login.example.cn, audience: api}}\napi:\n  waf: {{enabled: true}}\n",
        PROFILE.replace("region: us-east-1", "region: cn-north-1")
    ));
    let rendered = crate::render::render(&china, None).unwrap();
    let e = super::estimate(&china, &rendered.stack.document);
    assert_eq!(e.currency, "CNY");
    // One rule in China: the OAuth2 stack has no sign-up or login route to guard.
    let expected = 7.2 * (5.0 + 1.0);
    let fixed: f64 = e
        .lines
        .iter()
        .filter(|l| l.service == "WAF" && l.item != "API requests inspected")
        .map(|l| l.monthly)
        .sum();
    assert!((fixed - expected).abs() < 1e-9, "{fixed} vs {expected}");
    assert!(
        e.prices
            .substituted
            .iter()
            .any(|(k, v)| k.contains("waf") || v.iter().any(|x| x.contains("waf"))),
        "{:?}",
        e.prices.substituted
    );
}
