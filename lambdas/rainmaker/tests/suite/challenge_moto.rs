//! Challenge-response user-node mapping, the default of stock ESP RainMaker firmware since 1.8.5,
//! through the `api` handler against moto_server: DynamoDB for the requests and mappings, and the
//! IoT registry for the node's certificate (`ListThingPrincipals`, `DescribeCertificate`, signed
//! GETs from `registry.rs`).
//!
//! Nodes are made as claiming leaves them: a thing named by the node id with an ACTIVE
//! certificate attached. moto's `CreateKeysAndCertificate` returns a real RSA-2048 key (PKCS#1
//! PEM) and an X.509 certificate holding its public key, so the test signs with the key exactly
//! as the firmware signs with its MQTT client key.

use crate::support::moto::Moto;
use crate::support::tables::{items, s, stack_tables};
use aws_sdk_dynamodb::types::AttributeValue;
use ring::signature::{RsaKeyPair, RSA_PSS_SHA256};
use rmdeploy_lambdas::{api, mapping};
use serde_json::{json, Value};

struct Cloud {
    /// Kept for its lifetime: moto_server stops when it drops.
    _moto: Moto,
    config: aws_config::SdkConfig,
    db: aws_sdk_dynamodb::Client,
    iot: aws_sdk_iot::Client,
}

/// A node's MQTT client key, as claiming gives it to the device.
struct NodeKey(RsaKeyPair);

impl NodeKey {
    /// The key of a certificate moto made (`-----BEGIN RSA PRIVATE KEY-----`, PKCS#1).
    fn from_pem(pem: &str) -> NodeKey {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        NodeKey(RsaKeyPair::from_der(&der).expect("moto makes a PKCS#1 RSA key"))
    }

    /// What the device answers a challenge, as the app sends it on: espressif/esp-rainmaker
    /// `components/esp_rainmaker/src/core/esp_rmaker_node_auth.c`, `esp_rmaker_node_auth_sign_msg`
    /// hashes exactly the challenge's bytes with SHA-256 and signs with
    /// `mbedtls_rsa_rsassa_pss_sign` (MBEDTLS_RSA_PKCS_V21, MGF1-SHA-256, salt of the hash's
    /// 32 bytes; ring's `RSA_PSS_SHA256` is the same); esp-rainmaker-cli
    /// `rmaker_tools/rmaker_prov/challenge_response.py` `verify_challenge_response` sends the
    /// signature as `challenge_response_bytes.hex().lower()`.
    fn answer(&self, challenge: &str) -> String {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PSS_SHA256,
                &ring::rand::SystemRandom::new(),
                challenge.as_bytes(),
                &mut signature,
            )
            .unwrap();
        signature.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Cloud {
    async fn start() -> Cloud {
        let moto = Moto::start();
        let config = crate::support::tables::config(&moto.url).await;
        let db = aws_sdk_dynamodb::Client::new(&config);
        stack_tables(&db).await;
        let iot = aws_sdk_iot::Client::new(&config);
        Cloud {
            _moto: moto,
            config,
            db,
            iot,
        }
    }

    /// The api function's context, as `bin/api.rs` makes it.
    fn api(&self) -> api::Ctx {
        api::Ctx {
            db: self.db.clone(),
            iot: aws_sdk_iotdataplane::Client::new(&self.config),
            config: self.config.clone(),
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
        }
    }

    /// A certificate and its key from moto (`CreateKeysAndCertificate`): (certificate ARN, key).
    async fn certificate(&self, active: bool) -> (String, NodeKey) {
        let made = self
            .iot
            .create_keys_and_certificate()
            .set_as_active(active)
            .send()
            .await
            .unwrap();
        let pem = made.key_pair().unwrap().private_key().unwrap();
        (
            made.certificate_arn().unwrap().to_string(),
            NodeKey::from_pem(pem),
        )
    }

    /// A node as claiming leaves it (esp-rainmaker `esp_rmaker_claim.c`: the device gets a
    /// certificate for its MQTT client key, and the cloud registers the node's thing with that
    /// certificate attached): the thing, an ACTIVE certificate attached to it, and the key.
    async fn claimed_node(&self, node: &str) -> NodeKey {
        self.iot
            .create_thing()
            .thing_name(node)
            .send()
            .await
            .unwrap();
        let (arn, key) = self.certificate(true).await;
        self.iot
            .attach_thing_principal()
            .thing_name(node)
            .principal(arn)
            .send()
            .await
            .unwrap();
        key
    }

    /// An API call as API Gateway's proxy integration hands it over: (status, body).
    async fn call(&self, user: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let query: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let method = if path.contains("/mapping/") {
            "POST"
        } else {
            "GET"
        };
        let event = json!({"httpMethod": method, "path": format!("/v1/{path}"),
            "resource": format!("/v1/{path}"), "queryStringParameters": query,
            "body": body, "isBase64Encoded": false,
            "requestContext": {"authorizer": {"principalId": user}}});
        let answer = api::handle(&self.api(), event).await.unwrap();
        let status = answer["statusCode"].as_u64().unwrap() as u16;
        let body = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        (status, body)
    }

    /// `POST user/nodes/mapping/initiate` with the iOS app's request (`User.initiateMapping`:
    /// no body): (request id, challenge).
    async fn initiate(&self, user: &str) -> (String, String) {
        let (status, body) = self.call(user, "user/nodes/mapping/initiate", None).await;
        assert_eq!(status, 200, "{body}");
        let answer = body.as_object().unwrap();
        // every value a string: iOS decodes the answer as [String: String]
        assert!(answer.values().all(Value::is_string), "{body}");
        (
            body["request_id"].as_str().unwrap().to_string(),
            body["challenge"].as_str().unwrap().to_string(),
        )
    }

    /// `POST user/nodes/mapping/verify` as esp-rainmaker-cli sends it.
    async fn verify(&self, user: &str, request_id: &str, node: &str, hex: &str) -> (u16, Value) {
        let body = json!({"request_id": request_id, "node_id": node, "challenge_response": hex});
        self.call(user, "user/nodes/mapping/verify", Some(&body.to_string()))
            .await
    }

    /// The (user, node) pairs of `user_nodes`, sorted.
    async fn mappings(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = items(&self.db, "user_nodes")
            .await
            .iter()
            .map(|i| (s(i, "user_id"), s(i, "node_id")))
            .collect();
        pairs.sort();
        pairs
    }

    /// The stored request `chal#<id>`.
    async fn request(&self, id: &str) -> crate::support::tables::Item {
        self.db
            .get_item()
            .table_name("mapping_requests")
            .key("request_id", AttributeValue::S(format!("chal#{id}")))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }
}

fn description(body: &Value) -> &str {
    body["description"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_signs_the_challenge_is_mapped_to_its_user_once() {
    let c = Cloud::start().await;
    let key = c.claimed_node("n1").await;
    let (id, challenge) = c.initiate("u1").await;
    assert_eq!(challenge.len(), 64, "{challenge}");
    let answer = key.answer(&challenge);
    assert_eq!(answer.len(), 512, "an RSA-2048 signature in hex");
    let (status, body) = c.verify("u1", &id, "n1", &answer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    assert!(body["description"].is_string(), "{body}");
    // mapped at once: the apps do not poll after verifying
    assert_eq!(c.mappings().await, [("u1".into(), "n1".into())]);
    let (status, nodes) = c.call("u1", "user/nodes", None).await;
    assert_eq!((status, nodes["nodes"].clone()), (200, json!(["n1"])));
    let stored = c.request(&id).await;
    assert_eq!(stored["used"], AttributeValue::Bool(true));
    assert_eq!(s(&stored, "status"), "confirmed");
    assert_eq!(s(&stored, "node_id"), "n1");
    // the same answer again: the request is used
    let (status, body) = c.verify("u1", &id, "n1", &answer).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], 100_001);
    assert!(description(&body).contains("already"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_takes_the_bodies_the_apps_send_and_keeps_the_timeout_in_bounds() {
    let c = Cloud::start().await;
    // esp-rainmaker-cli `initiate_challenge_mapping`: {"timeout": 360}; Android: {} or a timeout
    for (body, seconds) in [
        (Some(r#"{"timeout": 360}"#), 360),
        (Some("{}"), 360),
        (None, 360),
        (Some(r#"{"timeout": 5}"#), 60),
        (Some(r#"{"timeout": 86400}"#), 3600),
    ] {
        let (status, answer) = c.call("u1", "user/nodes/mapping/initiate", body).await;
        assert_eq!(status, 200, "{answer}");
        let stored = c.request(answer["request_id"].as_str().unwrap()).await;
        let created: i64 = s(&stored, "created_at").parse().unwrap();
        let deadline: i64 = s(&stored, "deadline").parse().unwrap();
        assert_eq!(deadline - created, seconds * 1000, "{body:?}");
        let expires: i64 = s(&stored, "expires_at").parse().unwrap();
        assert!(expires > deadline / 1000, "the TTL is after the deadline");
        assert_eq!(s(&stored, "user_id"), "u1");
        assert_eq!(
            s(&stored, "challenge"),
            answer["challenge"].as_str().unwrap()
        );
        assert_eq!(stored["used"], AttributeValue::Bool(false));
    }
    let (status, body) = c
        .call(
            "u1",
            "user/nodes/mapping/initiate",
            Some(r#"{"timeout": "x"}"#),
        )
        .await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(100_001)));
    // no user, no challenge
    let event = json!({"httpMethod": "POST", "path": "/v1/user/nodes/mapping/initiate",
        "body": null, "requestContext": {}});
    let answer = api::handle(&c.api(), event).await.unwrap();
    assert_eq!(answer["statusCode"], 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_its_users_own_until_its_deadline() {
    let c = Cloud::start().await;
    let key = c.claimed_node("n1").await;
    let (id, challenge) = c.initiate("u1").await;
    let answer = key.answer(&challenge);
    // another user with u1's request id: as unknown as a made-up id, and u1's stays usable
    let (status, theirs) = c.verify("u2", &id, "n1", &answer).await;
    assert_eq!(status, 404, "{theirs}");
    assert_eq!(theirs["error_code"], 100_004);
    let (status, made_up) = c.verify("u2", "no-such-request", "n1", &answer).await;
    assert_eq!(status, 404, "{made_up}");
    assert_eq!(
        description(&theirs).replace(&id, "ID"),
        description(&made_up).replace("no-such-request", "ID")
    );
    assert!(c.mappings().await.is_empty());
    // past its deadline: unknown too
    let (late, late_challenge) = c.initiate("u1").await;
    c.db.update_item()
        .table_name("mapping_requests")
        .key("request_id", AttributeValue::S(format!("chal#{late}")))
        .update_expression("SET deadline = :d")
        .expression_attribute_values(":d", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let (status, body) = c
        .verify("u1", &late, "n1", &key.answer(&late_challenge))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(c.mappings().await.is_empty());
    // bad bodies
    for bad in [
        json!({"request_id": id, "node_id": "n1", "challenge_response": "xyz"}),
        json!({"request_id": id, "node_id": "n1"}),
        json!({"request_id": id, "challenge_response": answer}),
    ] {
        let (status, body) = c
            .call("u1", "user/nodes/mapping/verify", Some(&bad.to_string()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // u1 still answers its own request (one SDK adds a group_id: ignored)
    let body = json!({"request_id": id, "node_id": "n1", "challenge_response": answer,
        "group_id": "g1"});
    let (status, body) = c
        .call("u1", "user/nodes/mapping/verify", Some(&body.to_string()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(c.mappings().await, [("u1".into(), "n1".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_by_another_key_maps_nothing_and_uses_the_request() {
    let c = Cloud::start().await;
    let key = c.claimed_node("n1").await;
    // the key of another node (its own certificate, attached to its own thing)
    let other = c.claimed_node("n2").await;
    let (id, challenge) = c.initiate("u1").await;
    let (status, body) = c.verify("u1", &id, "n1", &other.answer(&challenge)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error_code"], 100_003);
    assert!(description(&body).contains("n1"), "{body}");
    assert!(c.mappings().await.is_empty());
    // the request is spent: the right answer now needs a new challenge
    let (status, body) = c.verify("u1", &id, "n1", &key.answer(&challenge)).await;
    assert_eq!(status, 400, "{body}");
    // a signature over another challenge
    let (id, _) = c.initiate("u1").await;
    let (_, older) = c.initiate("u1").await;
    let (status, _) = c.verify("u1", &id, "n1", &key.answer(&older)).await;
    assert_eq!(status, 403);
    // n1's own answer, claimed to be n2's
    let (id, challenge_2) = c.initiate("u1").await;
    let (status, _) = c.verify("u1", &id, "n2", &key.answer(&challenge_2)).await;
    assert_eq!(status, 403);
    assert!(c.mappings().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_an_active_certificate_is_refused() {
    let c = Cloud::start().await;
    // a thing with no certificate, one whose only certificate is INACTIVE, and no thing at all
    c.iot
        .create_thing()
        .thing_name("bare")
        .send()
        .await
        .unwrap();
    c.iot
        .create_thing()
        .thing_name("revoked")
        .send()
        .await
        .unwrap();
    let (arn, revoked_key) = c.certificate(false).await;
    c.iot
        .attach_thing_principal()
        .thing_name("revoked")
        .principal(arn)
        .send()
        .await
        .unwrap();
    for (node, key) in [
        ("bare", None),
        ("revoked", Some(&revoked_key)),
        ("unregistered", None),
    ] {
        let (id, challenge) = c.initiate("u1").await;
        let answer = key.map_or_else(|| "00".repeat(256), |k| k.answer(&challenge));
        let (status, body) = c.verify("u1", &id, node, &answer).await;
        assert_eq!(status, 403, "{node}: {body}");
    }
    assert!(c.mappings().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_who_proves_the_node_replaces_the_earlier_one() {
    let c = Cloud::start().await;
    let key = c.claimed_node("n1").await;
    let other = c.claimed_node("n2").await;
    for (user, node, key) in [("u1", "n1", &key), ("u1", "n2", &other)] {
        let (id, challenge) = c.initiate(user).await;
        let (status, body) = c.verify(user, &id, node, &key.answer(&challenge)).await;
        assert_eq!(status, 200, "{body}");
    }
    // the device is sold and provisioned again by u2 (the same key: claiming is once a device)
    let (id, challenge) = c.initiate("u2").await;
    let (status, body) = c.verify("u2", &id, "n1", &key.answer(&challenge)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        c.mappings().await,
        [("u1".into(), "n2".into()), ("u2".into(), "n1".into())]
    );
    let (_, nodes) = c.call("u1", "user/nodes", None).await;
    assert_eq!(nodes["nodes"], json!(["n2"]));
    let (status, _) = c.call("u1", "user/nodes/status?nodeid=n1", None).await;
    assert_eq!(status, 404, "the former owner no longer reaches the node");
}
