//! Real `bootstrap` executables, built by `rmdeploy build` for this machine's CPU (the x86_64
//! china profile), run against a Lambda Runtime API served on loopback by the test, with DynamoDB
//! in moto_server: a real invocation from end to end.

use crate::support::moto::Moto;
use crate::support::runtime_api::{built, start, Answer, RuntimeApi};
use serde_json::json;

#[test]
fn the_params_bootstrap_serves_real_invocations_and_pending_fails_them_by_name() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.url)
            .credentials_provider(aws_credential_types::Credentials::for_tests())
            .load()
            .await;
        use aws_sdk_dynamodb::types::*;
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .unwrap()
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        aws_sdk_dynamodb::Client::new(&config)
            .create_table()
            .table_name("node_params")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("node_id"))
            .attribute_definitions(attr("sk"))
            .key_schema(key("node_id", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .send()
            .await
            .unwrap();
    });

    let params = built("params");
    let api = RuntimeApi::start();
    let spawned = std::time::Instant::now();
    let mut child = start(
        &params,
        &api,
        &moto.url,
        "rainmaker-params",
        &[("TABLE_NODE_PARAMS", "node_params")],
    );
    // what the esp_set_params rule hands the function
    let report = rmdeploy_lambdas::event::node_message(
        "9C9E6E2A1B2C",
        "params/local",
        &json!({"Light": {"Power": true, "Brightness": 40}}),
        1_764_000_000_123,
    );
    let answer = api.invoke(report.clone());
    let cold = api.first_poll.lock().unwrap().unwrap() - spawned;
    eprintln!("params: first poll of the Runtime API {cold:?} after exec");
    assert_eq!(answer, Answer::Response(json!({"stored": true})));
    // the same delivery again (QoS 1): nothing changes
    let again = api.invoke(report);
    assert_eq!(
        again,
        Answer::Response(json!({"stored": false, "reason": "duplicate"}))
    );
    // malformed: answered, not an error (so not retried)
    let junk = api.invoke(json!("garbage"));
    assert!(
        matches!(junk, Answer::Response(ref v) if v["stored"] == false),
        "{junk:?}"
    );
    let _ = child.kill();
    let _ = child.wait();

    let pending = built("pending");
    let api = RuntimeApi::start();
    let mut child = start(&pending, &api, &moto.url, "rainmaker-ota-fetch", &[]);
    match api.invoke(json!({"node_id": "n1"})) {
        Answer::Error(e) => assert!(
            e.to_string().contains("rainmaker-ota-fetch"),
            "the error names the function: {e}"
        ),
        other => panic!("{other:?}"),
    }
    let _ = child.kill();
    let _ = child.wait();
}
