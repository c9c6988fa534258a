//! Claiming (issue 17): the unmodified `esp-rainmaker-cli claim` against the stack's `claim`
//! function (the real bootstrap, its environment from the rendered template) behind an HTTP
//! front, with moto as AWS IoT; then the rules of claiming through the API: one owner per chip,
//! the same node again with a new certificate, an admin's word to claim it again, the per-user
//! rate, and what a hostile request gets.

use base64::Engine;
use serde_json::{json, Value};

use crate::support::rainmaker_cli::Cli;
use crate::support::runtime_api::Answer;
use crate::support::stack_cloud::{StackCloud, STACK};

const MAC: &str = "7CDFA1B2C3D4";

/// A token as the CLI keeps it: its payload readable with the standard and the URL-safe base64
/// alphabets alike (the CLI decodes with `b64decode`), unsigned (the HTTP front takes `sub`).
fn token(claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    for nonce in 0.. {
        let mut c = claims.clone();
        c["nonce"] = json!(nonce);
        let payload = b64.encode(c.to_string());
        if !payload.contains(['+', '/']) {
            return format!("{}.{payload}.c2ln", b64.encode(r#"{"alg":"none"}"#));
        }
    }
    unreachable!()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signing in, for these tests.
trait SignIn {
    fn sign_in(&self, base: &str, user: &str);
}

impl SignIn for Cli {
    /// A custom profile for the deployment (`profile add --base-url`), with the claim base URL
    /// the CLI reads from the profile (`claim_base_url`), signed in as `user`.
    fn sign_in(&self, base: &str, user: &str) {
        let (ok, out) = self.run(&["profile", "add", "private", "--base-url", base]);
        assert!(ok, "{out}");
        let file = self.config().join("profiles/profiles.json");
        let mut profiles: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        profiles["custom_profiles"]["private"]["claim_base_url"] = json!(format!("{base}/v1/"));
        std::fs::write(&file, profiles.to_string()).unwrap();
        let (ok, out) = self.run(&["profile", "switch", "private"]);
        assert!(ok, "{out}");
        let claims = json!({"sub": user, "custom:user_id": user, "email": "ann@example.com",
            "iat": now(), "exp": now() + 3600});
        let tokens = json!({"idtoken": token(&claims), "accesstoken": token(&claims), "refreshtoken": "unused"});
        std::fs::write(
            self.config().join("profiles/private_config.json"),
            tokens.to_string(),
        )
        .unwrap();
    }
}

/// The public key a PEM certificate certifies (the subject public key's bits).
fn certified_key(pem: &[u8]) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).expect("a PEM certificate");
    let cert = pem.parse_x509().expect("an X.509 certificate");
    cert.public_key().subject_public_key.data.to_vec()
}

/// The public key of a PEM private key, in the same form.
fn key_of(pem: &str) -> Vec<u8> {
    rcgen::KeyPair::from_pem(pem)
        .expect("a PEM private key")
        .public_key_raw()
        .to_vec()
}

/// A call of the claim function as API Gateway hands it over: (status, body).
fn call(
    cloud: &StackCloud,
    method: &str,
    path: &str,
    body: Value,
    user: &str,
    groups: &[&str],
) -> (u16, Value) {
    let event = json!({"httpMethod": method, "path": path, "resource": path,
        "queryStringParameters": null, "body": body.to_string(), "isBase64Encoded": false,
        "requestContext": {"authorizer": {"principalId": user,
            "groups": serde_json::to_string(groups).unwrap()}}});
    match cloud.invoke("claim", event) {
        Answer::Response(r) => (
            r["statusCode"].as_u64().unwrap() as u16,
            serde_json::from_str(r["body"].as_str().unwrap()).unwrap(),
        ),
        Answer::Error(e) => panic!("the claim function failed: {e}"),
    }
}

fn describe_thing(
    cloud: &StackCloud,
    thing: &str,
) -> aws_sdk_iot::operation::describe_thing::DescribeThingOutput {
    let iot = aws_sdk_iot::Client::new(&cloud.config);
    cloud
        .rt
        .block_on(iot.describe_thing().thing_name(thing).send())
        .unwrap()
}

/// (certificate id, status) of each certificate attached to a thing, and the policies of each.
fn certificates(cloud: &StackCloud, thing: &str) -> Vec<(String, String, Vec<String>)> {
    let iot = aws_sdk_iot::Client::new(&cloud.config);
    cloud.rt.block_on(async {
        let principals = iot
            .list_thing_principals()
            .thing_name(thing)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for arn in principals.principals() {
            let id = arn.rsplit('/').next().unwrap().to_string();
            let c = iot
                .describe_certificate()
                .certificate_id(&id)
                .send()
                .await
                .unwrap();
            let status = c
                .certificate_description()
                .unwrap()
                .status()
                .unwrap()
                .as_str()
                .to_string();
            let policies = iot
                .list_attached_policies()
                .target(arn)
                .send()
                .await
                .unwrap();
            let names = policies
                .policies()
                .iter()
                .filter_map(|p| p.policy_name().map(str::to_string))
                .collect();
            out.push((id, status, names));
        }
        out
    })
}

fn certificate_status(cloud: &StackCloud, id: &str) -> String {
    let iot = aws_sdk_iot::Client::new(&cloud.config);
    let c = cloud
        .rt
        .block_on(iot.describe_certificate().certificate_id(id).send())
        .unwrap();
    c.certificate_description()
        .unwrap()
        .status()
        .unwrap()
        .as_str()
        .to_string()
}

#[test]
fn the_unmodified_cli_claims_a_chip_and_gets_a_certificate_for_its_own_key_and_a_factory_image() {
    let cloud = StackCloud::start("dev");
    let cli = Cli::new();
    let out_dir = tempfile::tempdir().unwrap();
    let user = "0c1f5a7e-ann";
    let (ok, out) = cloud.with_gateway(|base| {
        cli.sign_in(base, user);
        cli.run(&[
            "claim",
            "--mac",
            MAC,
            "--platform",
            "esp32c3",
            "--outdir",
            out_dir.path().to_str().unwrap(),
        ])
    });
    // Without a serial port the CLI stops before flashing, its files written.
    assert!(
        !ok && out.contains("please provide the <port> argument"),
        "{out}"
    );
    let dir = out_dir.path().join(user).join(MAC);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}\n{out}"))
    };
    assert_eq!(read("node.info"), MAC, "the node id is the chip's MAC");
    assert!(!read("endpoint.info").is_empty());
    assert!(!read("mqtt_cred_host.info").is_empty());
    // The certificate certifies the key the CLI made (which never left the host).
    let cert = std::fs::read(dir.join("node.crt")).unwrap();
    assert_eq!(certified_key(&cert), key_of(&read("node.key")));
    let nvs = std::fs::read(dir.join(format!("{MAC}.bin"))).unwrap();
    assert_eq!(
        nvs.len(),
        0x6000,
        "the factory NVS partition the CLI generated"
    );

    // The registry: the thing in the stack's type, with the attributes OTA binds to, the
    // certificate active, with the node policy.
    let thing = describe_thing(&cloud, MAC);
    assert_eq!(
        thing.thing_type_name(),
        Some(format!("{STACK}-esp-node").as_str())
    );
    let attributes = thing.attributes().unwrap();
    assert_eq!(attributes["chip"], "esp32c3");
    assert_eq!(attributes["mac"], MAC);
    assert_eq!(attributes["claimed_by"], user);
    let certs = certificates(&cloud, MAC);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(certs[0].1, "ACTIVE");
    assert_eq!(certs[0].2, vec![format!("{STACK}-node")]);
}

/// A CSR for `cn` with a fresh P-256 key, as the CLI makes it.
fn csr(cn: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// Initiate and verify a claim of `mac` by `user`: the two answers.
fn claim(
    cloud: &StackCloud,
    user: &str,
    mac: &str,
    cn: Option<&str>,
) -> ((u16, Value), (u16, Value)) {
    let init = call(
        cloud,
        "POST",
        "/v1/claim/initiate",
        json!({"mac_addr": mac, "platform": "ESP32-C3"}),
        user,
        &[],
    );
    let node = init.1["node_id"].as_str().unwrap_or(mac).to_string();
    let verify = call(
        cloud,
        "POST",
        "/v1/claim/verify",
        json!({"csr": csr(cn.unwrap_or(&node))}),
        user,
        &[],
    );
    (init, verify)
}

#[test]
fn a_chip_is_its_claimers_until_an_admin_says_otherwise_and_each_claim_replaces_the_certificate() {
    let cloud = StackCloud::start("global");
    let (ann, bob) = ("ann-sub", "auth0|bob");

    let (init, verify) = claim(&cloud, ann, "7c:df:a1:b2:c3:d4", None);
    assert_eq!(init, (200, json!({"node_id": MAC})));
    assert_eq!(verify.0, 200, "{verify:?}");
    assert!(verify.1["certificate"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let first = certificates(&cloud, MAC);
    assert_eq!(first.len(), 1);
    let attributes = describe_thing(&cloud, MAC).attributes().unwrap().clone();
    // global binds claimed nodes to its firmware project (devices.claim_project)
    assert_eq!(attributes["project_name"], "light");
    assert_eq!(attributes["chip"], "esp32c3");

    // Claimed again by its owner: the same node, a new certificate, the old one revoked.
    let (init, verify) = claim(&cloud, ann, MAC, None);
    assert_eq!((init.0, verify.0), (200, 200), "{verify:?}");
    let second = certificates(&cloud, MAC);
    assert_eq!(
        second.len(),
        1,
        "the replaced certificate is detached: {second:?}"
    );
    assert_ne!(second[0].0, first[0].0);
    assert_eq!(second[0].1, "ACTIVE");
    assert_eq!(certificate_status(&cloud, &first[0].0), "REVOKED");

    // Another user: refused, at initiate and (without one of their own) at verify.
    let (code, body) = call(
        &cloud,
        "POST",
        "/v1/claim/initiate",
        json!({"mac_addr": MAC, "platform": "esp32c3"}),
        bob,
        &[],
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body["description"].as_str().unwrap().contains("admin"),
        "{body}"
    );
    let (code, _) = call(
        &cloud,
        "POST",
        "/v1/claim/verify",
        json!({"csr": csr(MAC)}),
        bob,
        &[],
    );
    assert_eq!(code, 404);

    // Only an admin may let bob claim it; then bob owns it, and ann is the one refused.
    let allow = json!({"mac_addr": MAC, "allow_reclaim_by": bob});
    assert_eq!(
        call(&cloud, "PUT", "/v1/admin/claims", allow.clone(), ann, &[]).0,
        403
    );
    assert_eq!(
        call(&cloud, "PUT", "/v1/admin/claims", allow, "root", &["admin"]).0,
        200
    );
    let (init, wrong) = claim(&cloud, bob, MAC, Some("AABBCCDDEEFF"));
    assert_eq!(init.0, 200);
    assert_eq!(wrong.0, 400, "a CSR for another node: {wrong:?}");
    assert!(
        wrong.1["description"].as_str().unwrap().contains(MAC),
        "{wrong:?}"
    );
    let verify = call(
        &cloud,
        "POST",
        "/v1/claim/verify",
        json!({"csr": csr(MAC)}),
        bob,
        &[],
    );
    assert_eq!(verify.0, 200, "{verify:?}");
    let attributes = describe_thing(&cloud, MAC).attributes().unwrap().clone();
    assert!(
        attributes["claimed_by"].starts_with("sha256:"),
        "`|` is no attribute character: {attributes:?}"
    );
    assert_eq!(
        call(
            &cloud,
            "POST",
            "/v1/claim/initiate",
            json!({"mac_addr": MAC, "platform": "esp32c3"}),
            ann,
            &[]
        )
        .0,
        403
    );
    assert_eq!(certificates(&cloud, MAC).len(), 1);
}

#[test]
fn hostile_claims_are_refused_with_the_reason_and_register_nothing() {
    let cloud = StackCloud::start("dev");
    let user = "mallory";
    for (body, words) in [
        (
            json!({"mac_addr": "01:00:5E:00:00:01", "platform": "esp32"}),
            "multicast",
        ),
        (
            json!({"mac_addr": "000000000000", "platform": "esp32"}),
            "null",
        ),
        (
            json!({"mac_addr": "7CDFA1B2C3", "platform": "esp32"}),
            "12 hex digits",
        ),
        (
            json!({"mac_addr": "7CDFA1B2C3D4", "platform": "esp8266"}),
            "esp32c3",
        ),
        (json!({"mac_addr": "7CDFA1B2C3D4"}), "platform"),
        (
            json!({"mac_addr": "7CDFA1B2C3D4", "platform": "esp32", "project": "../x"}),
            "project",
        ),
    ] {
        let (code, answer) = call(
            &cloud,
            "POST",
            "/v1/claim/initiate",
            body.clone(),
            user,
            &[],
        );
        assert_eq!(code, 400, "{body}: {answer}");
        assert!(
            answer["description"].as_str().unwrap().contains(words),
            "{body}: {answer}"
        );
    }
    let (code, _) = call(
        &cloud,
        "POST",
        "/v1/claim/initiate",
        json!({"mac_addr": MAC, "platform": "esp32"}),
        user,
        &[],
    );
    assert_eq!(code, 200);
    for csr_text in [
        "not a csr",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        let (code, answer) = call(
            &cloud,
            "POST",
            "/v1/claim/verify",
            json!({"csr": csr_text}),
            user,
            &[],
        );
        assert_eq!(code, 400, "{answer}");
    }
    let iot = aws_sdk_iot::Client::new(&cloud.config);
    let listed = cloud.rt.block_on(iot.list_certificates().send()).unwrap();
    assert!(
        listed.certificates().is_empty(),
        "no certificate for a refused claim"
    );
    assert!(
        cloud
            .rt
            .block_on(iot.describe_thing().thing_name(MAC).send())
            .is_err(),
        "no thing"
    );

    // The per-user rate (dev: 20 an hour, devices.claims_per_user_per_hour); other users unaffected.
    let init = |who: &str| {
        call(
            &cloud,
            "POST",
            "/v1/claim/initiate",
            json!({"mac_addr": "7CDFA1B2C3D6", "platform": "esp32"}),
            who,
            &[],
        )
        .0
    };
    let codes: Vec<u16> = (0..20).map(|_| init("spammer")).collect();
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(init("spammer"), 429);
    assert_eq!(init("someone-else"), 200);

    // No sign-in: 401; the MQTT host needs none.
    let event = json!({"httpMethod": "GET", "path": "/mqtt_host", "resource": "/mqtt_host", "requestContext": {}});
    let Answer::Response(r) = cloud.invoke("claim", event) else {
        panic!()
    };
    assert_eq!(r["statusCode"], 200);
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert!(
        body["mqtt_host"].as_str().is_some_and(|h| !h.is_empty())
            && body["mqtt_cred_host"].is_string(),
        "{body}"
    );
    let event = json!({"httpMethod": "POST", "path": "/v1/claim/initiate", "body": "{}", "requestContext": {}});
    let Answer::Response(r) = cloud.invoke("claim", event) else {
        panic!()
    };
    assert_eq!(r["statusCode"], 401);
}

/// Publish what the firmware publishes, as `node`: the rule's answer.
fn send(cloud: &StackCloud, node: &str, m: &crate::support::firmware::Message, at: i64) -> Value {
    let answers = cloud.publish(node, &m.topic, &m.bytes, at);
    match answers
        .into_iter()
        .find(|(rule, _)| !rule.starts_with("invoke "))
    {
        Some((_, Answer::Response(v))) => v,
        other => panic!("{}: {other:?}", m.topic),
    }
}

#[test]
fn a_claimed_node_speaks_the_contract_and_gets_the_firmware_of_its_claimed_project_only() {
    use crate::support::firmware;
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let cloud = StackCloud::start("global");
    let (light, liar) = (MAC, "7CDFA1B2C3D6");
    for mac in [light, liar] {
        let (_, verify) = claim(&cloud, "ann", mac, None);
        assert_eq!(verify.0, 200, "{verify:?}");
    }
    // A job for the claimed project (`light`, devices.claim_project) on esp32c3, and its image.
    let job = "light-1_1_0-0123456789ab";
    cloud.rt.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&cloud.config)
                .force_path_style(true)
                .build(),
        );
        let key = "firmware/light/1.1.0/image.bin";
        s3.put_object()
            .bucket(crate::support::stack_cloud::BUCKET)
            .key(key)
            .body(b"\xe9firmware".to_vec().into())
            .send()
            .await
            .unwrap();
        cloud
            .db
            .put_item()
            .table_name("ota_jobs")
            .item("job_id", A::S(job.into()))
            .item("sk", A::S("job".into()))
            .item("project", A::S("light".into()))
            .item("chip", A::S("esp32c3".into()))
            .item("fw_version", A::S("1.1.0".into()))
            .item("key", A::S(key.into()))
            .item("file_size", A::N("9".into()))
            .item("created_at", A::N("1".into()))
            .item("state", A::S("active".into()))
            .item("max_parallel", A::N("0".into()))
            .item("max_per_minute", A::N("0".into()))
            .item("timeout_s", A::N("600".into()))
            .send()
            .await
            .unwrap();
    });
    let now = rmdeploy_lambdas::runtime::now_ms();
    // The first config of each node is accepted; one of them claims another project.
    for (node, project) in [(light, "light"), (liar, "fan")] {
        let stored = send(
            &cloud,
            node,
            &firmware::config(node, project, "esp32c3", "1.0"),
            now,
        );
        assert_eq!(stored["stored"], true, "{node}: {stored}");
    }
    send(
        &cloud,
        light,
        &firmware::otafetch(light, "1.0"),
        now + 1_000,
    );
    send(&cloud, liar, &firmware::otafetch(liar, "1.0"), now + 1_000);
    let offers: Vec<String> = cloud
        .published()
        .into_iter()
        .filter(|(t, _)| t.ends_with("/otaurl"))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        offers,
        vec![format!("node/{light}/otaurl")],
        "only the node of the claimed project"
    );
}

#[test]
fn claiming_works_on_the_china_stack_for_an_oauth2_user() {
    // The china profile: OAuth2 users (the authorizer's principalId), its own template and
    // environment for the claim function.
    let cloud = StackCloud::start("china");
    let (init, verify) = claim(&cloud, "oidc|zhang-wei", MAC, None);
    assert_eq!((init.0, verify.0), (200, 200), "{verify:?}");
    let attributes = describe_thing(&cloud, MAC).attributes().unwrap().clone();
    assert_eq!(attributes["project_name"], "light");
    assert!(attributes["claimed_by"].starts_with("sha256:"));
    let certs = certificates(&cloud, MAC);
    assert_eq!((certs.len(), certs[0].1.as_str()), (1, "ACTIVE"));
    assert_eq!(certs[0].2, vec![format!("{STACK}-node")]);
}
