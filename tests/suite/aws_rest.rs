//! IoT and Lambda without their SDK crates (`rmdeploy::aws::rest`): what the SDK did for those
//! calls, the facade does too. Throttling and server errors are retried; client errors are not,
//! and keep the service's code and message; listings follow their tokens; requests are signed.

use rmdeploy::aws::AwsError;

use crate::support::answers::Answers;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn throttled_calls_are_retried_then_answered() {
    let answers = Answers::new()
        .first(2, "GET", "/endpoint", 429, r#"{"message":"Rate exceeded"}"#)
        .on(
            "GET",
            "/endpoint",
            200,
            r#"{"endpointAddress":"x-ats.iot.eu-west-1.amazonaws.com"}"#,
        );
    let iot = answers.iot("eu-west-1");
    let address = rt()
        .block_on(iot.describe_endpoint("iot:Data-ATS"))
        .unwrap();
    assert_eq!(address, "x-ats.iot.eu-west-1.amazonaws.com");
    assert_eq!(
        answers.calls("GET", "/endpoint?endpointType=iot%3AData-ATS"),
        3
    );
}

#[test]
fn client_errors_are_not_retried_and_keep_the_service_code() {
    let answers = Answers::new().on(
        "PUT",
        "/target-policies/",
        403,
        r#"{"message":"User: arn:aws:iam::1:user/ci is not authorized to perform: iot:AttachPolicy"}"#,
    );
    let iot = answers.iot("us-east-1");
    let err = rt()
        .block_on(iot.attach_policy("rainmaker-node", "arn:aws:iot:us-east-1:1:cert/ab"))
        .unwrap_err();
    assert_eq!(answers.calls("PUT", "/target-policies/rainmaker-node"), 1);
    let err = AwsError::from(err);
    let text = err.to_string();
    assert!(
        text.starts_with("AttachPolicy failed: HTTP 403: User:"),
        "{text}"
    );
    let AwsError::Call { help, .. } = err else {
        panic!("{err:?}")
    };
    assert!(help
        .unwrap()
        .contains("lack the IAM permission for AttachPolicy"));
}

#[test]
fn error_types_come_from_the_header_or_the_body_and_not_found_is_none() {
    // IoT names its errors in the body's `__type` as well as in `x-amzn-ErrorType`.
    let answers = Answers::new()
        .on(
            "GET",
            "/things/",
            404,
            r#"{"__type":"ResourceNotFoundException","message":"Thing AABB not found"}"#,
        )
        .on(
            "GET",
            "/jobs/",
            404,
            r#"{"__type":"com.amazonaws.iot#ResourceNotFoundException","message":"no job"}"#,
        );
    let iot = answers.iot("cn-north-1");
    let rt = rt();
    assert!(rt
        .block_on(iot.describe_thing("AABBCCDDEEFF"))
        .unwrap()
        .is_none());
    assert!(rt
        .block_on(iot.job_status("light-1_0_0-abc"))
        .unwrap()
        .is_none());
}

#[test]
fn listings_follow_their_tokens_and_values_are_encoded() {
    let answers = Answers::new()
        .on(
            "GET",
            "/things?thingTypeName=rainmaker-esp-node&maxResults=250&nextToken=p2%2B%2F%3D",
            200,
            r#"{"things":[{"thingName":"B","attributes":{"batch":"b1"}}]}"#,
        )
        .on(
            "GET",
            "/things?thingTypeName=rainmaker-esp-node&maxResults=250",
            200,
            r#"{"things":[{"thingName":"A","thingTypeName":"rainmaker-esp-node"}],"nextToken":"p2+/="}"#,
        );
    let iot = answers.iot("us-east-1");
    let names = rt().block_on(async {
        let mut pages = iot.list_things("rainmaker-esp-node");
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let things = rmdeploy::aws::iot::Iot::things_of(&page.unwrap()).unwrap();
            names.extend(things.into_iter().map(|t| (t.thing_name, t.attributes)));
        }
        names
    });
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0].0, "A");
    assert_eq!(names[1].1["batch"], "b1");
    assert_eq!(answers.calls("GET", "/things"), 2);
}

#[test]
fn lambda_invocations_are_queued_not_awaited() {
    let answers = Answers::new().on("POST", "/2015-03-31/functions/", 202, "");
    let lambda = answers.lambda("cn-northwest-1");
    rt().block_on(lambda.invoke_async(
        "rainmaker-ota-fetch",
        &serde_json::json!({"offer_job": "j"}),
    ))
    .unwrap();
    assert_eq!(
        answers.calls(
            "POST",
            "/2015-03-31/functions/rainmaker-ota-fetch/invocations"
        ),
        1
    );
    assert_eq!(
        answers.last_header("x-amz-invocation-type").as_deref(),
        Some("Event")
    );
    let auth = answers.last_header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/cn-northwest-1/lambda/aws4_request"),
        "{auth}"
    );
}
