//! The handlers that reach beyond DynamoDB, against moto_server (OTA fetch is in ota_moto.rs):
//! alerts to SNS and the webhook queue (once), command responses, presence, and
//! the REST API's failures and admin routes. Publishes are read through a recording proxy in
//! front of moto, which keeps no readable trace of them.

use crate::support::moto::Moto;
use crate::support::proxy::Proxy;
use crate::support::tables::{items, s, stack_tables};
use aws_sdk_dynamodb::types::AttributeValue;
use rmdeploy_lambdas::event::rule_output;
use rmdeploy_lambdas::{alert, api, cmd_resp, mapping, node_config, ota_status};
use serde_json::{json, Value};

struct Cloud {
    /// Kept for its lifetime: moto_server stops when it drops.
    _moto: Moto,
    proxy: Proxy,
    config: aws_config::SdkConfig,
    db: aws_sdk_dynamodb::Client,
}

impl Cloud {
    async fn start() -> Cloud {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.url);
        let config = crate::support::tables::config(&moto.url).await;
        let db = aws_sdk_dynamodb::Client::new(&config);
        stack_tables(&db).await;
        Cloud {
            _moto: moto,
            proxy,
            config,
            db,
        }
    }

    /// The data-plane client as `runtime::iot_data` makes it, pointed at the recording proxy.
    fn iot(&self) -> aws_sdk_iotdataplane::Client {
        aws_sdk_iotdataplane::Client::from_conf(
            aws_sdk_iotdataplane::config::Builder::from(&self.config)
                .endpoint_url(&self.proxy.url)
                .build(),
        )
    }

    /// (topic, payload) of every publish so far.
    fn published(&self) -> Vec<(String, Value)> {
        self.proxy.published()
    }
}

/// What the topic rule hands the function for `payload` published on `node/<node>/<suffix>`.
fn event(node: &str, suffix: &str, payload: Value, at: i64) -> Value {
    rmdeploy_lambdas::event::node_message(node, suffix, &payload, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_push_and_webhooks_once() {
    let c = Cloud::start().await;
    let sns = aws_sdk_sns::Client::new(&c.config);
    let sqs = aws_sdk_sqs::Client::new(&c.config);
    let topic = sns
        .create_topic()
        .name("push")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name("webhooks")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for (user, node) in [("u1", "n1"), ("u2", "n1"), ("u1", "n2")] {
        c.db.put_item()
            .table_name("user_nodes")
            .item("user_id", AttributeValue::S(user.into()))
            .item("node_id", AttributeValue::S(node.into()))
            .send()
            .await
            .unwrap();
    }
    let ctx = alert::Ctx {
        db: c.db.clone(),
        params_table: "node_params".into(),
        user_nodes_table: "user_nodes".into(),
        sns: Some((sns.clone(), topic)),
        sqs: Some((sqs.clone(), queue.clone())),
    };
    let raised = event(
        "n1",
        "alert",
        json!({"esp.alert.str": "Leak detected"}),
        42_000,
    );
    let out = alert::handle(&ctx, raised.clone()).await.unwrap();
    assert_eq!(
        out,
        json!({"delivered": true, "users": 2, "to": ["push", "webhooks"]})
    );
    let again = alert::handle(&ctx, raised).await.unwrap();
    assert_eq!(again["reason"], "duplicate");
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1, "delivered once: {bodies:?}");
    assert_eq!(bodies[0]["alert"], "Leak detected");
    assert_eq!(bodies[0]["users"], json!(["u1", "u2"]));
    // a node nobody is mapped to: recorded, not sent
    let lonely = alert::handle(
        &ctx,
        event("n9", "alert", json!({"esp.alert.str": "hi"}), 1),
    )
    .await
    .unwrap();
    assert_eq!(lonely["users"], 0);
    let stored: Vec<_> = items(&c.db, "node_params")
        .await
        .into_iter()
        .filter(|i| s(i, "sk").starts_with("alert#"))
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|i| i["delivered"] == AttributeValue::Bool(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_responses_and_presence_are_kept_once_and_in_order() {
    let c = Cloud::start().await;
    let mut tlv = vec![
        1, 3, b'r', b'-', b'1', 3, 1, 0, 5, 2, 0x10, 0x00, 6, 2, b'{', b'}',
    ];
    let e = rule_output("n1", "node/n1/from-node", &tlv, 5);
    let ctx = cmd_resp::Ctx {
        db: c.db.clone(),
        iot: c.iot(),
        table: "node_params".into(),
    };
    assert_eq!(
        cmd_resp::handle(&ctx, e.clone()).await.unwrap()["stored"],
        true
    );
    assert_eq!(
        cmd_resp::handle(&ctx, e).await.unwrap()["reason"],
        "duplicate"
    );
    tlv.truncate(3);
    let cut = rule_output("n1", "node/n1/from-node", &tlv, 6);
    assert_eq!(cmd_resp::handle(&ctx, cut).await.unwrap()["stored"], false);
    let stored = items(&c.db, "node_params").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            s(&stored[0], "sk"),
            s(&stored[0], "cmd"),
            s(&stored[0], "data")
        ),
        ("cmd#r-1".into(), "16".into(), "{}".into())
    );

    let presence = |kind: &str, at: i64| {
        let lifecycle = json!({"clientId": "n1", "eventType": kind, "timestamp": at});
        rule_output(
            "n1",
            &format!("$aws/events/presence/{kind}/n1"),
            lifecycle.to_string().as_bytes(),
            at + 5,
        )
    };
    node_config::handle(&c.db, "nodes", presence("connected", 2_000))
        .await
        .unwrap();
    let late = node_config::handle(&c.db, "nodes", presence("disconnected", 1_000))
        .await
        .unwrap();
    assert_eq!(late["stored"], false, "an older event does not win");
    let node = &items(&c.db, "nodes").await[0];
    assert_eq!(
        (node["connected"].clone(), s(node, "presence_at")),
        (AttributeValue::Bool(true), "2000".into())
    );
}

fn proxy_event(
    method: &str,
    path: &str,
    query: Value,
    body: Option<Value>,
    user: &str,
    groups: &str,
) -> Value {
    json!({"httpMethod": method, "path": path, "resource": path, "queryStringParameters": query,
           "body": body.map(|b| b.to_string()), "isBase64Encoded": false,
           "requestContext": {"authorizer": {"principalId": user, "groups": groups}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_failures_as_rainmaker_does_and_guards_admin_routes() {
    let c = Cloud::start().await;
    let ctx = api::Ctx {
        db: c.db.clone(),
        iot: c.iot(),
        config: c.config.clone(),
        ota_fetch: None,
        tables: api::ApiTables {
            nodes: "nodes".into(),
            params: "node_params".into(),
            jobs: "ota_jobs".into(),
            mapping: mapping::Tables {
                requests: "mapping_requests".into(),
                user_nodes: "user_nodes".into(),
            },
        },
    };
    let call = |e: Value| {
        let ctx = &ctx;
        async move {
            let r = api::handle(ctx, e).await.unwrap();
            (
                r["statusCode"].as_u64().unwrap(),
                serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
            )
        }
    };
    // someone else's node
    c.db.put_item()
        .table_name("user_nodes")
        .item("user_id", AttributeValue::S("u2".into()))
        .item("node_id", AttributeValue::S("n1".into()))
        .send()
        .await
        .unwrap();
    let (status, body) = call(proxy_event(
        "GET",
        "/v1/user/nodes/params",
        json!({"nodeid": "n1"}),
        None,
        "u1",
        "",
    ))
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["error_code"].as_u64()),
        (404, Some("failure"), Some(100_004))
    );
    // set params on a node of another user: failure for that node, nothing published
    let (status, body) = call(proxy_event(
        "PUT",
        "/v1/user/nodes/params",
        Value::Null,
        Some(json!([{"node_id": "n1", "payload": {"Light": {"Power": true}}}])),
        "u1",
        "",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["status"], "failure");
    assert!(c.published().is_empty());
    // a mapping for somebody else's user id
    let (status, _) = call(proxy_event(
        "PUT",
        "/v1/user/nodes/mapping",
        Value::Null,
        Some(json!({"user_id": "u2", "node_id": "n1", "secret_key": "x", "operation": "add"})),
        "u1",
        "",
    ))
    .await;
    assert_eq!(status, 403);
    // no user, no route, login without Cognito
    assert_eq!(
        call(proxy_event(
            "GET",
            "/v1/user/nodes",
            Value::Null,
            None,
            "",
            ""
        ))
        .await
        .0,
        401
    );
    assert_eq!(
        call(proxy_event(
            "DELETE",
            "/v1/user/nodes",
            Value::Null,
            None,
            "u1",
            ""
        ))
        .await
        .0,
        404
    );
    let (status, body) = call(proxy_event(
        "POST",
        "/v1/login2",
        Value::Null,
        Some(json!({"user_name": "a", "password": "b"})),
        "",
        "",
    ))
    .await;
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(100_005)));
    // OTA jobs: admins only; abort and list with progress
    assert_eq!(
        call(proxy_event(
            "GET",
            "/v1/admin/otajobs",
            Value::Null,
            None,
            "u1",
            ""
        ))
        .await
        .0,
        403
    );
    c.db.put_item()
        .table_name("ota_jobs")
        .item("job_id", AttributeValue::S("j1".into()))
        .item("sk", AttributeValue::S("job".into()))
        .item("project", AttributeValue::S("light".into()))
        .item("state", AttributeValue::S("active".into()))
        .send()
        .await
        .unwrap();
    // the session ota-fetch offered n1 (a status counts only for one)
    c.db.put_item()
        .table_name("ota_jobs")
        .item("job_id", AttributeValue::S("j1".into()))
        .item("sk", AttributeValue::S("node#n1".into()))
        .item("active", AttributeValue::Bool(true))
        .item("started_at", AttributeValue::N("5".into()))
        .send()
        .await
        .unwrap();
    ota_status::handle(
        &c.db,
        "ota_jobs",
        event(
            "n1",
            "otastatus",
            json!({"ota_job_id": "j1", "status": "failed"}),
            10,
        ),
    )
    .await
    .unwrap();
    let (status, body) = call(proxy_event(
        "POST",
        "/v1/admin/otajobs",
        Value::Null,
        Some(json!({"ota_job_id": "j1", "operation": "abort"})),
        "u1",
        r#"["admin"]"#,
    ))
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("aborted")));
    assert_eq!(
        call(proxy_event(
            "POST",
            "/v1/admin/otajobs",
            Value::Null,
            Some(json!({"ota_job_id": "nope", "operation": "abort"})),
            "u1",
            r#"["admin"]"#
        ))
        .await
        .0,
        404
    );
    let (_, body) = call(proxy_event(
        "GET",
        "/v1/admin/otajobs",
        Value::Null,
        None,
        "u1",
        r#"["ops","admin"]"#,
    ))
    .await;
    assert_eq!(body["ota_jobs"][0]["state"], "aborted");
    assert_eq!(
        body["ota_jobs"][0]["progress"]["by_status"],
        json!({"failed": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_login_go_through_the_user_pool() {
    let c = Cloud::start().await;
    let ctx = crate::support::tables::user_pool(&c.config).await;
    let call = |route: &str, body: Value| {
        let (ctx, e) = (
            &ctx,
            proxy_event(
                "POST",
                &format!("/v1/{route}"),
                Value::Null,
                Some(body),
                "",
                "",
            ),
        );
        async move {
            let r = rmdeploy_lambdas::auth::handle(ctx, e).await.unwrap();
            (
                r["statusCode"].as_u64().unwrap(),
                serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
            )
        }
    };
    let (status, body) = call(
        "user2",
        json!({"user_name": "ann@example.com", "password": "Secret-pass-1"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("success")),
        "{body}"
    );
    let (status, _) = call(
        "user2",
        json!({"user_name": "ann@example.com", "verification_code": "123456"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, login) = call(
        "login2",
        json!({"user_name": "ann@example.com", "password": "Secret-pass-1"}),
    )
    .await;
    assert_eq!(
        (status, login["status"].as_str()),
        (200, Some("success")),
        "{login}"
    );
    for token in ["idtoken", "accesstoken"] {
        assert_eq!(
            login[token].as_str().unwrap().split('.').count(),
            3,
            "{token} is a JWT: {login}"
        );
    }
    assert!(
        !login["refreshtoken"].as_str().unwrap().is_empty(),
        "refresh tokens are opaque"
    );
    let (status, refreshed) = call("login2", json!({"refreshtoken": login["refreshtoken"]})).await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed["accesstoken"].is_string());
    let (status, wrong) = call(
        "login2",
        json!({"user_name": "ann@example.com", "password": "nope"}),
    )
    .await;
    assert_eq!(
        (
            status,
            wrong["status"].as_str(),
            wrong["error_code"].as_u64()
        ),
        (401, Some("failure"), Some(100_006))
    );
    assert!(
        wrong["description"]
            .as_str()
            .unwrap()
            .starts_with("Login failed"),
        "{wrong}"
    );
    let (status, missing) = call("login2", json!({"user_name": "ann@example.com"})).await;
    assert_eq!(
        (status, missing["description"].as_str()),
        (400, Some("The body needs a `password` string"))
    );
}
