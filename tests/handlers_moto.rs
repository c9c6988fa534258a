//! The bundled handlers against DynamoDB in moto_server, with tables shaped as the template makes
//! them: what a device's messages store, and that a repeated (QoS 1) or older delivery changes
//! nothing.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use common::moto::Moto;
use common::tables::{items, s, stack_tables};
use rmdeploy_lambdas::{node_config, ota_status, params, ts_ingest};
use serde_json::{json, Value};

async fn client(moto: &Moto) -> Client {
    let db = Client::new(&common::tables::config(&moto.url).await);
    stack_tables(&db).await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_are_stored_once_and_older_reports_do_not_win() {
    let moto = Moto::start();
    let db = client(&moto).await;
    let report = |at: i64, power: bool| {
        json!({"Light": {"Power": power}, "node_id": "n1", "received_at": at,
               "topic": "node/n1/params/local"})
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
    assert_eq!(older["reason"], "older than the stored state");
    let all = items(&db, "node_params").await;
    assert_eq!(all.len(), 3, "two history items and the state");
    let state = all.iter().find(|i| s(i, "sk") == "state").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&s(state, "params")).unwrap(),
        json!({"Light": {"Power": true}})
    );
    let dropped = params::handle(&db, "node_params", json!("not an object"))
        .await
        .unwrap();
    assert_eq!(dropped["stored"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_config_time_series_and_ota_status_from_device_messages() {
    let moto = Moto::start();
    let db = client(&moto).await;

    let config = |at: i64, fw: &str| {
        json!({"node_id": "n1", "received_at": at, "topic": "node/n1/config",
               "config_version": "2020-03-20",
               "info": {"name": "Light", "fw_version": fw, "type": "Lightbulb", "project_name": "led_light", "platform": "esp32c3"},
               "devices": [{"name": "Light", "params": []}]})
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

    let ts = json!({"node_id": "n1", "received_at": 9, "topic": "node/n1/tsdata", "ts_data_version": "2021-09-13",
        "ts_data": [{"name": "Sensor.Temperature", "dt": "f", "records": [{"v": 21.5, "t": 100}, {"v": 21.7, "t": 160}]}]});
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
        json!({"ota_job_id": "job-1", "status": st, "additional_info": "", "ts": 1,
               "node_id": "n1", "received_at": at, "topic": "node/n1/otastatus"})
    };
    ota_status::handle(&db, "ota_jobs", status(10, "in-progress"))
        .await
        .unwrap();
    ota_status::handle(&db, "ota_jobs", status(20, "success"))
        .await
        .unwrap();
    assert_eq!(
        ota_status::handle(&db, "ota_jobs", status(20, "success"))
            .await
            .unwrap()["reason"],
        "duplicate"
    );
    ota_status::handle(&db, "ota_jobs", status(15, "in-progress"))
        .await
        .unwrap();
    let jobs = items(&db, "ota_jobs").await;
    assert_eq!(
        jobs.len(),
        4,
        "three statuses recorded and the node's latest"
    );
    let latest = jobs.iter().find(|i| s(i, "sk") == "node#n1").unwrap();
    assert_eq!(
        s(latest, "status"),
        "success",
        "an older status does not overwrite"
    );
    assert_eq!(latest["active"], AttributeValue::Bool(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_node_mapping_confirms_when_both_sides_agree_within_a_minute() {
    use rmdeploy_lambdas::mapping::{self, AppRequest, Tables};
    let moto = Moto::start();
    let db = client(&moto).await;
    let t = Tables {
        requests: "mapping_requests".into(),
        user_nodes: "user_nodes".into(),
    };
    let device = |node: &str, user: &str, secret: &str, at: i64| {
        json!({"node_id": node, "user_id": user, "secret_key": secret, "received_at": at,
               "topic": format!("node/{node}/user/mapping")})
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
        json!({"node_id": "n1", "reset": true, "received_at": 5_000_000}),
    )
    .await
    .unwrap();
    assert_eq!(reset["removed"], 2);
    assert!(mapped(db.clone(), "u1").await.is_empty());
    assert!(mapped(db.clone(), "u2").await.is_empty());
}
