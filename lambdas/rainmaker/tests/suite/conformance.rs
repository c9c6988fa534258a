//! Conformance with stock ESP RainMaker firmware (issue 15): every node message, written from the
//! firmware's own code path (`support::firmware`, each function cited), published as the firmware
//! publishes it, checked against the rendered node policy, routed by the rendered topic rules and
//! handled by the real bootstrap of the rule's function against moto_server
//! (`support::stack_cloud`). Each test asserts what is stored and what the cloud sends back to the
//! node; docs/lambdas.md has the contract table these tests stand behind.

use crate::support::firmware::{self, Message};
use crate::support::runtime_api::Answer;
use crate::support::stack_cloud::StackCloud;
use crate::support::tables::{items, s};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

const NODE: &str = "9C9E6E2A1B2C";
const USER: &str = "user-1";
const T0: i64 = 1_780_000_000_000;

fn cloud() -> StackCloud {
    StackCloud::start("global")
}

/// Publish a firmware message as `NODE` at `at`; the one rule it reaches and its answer (the
/// asynchronous invocations it leads to are delivered too, see `StackCloud::invocation_answers`).
fn send(c: &StackCloud, m: &Message, at: i64) -> (String, Value) {
    let mut answers: Vec<_> = c
        .publish(NODE, &m.topic, &m.bytes, at)
        .into_iter()
        .filter(|(rule, _)| !rule.starts_with("invoke "))
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "{} reaches one rule: {answers:?}",
        m.topic
    );
    match answers.remove(0) {
        (rule, Answer::Response(v)) => (rule, v),
        (rule, Answer::Error(e)) => panic!("{rule} failed on {}: {e}", m.topic),
    }
}

fn map_user(c: &StackCloud, user: &str, node: &str) {
    c.rt.block_on(
        c.db.put_item()
            .table_name("user_nodes")
            .item("user_id", AttributeValue::S(user.into()))
            .item("node_id", AttributeValue::S(node.into()))
            .send(),
    )
    .unwrap();
}

fn table(c: &StackCloud, name: &str) -> Vec<crate::support::tables::Item> {
    c.rt.block_on(items(&c.db, name))
}

/// A node's thing in the registry, bound to the `switch` project on esp32c3.
async fn register(c: &StackCloud, node: &str) {
    aws_sdk_iot::Client::new(&c.config)
        .create_thing()
        .thing_name(node)
        .attribute_payload(
            aws_sdk_iot::types::AttributePayload::builder()
                .attributes("project_name", "switch")
                .attributes("chip", "esp32c3")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// An active job for `switch` 1.1.0 on esp32c3, as `rmdeploy firmware publish` registers it.
async fn put_job(c: &StackCloud, job_id: &str, max_parallel: i64) {
    c.db.put_item()
        .table_name("ota_jobs")
        .item("job_id", AttributeValue::S(job_id.into()))
        .item("sk", AttributeValue::S("job".into()))
        .item("project", AttributeValue::S("switch".into()))
        .item("chip", AttributeValue::S("ESP32-C3".into()))
        .item("fw_version", AttributeValue::S("1.1.0".into()))
        .item(
            "key",
            AttributeValue::S("firmware/switch/1.1.0/image.bin".into()),
        )
        .item("file_size", AttributeValue::N("9".into()))
        .item("created_at", AttributeValue::N("1".into()))
        .item("state", AttributeValue::S("active".into()))
        .item("max_parallel", AttributeValue::N(max_parallel.to_string()))
        .item("max_per_minute", AttributeValue::N("0".into()))
        .item("timeout_s", AttributeValue::N("600".into()))
        .send()
        .await
        .unwrap();
}

#[test]
fn params_merge_from_init_through_changes_and_the_last_will_and_getparams_shows_them() {
    let c = cloud();
    map_user(&c, USER, NODE);
    let (rule, out) = send(&c, &firmware::config(NODE, "switch", "esp32c3", "1.0"), T0);
    assert_eq!(
        (rule.as_str(), &out["stored"]),
        ("esp_node_config", &json!(true))
    );
    let steps = [
        (
            firmware::init_params(
                NODE,
                &json!({"Switch": {"Name": "Switch", "Power": false}, "Connectivity": {"Connected": true}}),
            ),
            "esp_init_params",
            T0 + 1_000,
        ),
        (
            firmware::changed_params(NODE, &json!({"Switch": {"Power": true}})),
            "esp_set_params",
            T0 + 2_000,
        ),
        // back-to-back: a second change in the same millisecond is a report of its own
        (
            firmware::changed_params(NODE, &json!({"Switch": {"Name": "Hall"}})),
            "esp_set_params",
            T0 + 2_000,
        ),
        (firmware::last_will(NODE), "esp_set_params", T0 + 3_000),
    ];
    for (m, expected_rule, at) in &steps {
        let (rule, out) = send(&c, m, *at);
        assert_eq!(rule, *expected_rule);
        assert_eq!(out, json!({"stored": true}), "{}", m.topic);
    }
    let (status, body) = c.api(
        "GET",
        "user/nodes/params",
        json!({"nodeid": NODE}),
        None,
        USER,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"Switch": {"Name": "Hall", "Power": true}, "Connectivity": {"Connected": false}})
    );
    // a QoS 1 redelivery of the last change: nothing changes
    let (_, again) = send(&c, &steps[2].0, T0 + 2_000);
    assert_eq!(again["reason"], "duplicate");
    let history = table(&c, "node_params")
        .into_iter()
        .filter(|i| s(i, "sk").starts_with("hist#"))
        .count();
    assert_eq!(
        history, 4,
        "init, two changes of one millisecond, the last will"
    );

    // in a group: reports and the last will come on node/<id>/params/local/<group_id>
    let group = firmware::group_params(NODE, "g-42", &json!({"Switch": {"Power": false}}));
    let (rule, out) = send(&c, &group, T0 + 4_000);
    assert_eq!(
        (rule.as_str(), out),
        ("esp_group_params", json!({"stored": true}))
    );
    let (_, body) = c.api(
        "GET",
        "user/nodes/params",
        json!({"nodeid": NODE}),
        None,
        USER,
    );
    assert_eq!(body["Switch"], json!({"Name": "Hall", "Power": false}));

    // after a reboot, init replaces what the node no longer has
    let reboot = firmware::init_params(NODE, &json!({"Switch": {"Name": "Hall", "Power": false}}));
    send(&c, &reboot, T0 + 10_000);
    let (_, body) = c.api(
        "GET",
        "user/nodes/params",
        json!({"nodeid": NODE}),
        None,
        USER,
    );
    assert_eq!(body, json!({"Switch": {"Name": "Hall", "Power": false}}));
}

#[test]
fn a_config_without_devices_is_stored_with_none_and_names_its_node() {
    let c = cloud();
    map_user(&c, USER, "BRIDGE01");
    let m = firmware::config_without_devices("BRIDGE01");
    let answers = c.publish("BRIDGE01", &m.topic, &m.bytes, T0);
    assert_eq!(answers[0].1, Answer::Response(json!({"stored": true})));
    let (status, body) = c.api(
        "GET",
        "user/nodes/config",
        json!({"nodeid": "BRIDGE01"}),
        None,
        USER,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["devices"], &body["node_id"]),
        (&json!([]), &json!("BRIDGE01"))
    );
}

#[test]
fn alerts_and_param_notifications_reach_the_nodes_users() {
    let c = cloud();
    // the app's request is timed by the API's clock: the node answers within the minute
    let t = rmdeploy_lambdas::runtime::now_ms();
    // the legacy mapping: the app's request, then the node's report through the mapping rule
    let (status, body) = c.api(
        "PUT",
        "user/nodes/mapping",
        json!({}),
        Some(json!({"user_id": USER, "node_id": NODE, "secret_key": "s3cr3t", "operation": "add"})),
        USER,
    );
    assert_eq!(status, 200, "{body}");
    let (rule, out) = send(&c, &firmware::user_mapping(NODE, USER, "s3cr3t", true), t);
    assert_eq!(
        (rule.as_str(), &out["confirmed"]),
        ("esp_user_node_mapping", &json!(true))
    );

    let (rule, out) = send(
        &c,
        &firmware::raise_alert(NODE, "Switch was turned off"),
        t + 1,
    );
    assert_eq!(rule, "esp_node_alert");
    assert_eq!(out, json!({"delivered": true, "users": 1, "to": ["push"]}));
    // the firmware does not escape a quote in the text
    let (_, out) = send(
        &c,
        &firmware::raise_alert(NODE, r#"Door "front" open"#),
        t + 2,
    );
    assert_eq!(out["delivered"], true, "{out}");
    let (_, out) = send(
        &c,
        &firmware::param_notify(NODE, &json!({"Switch": {"Power": true}})),
        t + 3,
    );
    assert_eq!(out["delivered"], true, "{out}");
    let mut alerts: Vec<String> = table(&c, "node_params")
        .iter()
        .filter(|i| s(i, "sk").starts_with("alert#"))
        .map(|i| s(i, "alert"))
        .collect();
    alerts.sort();
    assert_eq!(
        alerts,
        [
            r#"Door "front" open"#,
            "Switch was turned off",
            r#"{"Switch":{"Power":true}}"#
        ]
    );

    // a factory reset unmaps the node
    let (_, out) = send(&c, &firmware::mapping_reset(NODE), t + 4);
    assert_eq!(out, json!({"reset": true, "removed": 1}));
}

#[test]
fn time_series_commands_and_ota_work_as_the_firmware_expects() {
    let c = cloud();
    // time series, both formats
    let (rule, out) = send(
        &c,
        &firmware::tsdata(NODE, "Sensor.Temperature", T0 / 1000, 21.5),
        T0,
    );
    assert_eq!(
        (rule.as_str(), out),
        ("esp_ts_ingest", json!({"stored": 1}))
    );
    let simple = firmware::simple_tsdata(NODE, "Sensor.Temperature", T0 / 1000 + 60, 21.7, Some(7));
    let (rule, out) = send(&c, &simple, T0 + 60_000);
    assert_eq!(
        (rule.as_str(), out),
        ("esp_simple_ts_ingest", json!({"stored": 1}))
    );
    let series = table(&c, "timeseries");
    let expiry = |t: i64| {
        series
            .iter()
            .find(|i| s(i, "ts") == format!("Sensor.Temperature#{t:012}"))
            .map(|i| s(i, "expires_at").parse::<i64>().unwrap())
            .unwrap()
    };
    assert_eq!(expiry(T0 / 1000), T0 / 1000 + 90 * 86_400);
    assert_eq!(expiry(T0 / 1000 + 60), T0 / 1000 + 60 + 7 * 86_400);

    // commands: queued while the node is away, sent when it polls, done when it answers
    let ctx = rmdeploy_lambdas::cmd_resp::Ctx {
        db: c.db.clone(),
        iot: aws_sdk_iotdataplane::Client::from_conf(
            aws_sdk_iotdataplane::config::Builder::from(&c.config)
                .endpoint_url(&c.proxy.url)
                .build(),
        ),
        table: "node_params".into(),
    };
    let command = rmdeploy_lambdas::cmd_resp::Command {
        request_id: rmdeploy_lambdas::cmd_resp::new_request_id().unwrap(),
        role: 2,
        cmd: 1,
        data: json!({"params": {"Switch": {"Power": false}}}),
    };
    let now = rmdeploy_lambdas::runtime::now_ms();
    c.rt.block_on(rmdeploy_lambdas::cmd_resp::queue(
        &ctx, NODE, &command, 3600, now,
    ))
    .unwrap();
    let to_node = |c: &StackCloud| {
        c.published()
            .into_iter()
            .filter(|(t, _)| *t == format!("node/{NODE}/to-node"))
            .map(|(_, b)| b)
            .collect::<Vec<_>>()
    };
    assert_eq!(to_node(&c).len(), 1, "sent when queued");
    for newer in [false, true] {
        let (rule, out) = send(
            &c,
            &firmware::pending_commands_poll(NODE, newer),
            now + 1_000,
        );
        assert_eq!(
            (rule.as_str(), out),
            ("esp_cmd_resp", json!({"poll": true, "sent": 1}))
        );
    }
    let sent = to_node(&c);
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|b| *b == command.to_tlv().unwrap()));
    let items = rmdeploy_lambdas::cmd_resp::tlv8(&sent[0]).unwrap();
    assert_eq!(items[0], (1, command.request_id.as_bytes().to_vec()));
    let answer = firmware::command_response(
        NODE,
        &command.request_id,
        0,
        1,
        &json!({"status": "success", "params": {"Switch": {"Power": false}}}),
    );
    let (_, out) = send(&c, &answer, now + 2_000);
    assert_eq!(out["stored"], true, "{out}");
    let (_, out) = send(
        &c,
        &firmware::pending_commands_poll(NODE, true),
        now + 3_000,
    );
    assert_eq!(out["sent"], 0, "an answered command is not sent again");

    // OTA: the registry binds the node to its project and chip; the offer's job id fits the
    // firmware's 64-byte buffer
    let job_id = format!("{}-1_1_0-0123456789ab", &"switch-".repeat(7)[..44]);
    assert_eq!(job_id.len(), rmdeploy::firmware::publish::MAX_JOB_ID);
    c.rt.block_on(async {
        register(&c, NODE).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&c.config)
                .force_path_style(true)
                .build(),
        );
        s3.put_object()
            .bucket(crate::support::stack_cloud::BUCKET)
            .key("firmware/switch/1.1.0/image.bin")
            .body(b"\xe9firmware".to_vec().into())
            .send()
            .await
            .unwrap();
        put_job(&c, &job_id, 0).await;
    });
    send(&c, &firmware::config(NODE, "switch", "esp32c3", "1.0"), now);
    let (rule, out) = send(&c, &firmware::otafetch(NODE, "1.0"), now + 4_000);
    assert_eq!(
        (rule.as_str(), &out["answered"]),
        ("esp_node_otafetch", &json!(true)),
        "{out}"
    );
    let offer: Value = c
        .published()
        .into_iter()
        .find(|(t, _)| *t == format!("node/{NODE}/otaurl"))
        .map(|(_, b)| serde_json::from_slice(&b).unwrap())
        .expect("an otaurl");
    // ota_url_handler reads ota_job_id and url (required), file_size and fw_version
    assert_eq!(offer["ota_job_id"], job_id.as_str());
    assert!(
        offer["url"].as_str().unwrap().starts_with("http"),
        "{offer}"
    );
    assert_eq!(
        (&offer["file_size"], &offer["fw_version"]),
        (&json!(9), &json!("1.1.0"))
    );
    let now = rmdeploy_lambdas::runtime::now_ms();
    for (status, at) in [("in-progress", 1_000), ("success", 2_000)] {
        let m = firmware::otastatus(NODE, &job_id, status, "", (now + at) / 1000);
        let (rule, out) = send(&c, &m, now + at);
        assert_eq!(
            (rule.as_str(), &out["stored"]),
            ("esp_node_otastatus", &json!(true)),
            "{out}"
        );
    }
}

#[test]
fn every_firmware_topic_reaches_one_rule_and_the_optional_ones_are_refused_on_purpose() {
    let c = cloud();
    let p = json!({"Switch": {"Power": true}});
    for m in [
        firmware::config(NODE, "switch", "esp32c3", "1.0"),
        firmware::init_params(NODE, &p),
        firmware::changed_params(NODE, &p),
        firmware::group_params(NODE, "g1", &p),
        firmware::last_will(NODE),
        firmware::raise_alert(NODE, "x"),
        firmware::param_notify(NODE, &p),
        firmware::tsdata(NODE, "S.T", 1, 1.0),
        firmware::simple_tsdata(NODE, "S.T", 1, 1.0, None),
        firmware::pending_commands_poll(NODE, true),
        firmware::otafetch(NODE, "1.0"),
        firmware::otastatus(NODE, "j", "success", "", 1),
        firmware::user_mapping(NODE, USER, "k", false),
    ] {
        assert!(c.policy_allows_publish(NODE, &m.topic), "{}", m.topic);
        assert_eq!(c.route(&m.topic).len(), 1, "{}", m.topic);
        // the same message on the plain topic reaches the same rule
        if let Some(plain) = m.topic.strip_prefix("$aws/rules/") {
            let plain = plain.split_once('/').unwrap().1;
            assert_eq!(c.route(plain), c.route(&m.topic), "{plain}");
        }
    }
    // a node may publish only as itself
    let other = firmware::changed_params("SOMEONE-ELSE", &p);
    assert!(!c.policy_allows_publish(NODE, &other.topic));
    // ESP Insights and MQTT OTA are off in stock firmware, and refused on purpose
    // (docs/lambdas.md): Insights is Espressif's own service; OTA goes over HTTPS.
    for m in [
        firmware::insights(NODE),
        firmware::mqtt_ota_block_request(NODE, "s1"),
    ] {
        assert!(!c.policy_allows_publish(NODE, &m.topic), "{}", m.topic);
        assert!(c.route(&m.topic).is_empty(), "{}", m.topic);
    }
}

/// AWS IoT's lifecycle event for a node's connection, as the presence rule reads it.
fn presence(c: &StackCloud, node: &str, connected: bool, at: i64) {
    let kind = if connected {
        "connected"
    } else {
        "disconnected"
    };
    let event = json!({"clientId": node, "timestamp": at, "eventType": kind,
        "sessionIdentifier": "00000000-0000-0000-0000-000000000000", "principalIdentifier": "p",
        "versionNumber": 1});
    let answers = c.deliver(
        &format!("$aws/events/presence/{kind}/{node}"),
        event.to_string().as_bytes(),
        at,
    );
    assert_eq!(
        answers[0].1,
        Answer::Response(json!({"stored": true, "connected": connected}))
    );
}

/// The nodes that got an `otaurl` so far.
fn offered(c: &StackCloud) -> Vec<String> {
    let mut nodes: Vec<String> = c
        .published()
        .into_iter()
        .filter_map(|(t, _)| {
            t.strip_suffix("/otaurl")
                .and_then(|t| t.strip_prefix("node/"))
                .map(str::to_string)
        })
        .collect();
    nodes.sort();
    nodes
}

#[test]
fn online_nodes_get_a_new_job_without_rebooting_as_slots_free() {
    let c = cloud();
    let now = rmdeploy_lambdas::runtime::now_ms();
    // a fetch before the node's config is stored fails, so that the rule's invocation is retried
    let early = firmware::otafetch("NODE-A", "1.0");
    let answers = c.publish("NODE-A", &early.topic, &early.bytes, now);
    assert!(
        matches!(&answers[0].1, Answer::Error(e) if e.to_string().contains("config")),
        "{answers:?}"
    );

    c.rt.block_on(async {
        for node in ["NODE-A", "NODE-B", "NODE-C"] {
            register(&c, node).await;
        }
    });
    // A and B are online on 1.0, C is offline, D is online but already runs 1.1
    for (node, version, online) in [
        ("NODE-A", "1.0", true),
        ("NODE-B", "1.0", true),
        ("NODE-C", "1.0", false),
        ("NODE-D", "1.1.0", true),
    ] {
        let m = firmware::config(node, "switch", "esp32c3", version);
        c.publish(node, &m.topic, &m.bytes, now);
        if online {
            presence(&c, node, true, now + 1);
        }
    }
    // `rmdeploy firmware publish` registers the job, one node at a time, and asks ota-fetch to
    // offer it (rmdeploy's tests/suite/firmware_moto.rs checks that request)
    c.rt.block_on(put_job(&c, "switch-1_1_0-0123456789ab", 1));
    let job = "switch-1_1_0-0123456789ab";
    let Answer::Response(round) = c.invoke("ota-fetch", json!({"offer_job": job})) else {
        panic!("the offer round failed")
    };
    assert_eq!(
        (&round["online"], &round["offered"]),
        (&json!(2), &json!(1)),
        "{round}"
    );
    let first = offered(&c);
    assert_eq!(first.len(), 1, "one slot: {first:?}");
    let waiting = if first[0] == "NODE-A" {
        "NODE-B"
    } else {
        "NODE-A"
    };

    // the first node updates: its slot frees, and the waiting node gets the job at once
    let now = rmdeploy_lambdas::runtime::now_ms();
    for (status, at) in [("in-progress", 10), ("success", 20)] {
        let m = firmware::otastatus(&first[0], job, status, "", (now + at) / 1000);
        let answers = c.publish(&first[0], &m.topic, &m.bytes, now + at);
        assert_eq!(
            answers[0].1,
            Answer::Response(if status == "success" {
                json!({"stored": true, "offered_online": true})
            } else {
                json!({"stored": true})
            })
        );
    }
    let rounds = c.invocation_answers();
    assert_eq!(rounds.len(), 1, "{rounds:?}");
    assert_eq!(
        rounds[0].0,
        format!("{}-ota-fetch", crate::support::stack_cloud::STACK)
    );
    let mut both = vec!["NODE-A".to_string(), "NODE-B".to_string()];
    both.sort();
    assert_eq!(
        offered(&c),
        both,
        "{waiting} was offered the job when the slot freed"
    );

    // an admin stops and resumes the rollout: the resumed job is offered again at once
    for operation in ["abort", "resume"] {
        let (status, body) = c.api_in_groups(
            "POST",
            "admin/otajobs",
            json!({}),
            Some(json!({"ota_job_id": job, "operation": operation})),
            USER,
            &["admin"],
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["offered_online"], operation == "resume", "{body}");
    }
    assert_eq!(c.invocation_answers().len(), 2);
}
