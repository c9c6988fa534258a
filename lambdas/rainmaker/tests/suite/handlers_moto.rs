//! The bundled handlers against DynamoDB in moto_server, with tables shaped as the template makes
//! them: what a device's messages store, and that a repeated (QoS 1) or older delivery changes
//! nothing.

use crate::support::moto::Moto;
use crate::support::tables::{items, s, stack_tables};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use rmdeploy_lambdas::event::{mapping_message, node_message, rule_output};
use rmdeploy_lambdas::{api, mapping, node_config, ota_status, params, ts_ingest};
use serde_json::{json, Value};

async fn client(moto: &Moto) -> Client {
    let db = Client::new(&crate::support::tables::config(&moto.url).await);
    stack_tables(&db).await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_are_stored_once_and_older_reports_do_not_win() {
    let moto = Moto::start();
    let db = client(&moto).await;
    let report = |at: i64, power: bool| {
        node_message(
            "n1",
            "params/local",
            &json!({"Light": {"Power": power}}),
            at,
        )
    };
    let first = params::handle(&db, "node_params", report(2_000, true))
        .await
        .unwrap();
    assert_eq!(first["stored"], true);
    let again = params::handle(&db, "node_params", report(2_000, true))
        .await
        .unwrap();
    assert_eq!(again["reason"], "duplicate");
    let older = params::handle(&db, "node_params", report(1_000, false))
        .await
        .unwrap();
    assert_eq!(older["reason"], "nothing newer than the stored values");
    let all = items(&db, "node_params").await;
    assert_eq!(all.len(), 3, "two history items and the state");
    let state = all.iter().find(|i| s(i, "sk") == "state").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&s(state, "params")).unwrap(),
        json!({"Light": {"Power": true}})
    );
    let dropped = params::handle(
        &db,
        "node_params",
        rule_output("n1", "node/n1/params/local", b"not an object", 3_000),
    )
    .await
    .unwrap();
    assert_eq!(dropped["stored"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_config_time_series_and_ota_status_from_device_messages() {
    let moto = Moto::start();
    let db = client(&moto).await;

    let config = |at: i64, fw: &str| {
        node_message(
            "n1",
            "config",
            &json!({"node_id": "n1", "config_version": "2020-03-20",
               "info": {"name": "Light", "fw_version": fw, "type": "Lightbulb", "project_name": "led_light", "platform": "esp32c3"},
               "devices": [{"name": "Light", "params": []}]}),
            at,
        )
    };
    assert_eq!(
        node_config::handle(&db, "nodes", config(5, "1.1.0"))
            .await
            .unwrap()["stored"],
        true
    );
    assert_eq!(
        node_config::handle(&db, "nodes", config(5, "1.1.0"))
            .await
            .unwrap()["stored"],
        false
    );
    assert_eq!(
        node_config::handle(&db, "nodes", config(3, "1.0.0"))
            .await
            .unwrap()["stored"],
        false
    );
    let nodes = items(&db, "nodes").await;
    assert_eq!(nodes.len(), 1);
    assert_eq!(s(&nodes[0], "fw_version"), "1.1.0");
    assert_eq!(s(&nodes[0], "project"), "led_light");

    let ts = node_message(
        "n1",
        "tsdata",
        &json!({"ts_data_version": "2021-09-13",
        "ts_data": [{"name": "Sensor.Temperature", "dt": "f", "records": [{"v": 21.5, "t": 100}, {"v": 21.7, "t": 160}]}]}),
        9,
    );
    assert_eq!(
        ts_ingest::handle(&db, "timeseries", ts.clone())
            .await
            .unwrap()["stored"],
        2
    );
    ts_ingest::handle(&db, "timeseries", ts).await.unwrap();
    let series = items(&db, "timeseries").await;
    assert_eq!(
        series.len(),
        2,
        "a repeated delivery rewrites the same two items"
    );
    assert!(series
        .iter()
        .any(|i| s(i, "ts") == "Sensor.Temperature#000000000160" && s(i, "v") == "21.7"));

    let status = |at: i64, st: &str| {
        node_message(
            "n1",
            "otastatus",
            &json!({"ota_job_id": "job-1", "status": st, "additional_info": "", "ts": 1}),
            at,
        )
    };
    // the session ota-fetch opened when it offered job-1 to n1
    db.put_item()
        .table_name("ota_jobs")
        .item("job_id", AttributeValue::S("job-1".into()))
        .item("sk", AttributeValue::S("node#n1".into()))
        .item("node_id", AttributeValue::S("n1".into()))
        .item("status", AttributeValue::S("offered".into()))
        .item("active", AttributeValue::Bool(true))
        .item("started_at", AttributeValue::N("5".into()))
        .item("updated_at", AttributeValue::N("5".into()))
        .send()
        .await
        .unwrap();
    let stored = |db: Client, at: i64, st: &'static str| async move {
        ota_status::handle(&db, "ota_jobs", status(at, st))
            .await
            .unwrap()["stored"]
            .clone()
    };
    assert_eq!(stored(db.clone(), 10, "in-progress").await, true);
    assert_eq!(stored(db.clone(), 20, "success").await, true);
    // a redelivered final status, and a late one after it: the session has ended, nothing is kept
    assert_eq!(stored(db.clone(), 20, "success").await, false);
    assert_eq!(stored(db.clone(), 15, "in-progress").await, false);
    let jobs = items(&db, "ota_jobs").await;
    assert_eq!(jobs.len(), 3, "the session and two statuses");
    let latest = jobs.iter().find(|i| s(i, "sk") == "node#n1").unwrap();
    assert_eq!(
        s(latest, "status"),
        "success",
        "a later delivery does not overwrite"
    );
    assert_eq!(latest["active"], AttributeValue::Bool(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_node_mapping_confirms_when_both_sides_agree_within_a_minute() {
    use rmdeploy_lambdas::mapping::{AppRequest, Tables};
    let moto = Moto::start();
    let db = client(&moto).await;
    let t = Tables {
        requests: "mapping_requests".into(),
        user_nodes: "user_nodes".into(),
    };
    let device = |node: &str, user: &str, secret: &str, at: i64| {
        mapping_message(
            node,
            &json!({"node_id": node, "user_id": user, "secret_key": secret}),
            at,
        )
    };
    let app = |id: &'static str, node: &'static str, secret: &'static str, at: i64| AppRequest {
        request_id: id,
        user: "u1",
        node,
        secret,
        add: true,
        now_ms: at,
    };
    let mapped = |db: Client, user: &'static str| async move {
        let mut nodes: Vec<String> = db
            .query()
            .table_name("user_nodes")
            .key_condition_expression("user_id = :u")
            .expression_attribute_values(":u", AttributeValue::S(user.into()))
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|i| s(i, "node_id"))
            .collect();
        nodes.sort();
        nodes
    };

    // App first, device 20 s later: confirmed.
    mapping::request(&db, &t, &app("r1", "n1", "s1", 1_000_000))
        .await
        .unwrap();
    assert_eq!(
        mapping::status(&db, &t, "u1", "r1", 1_000_500)
            .await
            .unwrap()
            .as_deref(),
        Some("requested")
    );
    let out = mapping::handle(&db, &t, device("n1", "u1", "s1", 1_020_000))
        .await
        .unwrap();
    assert_eq!(out["confirmed"], true);
    assert_eq!(
        mapping::status(&db, &t, "u1", "r1", 1_021_000)
            .await
            .unwrap()
            .as_deref(),
        Some("confirmed")
    );
    // the same report again changes nothing
    assert_eq!(
        mapping::handle(&db, &t, device("n1", "u1", "s1", 1_020_000))
            .await
            .unwrap()["confirmed"],
        true
    );

    // Device first, app 30 s later: confirmed by the app's request.
    mapping::handle(&db, &t, device("n2", "u1", "s2", 2_000_000))
        .await
        .unwrap();
    mapping::request(&db, &t, &app("r2", "n2", "s2", 2_030_000))
        .await
        .unwrap();
    assert_eq!(
        mapping::status(&db, &t, "u1", "r2", 2_031_000)
            .await
            .unwrap()
            .as_deref(),
        Some("confirmed")
    );

    // Wrong secret, and a device report after more than a minute: never confirmed, then timed out.
    mapping::request(&db, &t, &app("r3", "n3", "right", 3_000_000))
        .await
        .unwrap();
    assert_eq!(
        mapping::handle(&db, &t, device("n3", "u1", "wrong", 3_001_000))
            .await
            .unwrap()["confirmed"],
        false
    );
    assert_eq!(
        mapping::handle(&db, &t, device("n3", "u1", "right", 3_061_000))
            .await
            .unwrap()["confirmed"],
        false
    );
    assert_eq!(
        mapping::status(&db, &t, "u1", "r3", 3_062_000)
            .await
            .unwrap()
            .as_deref(),
        Some("timedout")
    );
    // another user cannot read the request
    assert_eq!(
        mapping::status(&db, &t, "u2", "r1", 1_021_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(mapped(db.clone(), "u1").await, ["n1", "n2"]);

    // Remove from the app; reset from the device removes every user of the node.
    let remove = AppRequest {
        add: false,
        ..app("r4", "n2", "", 4_000_000)
    };
    mapping::request(&db, &t, &remove).await.unwrap();
    assert_eq!(mapped(db.clone(), "u1").await, ["n1"]);
    db.put_item()
        .table_name("user_nodes")
        .item("user_id", AttributeValue::S("u2".into()))
        .item("node_id", AttributeValue::S("n1".into()))
        .send()
        .await
        .unwrap();
    let reset = mapping::handle(
        &db,
        &t,
        mapping_message(
            "n1",
            &json!({"node_id": "n1", "user_id": "esp-rmaker", "secret_key": "failed", "reset": true}),
            5_000_000,
        ),
    )
    .await
    .unwrap();
    assert_eq!(reset["removed"], 2);
    assert!(mapped(db.clone(), "u1").await.is_empty());
    assert!(mapped(db.clone(), "u2").await.is_empty());
}

/// Issue 14, findings 1 and 5: a node cannot speak for another node, and a node mapped to a new
/// user is no longer the earlier user's (the API answers 404 to them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_mapping_is_refused_and_a_new_owner_replaces_the_old() {
    use rmdeploy_lambdas::mapping::{AppRequest, Tables};
    let moto = Moto::start();
    let config = crate::support::tables::config(&moto.url).await;
    let db = Client::new(&config);
    stack_tables(&db).await;
    let t = Tables {
        requests: "mapping_requests".into(),
        user_nodes: "user_nodes".into(),
    };
    let map = |node: &'static str, user: &'static str, at: i64| {
        let (db, t) = (db.clone(), t.clone());
        async move {
            let app = AppRequest {
                request_id: Box::leak(format!("r-{user}-{at}").into_boxed_str()),
                user,
                node,
                secret: "s3cret",
                add: true,
                now_ms: at,
            };
            mapping::request(&db, &t, &app).await.unwrap();
            let report = json!({"node_id": node, "user_id": user, "secret_key": "s3cret"});
            mapping::handle(&db, &t, mapping_message(node, &report, at + 1_000))
                .await
                .unwrap()
        }
    };
    assert_eq!(map("n1", "owner", 1_000_000).await["confirmed"], true);

    // Node n9 publishes, on its own topic, a report naming n1 (with a reset, and with the
    // attacker's pending request for n1 in place): dropped, nothing stored, n1 keeps its owner.
    let attacker = AppRequest {
        request_id: "r-evil",
        user: "evil",
        node: "n1",
        secret: "x",
        add: true,
        now_ms: 2_000_000,
    };
    mapping::request(&db, &t, &attacker).await.unwrap();
    let before = items(&db, "mapping_requests").await.len();
    let forged = json!({"node_id": "n1", "user_id": "evil", "secret_key": "x", "reset": true});
    let out = mapping::handle(&db, &t, mapping_message("n9", &forged, 2_001_000))
        .await
        .unwrap();
    assert_eq!(out["stored"], false, "{out}");
    assert!(out["reason"].as_str().unwrap().contains("n1"), "{out}");
    assert_eq!(items(&db, "mapping_requests").await.len(), before);
    let owners = |db: Client| async move {
        let mut users: Vec<String> = items(&db, "user_nodes")
            .await
            .iter()
            .map(|i| format!("{}:{}", s(i, "user_id"), s(i, "node_id")))
            .collect();
        users.sort();
        users
    };
    assert_eq!(owners(db.clone()).await, ["owner:n1"]);

    // The device is given to someone else, who maps it: the earlier owner loses it.
    assert_eq!(map("n1", "buyer", 3_000_000).await["confirmed"], true);
    assert_eq!(owners(db.clone()).await, ["buyer:n1"]);
    let iot = aws_sdk_iotdataplane::Client::from_conf(
        aws_sdk_iotdataplane::config::Builder::from(&config)
            .endpoint_url(&moto.url)
            .build(),
    );
    let ctx = api::Ctx {
        db: db.clone(),
        iot,
        config: config.clone(),
        ota_fetch: None,
        tables: api::ApiTables {
            nodes: "nodes".into(),
            params: "node_params".into(),
            jobs: "ota_jobs".into(),
            mapping: t.clone(),
        },
    };
    let get = |user: &str| {
        json!({"httpMethod": "GET", "path": "/v1/user/nodes/params",
               "resource": "/v1/user/nodes/params", "queryStringParameters": {"nodeid": "n1"},
               "body": null, "isBase64Encoded": false,
               "requestContext": {"authorizer": {"principalId": user}}})
    };
    let report = json!({"Light": {"Power": true}});
    params::handle(
        &db,
        "node_params",
        node_message("n1", "params/local", &report, 3_002_000),
    )
    .await
    .unwrap();
    let old = api::handle(&ctx, get("owner")).await.unwrap();
    assert_eq!(old["statusCode"], 404, "{old}");
    let new = api::handle(&ctx, get("buyer")).await.unwrap();
    assert_eq!(new["statusCode"], 200, "{new}");
    assert_eq!(
        serde_json::from_str::<Value>(new["body"].as_str().unwrap()).unwrap(),
        report
    );
}
