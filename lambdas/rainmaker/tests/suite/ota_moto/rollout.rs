//! Rollouts that respect versions and Thread networks (issue 17, item 5), against moto_server: a
//! job goes only to nodes on an older version (compared as versions) unless it allows
//! downgrades; `max_parallel` holds per Thread network, with the nodes without a network sharing
//! the job's own limit; slots are taken by conditional writes, so function instances running at
//! once cannot exceed it.

use super::*;

/// A job of the `light` project on esp32c3 with these limits, as `rmdeploy firmware publish`
/// registers it (`allow_downgrade` from the manifest's rollout).
async fn job(c: &Cloud, id: &str, version: &str, max_parallel: i64, allow_downgrade: bool) {
    c.db.put_item()
        .table_name("ota_jobs")
        .item("job_id", AttributeValue::S(id.into()))
        .item("sk", AttributeValue::S("job".into()))
        .item("project", AttributeValue::S("light".into()))
        .item("chip", AttributeValue::S("esp32c3".into()))
        .item("fw_version", AttributeValue::S(version.into()))
        .item(
            "key",
            AttributeValue::S(format!("firmware/light/{version}.bin")),
        )
        .item("file_size", AttributeValue::N("22".into()))
        .item("created_at", AttributeValue::N("1".into()))
        .item("state", AttributeValue::S("active".into()))
        .item("allow_downgrade", AttributeValue::Bool(allow_downgrade))
        .item("max_parallel", AttributeValue::N(max_parallel.to_string()))
        .item("max_per_minute", AttributeValue::N("0".into()))
        .item("timeout_s", AttributeValue::N("600".into()))
        .send()
        .await
        .unwrap();
}

/// A light registered in the registry whose `config` reports `version`, and, for a Thread node,
/// its network as esp_rainmaker does (the `network-id` node attribute).
async fn light(c: &Cloud, node: &str, version: &str, network: Option<&str>) {
    c.register(node, LIGHT).await;
    let mut config = json!({"node_id": node, "config_version": "2020-03-20",
        "info": {"name": "Light", "fw_version": version, "type": "Lightbulb", "model": "light",
                 "project_name": "light", "platform": "esp32c3"},
        "attributes": [{"name": "cmd-resp", "value": "1"}],
        "devices": [{"name": "Light", "type": "esp.device.lightbulb", "params": []}]});
    if let Some(id) = network {
        config["attributes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "network-id", "value": id}));
    }
    let out = node_config::handle(&c.db, "nodes", event(node, "config", config, 1_000))
        .await
        .unwrap();
    assert_eq!(out["stored"], true, "{out}");
}

/// The node's MQTT connection as AWS IoT's lifecycle event reports it: the node is online.
async fn online(c: &Cloud, node: &str) {
    let payload = json!({"clientId": node, "timestamp": 2_000, "eventType": "connected"});
    let e = rmdeploy_lambdas::event::rule_output(
        node,
        &format!("$aws/events/presence/connected/{node}"),
        payload.to_string().as_bytes(),
        2_000,
    );
    let out = node_config::handle(&c.db, "nodes", e).await.unwrap();
    assert_eq!(out["stored"], true, "{out}");
}

/// `otafetch` as a Thread node sends it (with `network_id`) or a Wi-Fi node (without).
fn fetch_from(c: &Cloud, node: &str, version: &str, network: Option<&str>) -> Value {
    let mut payload = json!({"node_id": node, "fw_version": version});
    if let Some(id) = network {
        payload["network_id"] = json!(id);
    }
    event(node, "otafetch", payload, c.clock())
}

/// The nodes sent an `otaurl` so far, sorted, once each.
fn offered(c: &Cloud) -> Vec<String> {
    let mut nodes: Vec<String> = c
        .published()
        .into_iter()
        .filter_map(|(t, _)| {
            t.strip_prefix("node/")?
                .strip_suffix("/otaurl")
                .map(str::to_string)
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// POST /v1/admin/otajobs as an admin: (status, body).
async fn change_job(c: &Cloud, body: Value) -> (u64, Value) {
    let api = rmdeploy_lambdas::api::Ctx {
        db: c.db.clone(),
        iot: c.iot(),
        config: c.config.clone(),
        ota_fetch: None,
        tables: rmdeploy_lambdas::api::ApiTables {
            nodes: "nodes".into(),
            params: "node_params".into(),
            jobs: "ota_jobs".into(),
            mapping: rmdeploy_lambdas::mapping::Tables {
                requests: "mapping_requests".into(),
                user_nodes: "user_nodes".into(),
            },
        },
    };
    let answer = rmdeploy_lambdas::api::handle(
        &api,
        json!({"httpMethod": "POST", "path": "/v1/admin/otajobs", "resource": "/v1/admin/otajobs",
               "queryStringParameters": null, "body": body.to_string(), "isBase64Encoded": false,
               "requestContext": {"authorizer": {"principalId": "u1", "groups": "[\"admin\"]"}}}),
    )
    .await
    .unwrap();
    let body = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    (answer["statusCode"].as_u64().unwrap(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_node_gets_the_offer_and_an_equal_or_newer_one_does_not() {
    let c = Cloud::start().await;
    job(&c, "light-1_2_10", "1.2.10", 10, false).await;
    // as text, "1.2.9" sorts after "1.2.10" and "1.10" before "1.9": only the order of versions
    // tells the older ones
    let nodes = [
        ("older", "1.2.9"),
        ("rc", "1.2.10-rc1"),
        ("same", "1.2.10"),
        ("same-v", "v1.2.10"),
        ("newer", "1.10.0"),
        ("custom", "my-build"),
    ];
    for (node, version) in nodes {
        light(&c, node, version, None).await;
        online(&c, node).await;
    }
    // the cloud offers the job to the online nodes: the older two only
    let ctx = c.ctx();
    let round = ota_fetch::handle(&ctx, json!({"offer_job": "light-1_2_10"}))
        .await
        .unwrap();
    assert_eq!(
        (&round["read"], &round["online"], &round["offered"]),
        (&json!(5), &json!(2), &json!(2)),
        "the index leaves out the node on the job's very text; five read, two eligible: {round}"
    );
    assert_eq!(offered(&c), ["older", "rc"]);
    // the nodes asking themselves get the same verdicts
    for (node, version) in nodes {
        let out = ota_fetch::handle(&ctx, c.fetch(node, version))
            .await
            .unwrap();
        let reason = out["reason"].as_str().unwrap_or("");
        match node {
            "older" | "rc" => assert_eq!(out["answered"], true, "{node}: {out}"),
            "same" | "same-v" => assert_eq!(reason, "up to date", "{node}: {out}"),
            "newer" => assert!(reason.contains("newer than the job's"), "{out}"),
            _ => assert!(reason.contains("is not a version"), "{out}"),
        }
    }
    assert_eq!(offered(&c), ["older", "rc"], "nothing else was published");
    // a node that does not say its version is judged by its config's
    let out = ota_fetch::handle(&ctx, event("newer", "otafetch", json!({}), c.clock()))
        .await
        .unwrap();
    assert!(
        out["reason"].as_str().unwrap().contains("runs 1.10.0"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downgrade_job_reaches_newer_nodes() {
    let c = Cloud::start().await;
    job(&c, "light-rollback", "1.0.0", 10, false).await;
    for (node, version) in [
        ("n110", "1.1.0"),
        ("n200", "2.0.0"),
        ("n100", "1.0.0"),
        ("odd", "x"),
    ] {
        light(&c, node, version, None).await;
    }
    let ctx = c.ctx();
    let before = ota_fetch::handle(&ctx, c.fetch("n200", "2.0.0"))
        .await
        .unwrap();
    assert!(
        before["reason"]
            .as_str()
            .unwrap()
            .contains("does not allow downgrades"),
        "{before}"
    );
    // bad requests name the field and the fix
    let (status, body) = change_job(
        &c,
        json!({"ota_job_id": "light-rollback", "allow_downgrade": "yes"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("give true or false"),
        "{body}"
    );
    let (status, body) = change_job(&c, json!({"ota_job_id": "light-rollback"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("allow_downgrade"),
        "{body}"
    );
    let (status, body) =
        change_job(&c, json!({"ota_job_id": "nope", "allow_downgrade": true})).await;
    assert_eq!(status, 404, "{body}");
    // an admin allows the rollback
    let (status, body) = change_job(
        &c,
        json!({"ota_job_id": "light-rollback", "allow_downgrade": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["allow_downgrade"], &body["state"]),
        (&json!(true), &json!("active"))
    );
    // the function's job lookup is kept 30 s
    c.set_clock(c.clock() + ota_fetch::JOB_CACHE_MS);
    for (node, version) in [("n110", "1.1.0"), ("n200", "2.0.0"), ("odd", "x")] {
        let out = ota_fetch::handle(&ctx, c.fetch(node, version))
            .await
            .unwrap();
        assert_eq!(out["answered"], true, "{node}: {out}");
    }
    let same = ota_fetch::handle(&ctx, c.fetch("n100", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(same["reason"], "up to date", "{same}");
    assert_eq!(offered(&c), ["n110", "n200", "odd"]);
    assert!(c
        .published()
        .iter()
        .all(|(_, offer)| offer["fw_version"] == "1.0.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_networks_each_get_max_parallel_sessions_at_once_while_a_third_node_waits() {
    let c = Cloud::start().await;
    job(&c, "light-2", "2.0.0", 2, false).await;
    // network 1111 named in the nodes' configs; network 2222 only in their fetches
    let a: Vec<String> = (1..=6).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (1..=3).map(|i| format!("b{i}")).collect();
    for node in &a {
        light(&c, node, "1.0.0", Some("1111")).await;
    }
    for node in &b {
        light(&c, node, "1.0.0", None).await;
    }
    // all nine ask at once, each through its own function instance (its own caches)
    let mut asked = Vec::new();
    for node in a.iter().chain(&b) {
        let network = node.starts_with('b').then_some("2222");
        let request = fetch_from(&c, node, "1.0.0", network);
        let ctx = c.ctx();
        let node = node.clone();
        asked.push(tokio::spawn(async move {
            (node, ota_fetch::handle(&ctx, request).await.unwrap())
        }));
    }
    let mut answered: Vec<String> = Vec::new();
    for task in asked {
        let (node, out) = task.await.unwrap();
        if out["answered"] == true {
            answered.push(node);
        } else {
            let network = if node.starts_with('a') {
                "1111"
            } else {
                "2222"
            };
            assert_eq!(out["network"], network, "{node}: {out}");
            assert!(
                out["reason"].as_str().unwrap().contains(&format!(
                    "in network `{network}`, the job allows 2 at once per network"
                )),
                "{node}: {out}"
            );
        }
    }
    answered.sort();
    let in_a = answered.iter().filter(|n| n.starts_with('a')).count();
    let in_b = answered.iter().filter(|n| n.starts_with('b')).count();
    assert_eq!((in_a, in_b), (2, 2), "two per network: {answered:?}");
    assert_eq!(offered(&c), answered);
    // the slots and sessions that hold them
    let all = items(&c.db, "ota_jobs").await;
    let mut slots: Vec<String> = all
        .iter()
        .map(|i| s(i, "sk"))
        .filter(|k| k.starts_with("slot#"))
        .collect();
    slots.sort();
    assert_eq!(
        slots,
        [
            "slot#net#1111#0",
            "slot#net#1111#1",
            "slot#net#2222#0",
            "slot#net#2222#1"
        ]
    );
    for session in all.iter().filter(|i| s(i, "sk").starts_with("node#")) {
        let node = s(session, "node_id");
        let network = if node.starts_with('a') {
            "1111"
        } else {
            "2222"
        };
        assert_eq!(s(session, "network"), network);
        assert!(s(session, "slot").starts_with(&format!("slot#net#{network}#")));
    }

    // a node registered in network 2222 waits for 2222, whatever it says
    c.register(
        "p1",
        &[
            ("project_name", "light"),
            ("chip", "esp32c3"),
            ("network_id", "2222"),
        ],
    )
    .await;
    let mut config = json!({"node_id": "p1", "info": {"fw_version": "1.0.0",
        "project_name": "light", "platform": "esp32c3"},
        "attributes": [{"name": "network-id", "value": "1111"}]});
    node_config::handle(&c.db, "nodes", event("p1", "config", config.take(), 1_000))
        .await
        .unwrap();
    let ctx = c.ctx();
    let pinned = ota_fetch::handle(&ctx, fetch_from(&c, "p1", "1.0.0", Some("3333")))
        .await
        .unwrap();
    assert_eq!(
        (&pinned["answered"], &pinned["network"]),
        (&json!(false), &json!("2222")),
        "{pinned}"
    );

    // a session in 1111 ends: its slot goes to a waiting node of 1111, not of 2222
    let done = answered
        .iter()
        .find(|n| n.starts_with('a'))
        .unwrap()
        .clone();
    let out = c.report(&done, "light-2", "success", c.clock() + 1).await;
    assert_eq!(out["stored"], true, "{out}");
    let waiting_a = a.iter().find(|n| !answered.contains(n)).unwrap();
    let waiting_b = b.iter().find(|n| !answered.contains(n)).unwrap();
    let out = ota_fetch::handle(&ctx, fetch_from(&c, waiting_b, "1.0.0", Some("2222")))
        .await
        .unwrap();
    assert_eq!(out["answered"], false, "2222 is still full: {out}");
    let out = ota_fetch::handle(&ctx, fetch_from(&c, waiting_a, "1.0.0", None))
        .await
        .unwrap();
    assert_eq!(out["answered"], true, "{waiting_a}: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wifi_node_keeps_the_per_job_limit() {
    let c = Cloud::start().await;
    job(&c, "light-2", "2.0.0", 1, false).await;
    for node in ["w1", "w2"] {
        light(&c, node, "1.0.0", None).await;
    }
    light(&c, "t1", "1.0.0", Some("1111")).await;
    let ctx = c.ctx();
    let first = ota_fetch::handle(&ctx, c.fetch("w1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(first["answered"], true, "{first}");
    let second = ota_fetch::handle(&ctx, c.fetch("w2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(second["answered"], false, "{second}");
    assert_eq!(second["network"], Value::Null, "{second}");
    assert!(
        second["reason"]
            .as_str()
            .unwrap()
            .contains("without a network, the job allows 1 at once"),
        "{second}"
    );
    // a Thread node takes its own network's slot, not the Wi-Fi nodes'
    let thread = ota_fetch::handle(&ctx, c.fetch("t1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(thread["answered"], true, "{thread}");
    // w1's success frees the job's slot for w2
    c.report("w1", "light-2", "success", c.clock() + 1).await;
    c.set_clock(c.clock() + ota_fetch::SESSIONS_CACHE_MS);
    let later = ota_fetch::handle(&ctx, c.fetch("w2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(later["answered"], true, "{later}");
    assert_eq!(offered(&c), ["t1", "w1", "w2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_round_fills_each_network_and_goes_past_full_ones() {
    let c = Cloud::start().await;
    job(&c, "light-2", "2.0.0", 1, false).await;
    for (node, network) in [
        ("a1", Some("1111")),
        ("a2", Some("1111")),
        ("b1", Some("2222")),
        ("b2", Some("2222")),
        ("w1", None),
        ("w2", None),
    ] {
        light(&c, node, "1.0.0", network).await;
        online(&c, node).await;
    }
    let ctx = c.ctx();
    let round = ota_fetch::handle(&ctx, json!({"offer_job": "light-2"}))
        .await
        .unwrap();
    assert_eq!(
        (&round["offered"], &round["waiting"], &round["stopped"]),
        (&json!(3), &json!(3), &Value::Null),
        "one per network and one without: {round}"
    );
    let got = offered(&c);
    assert_eq!(got.len(), 3, "{got:?}");
    for group in ['a', 'b', 'w'] {
        assert_eq!(
            got.iter().filter(|n| n.starts_with(group)).count(),
            1,
            "{got:?}"
        );
    }
}
