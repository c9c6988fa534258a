//! The security invariants of the rendered templates that need the handlers (see
//! docs/security.md; the others are rmdeploy's tests/suite/security.rs): what AWS IoT vouches for
//! stays apart from what a node sends, through the rule and into the handler (issue 14), and the
//! events the handlers' tests are built from are what the rendered rules make.

use rmdeploy::catalog;
use serde_json::Value;

/// What a hostile node publishes: another node's id, a forged topic and time beside the fields
/// of every message (a mapping secret among them).
fn forged_payload() -> Value {
    serde_json::json!({
        "node_id": "victim", "topic": "node/victim/config", "received_at": 1,
        "user_id": "u-1", "secret_key": "PLAINTEXT-SECRET", "reset": true,
        "fw_version": "9.9.9", "devices": [], "info": {}, "ts_data": [],
        "payload": "eyJ9", "claimed_node_id": "attacker", "secret_sha256": "0".repeat(64)
    })
}

/// Issue 14, finding 1: what AWS IoT vouches for (the publisher's node id from the topic, the
/// topic, the time) never shares a namespace with what the node sends; every rule, run on a
/// payload that forges them, hands the function the true values, and the handlers refuse the
/// payload that names another node.
#[test]
fn rules_keep_the_node_id_topic_and_time_apart_from_the_payload() {
    let now = 1_764_000_000_000_i64;
    for (name, _, docs) in crate::support::every_rendering() {
        let rules = crate::support::iot_sql::rules(&docs[0]);
        assert_eq!(rules.len(), catalog::RULES.len(), "{name}");
        for (rule, sql) in rules {
            let topic = if rule == "esp_node_presence" {
                "$aws/events/presence/connected/attacker".to_string()
            } else {
                let spec = catalog::RULES.iter().find(|r| r.name == rule).unwrap();
                format!("node/attacker/{}", spec.suffix.replace('+', "group-1"))
            };
            assert!(
                crate::support::iot_sql::matches(&sql, &topic),
                "{rule}: {sql}"
            );
            let payload = serde_json::to_vec(&forged_payload()).unwrap();
            let out = crate::support::iot_sql::run(&sql, &topic, &payload, now);
            assert_eq!(out["node_id"], "attacker", "{name} {rule}: {out}");
            assert_eq!(out["topic"], topic.as_str(), "{name} {rule}: {out}");
            assert_eq!(out["received_at"], now, "{name} {rule}: {out}");
            let parsed = if rule == "esp_user_node_mapping" {
                rmdeploy_lambdas::event::RuleEvent::parse_selected(out.clone())
            } else if rule == "esp_cmd_resp" {
                rmdeploy_lambdas::event::RuleEvent::parse_bytes(out.clone())
            } else {
                rmdeploy_lambdas::event::RuleEvent::parse(out.clone())
            };
            if rule == "esp_cmd_resp" {
                let e = parsed.unwrap();
                assert_eq!((e.node_id.as_str(), e.bytes), ("attacker", payload.clone()));
            } else if rule != "esp_node_presence" {
                let err = parsed.unwrap_err();
                assert!(err.contains("victim"), "{name} {rule}: {err}");
            }
        }
    }
}

/// The events the handlers' tests are built from (`lambdas::event`) are what the rendered
/// rules make of the same message.
#[test]
fn the_handlers_tests_use_the_events_the_rules_make() {
    let (_, _, docs) = crate::support::every_rendering().remove(0);
    let sql = |rule: &str| {
        crate::support::iot_sql::rules(&docs[0])
            .into_iter()
            .find(|(r, _)| r == rule)
            .unwrap()
            .1
    };
    let config = serde_json::json!({"node_id": "n1", "info": {"fw_version": "1.0"}, "devices": []});
    assert_eq!(
        crate::support::iot_sql::run(
            &sql("esp_node_config"),
            "node/n1/config",
            &serde_json::to_vec(&config).unwrap(),
            5
        ),
        rmdeploy_lambdas::event::node_message("n1", "config", &config, 5)
    );
    let mapping = serde_json::json!({"node_id": "n1", "user_id": "u", "secret_key": "k"});
    assert_eq!(
        crate::support::iot_sql::run(
            &sql("esp_user_node_mapping"),
            "node/n1/user/mapping",
            &serde_json::to_vec(&mapping).unwrap(),
            5
        ),
        rmdeploy_lambdas::event::mapping_message("n1", &mapping, 5)
    );
}
