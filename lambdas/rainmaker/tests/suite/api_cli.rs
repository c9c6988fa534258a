//! The unmodified `esp-rainmaker-cli` (PyPI) against the bundled API, end to end on loopback:
//! the real `authorizer` and `api` bootstraps run against Lambda Runtime APIs served here, behind
//! a small API Gateway stand-in that routes the stack's `/v1/` routes (from the same catalog the
//! template is rendered from), calls the TOKEN authorizer and hands the API proxy events. The
//! tables are in moto_server; the IoT data plane is moto behind a recording proxy. The client logs
//! in with tokens of this test's own OAuth2 issuer (the OAuth2 path: no `login2`), signed ES256
//! and checked by the authorizer against the issuer's JWKS served here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::gateway::decode;
use crate::support::moto::Moto;
use crate::support::proxy::Proxy;
use crate::support::rainmaker_cli::Cli;
use crate::support::runtime_api::{built, start, Answer, RuntimeApi};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rmdeploy::catalog::ROUTES;
use rmdeploy_lambdas::event::{mapping_message, node_message};
use rmdeploy_lambdas::{mapping, node_config, params};
use serde_json::{json, Value};

const AUDIENCE: &str = "rainmaker-cli";
const USER: &str = "7b1c7e0e-user-1";
const NODE: &str = "9C9E6E2A1B2C";

/// Serve one fixed JSON document on loopback (the issuer's JWKS); its URL.
fn serve_json(doc: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = doc.to_string();
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    url
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed token. The client reads claims with plain `base64.b64decode`, which mangles the URL-safe
/// alphabet's `-` and `_`: a `nonce` claim is varied until the payload has neither.
fn sign(key: &EncodingKey, claims: &Value) -> String {
    for nonce in 0.. {
        let mut c = claims.clone();
        c["nonce"] = json!(nonce);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("test-key".into());
        let token = encode(&header, &c, key).unwrap();
        if !token.split('.').nth(1).unwrap().contains(['-', '_']) {
            return token;
        }
    }
    unreachable!()
}

/// A request as the gateway reads it.
struct HttpRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
}

fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target, None),
    };
    Some(HttpRequest {
        method,
        path,
        query,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// What API Gateway does with a request: (status, body).
fn gateway(
    req: &HttpRequest,
    authorizer: &Mutex<RuntimeApi>,
    api: &Mutex<RuntimeApi>,
) -> (u16, String) {
    let missing = (
        403,
        json!({"message": "Missing Authentication Token"}).to_string(),
    );
    let Some(route) = req
        .path
        .strip_prefix("/v1/")
        .map(|r| r.trim_end_matches('/'))
    else {
        return missing;
    };
    let Some(spec) = ROUTES
        .iter()
        .find(|r| r.path == route && (r.method == req.method || r.method == "ANY"))
    else {
        return missing;
    };
    let mut context = json!({});
    if spec.authorized {
        let token = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone());
        let Some(token) = token else {
            return (401, json!({"message": "Unauthorized"}).to_string());
        };
        let arn = format!(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/{}/v1/{route}",
            req.method
        );
        match authorizer
            .lock()
            .unwrap()
            .invoke(json!({"type": "TOKEN", "authorizationToken": token, "methodArn": arn}))
        {
            Answer::Response(policy)
                if policy["policyDocument"]["Statement"][0]["Effect"] == "Allow" =>
            {
                context = policy["context"].clone();
                context["principalId"] = policy["principalId"].clone();
            }
            _ => return (401, json!({"message": "Unauthorized"}).to_string()),
        }
    }
    let query: serde_json::Map<String, Value> = req
        .query
        .iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), json!(decode(v))))
        .collect();
    let event = json!({
        "resource": format!("/v1/{}", spec.path), "path": req.path, "httpMethod": req.method,
        "headers": req.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "body": if req.body.is_empty() { Value::Null } else { json!(req.body) },
        "isBase64Encoded": false,
        "requestContext": {"stage": "v1", "httpMethod": req.method, "authorizer": context},
    });
    match api.lock().unwrap().invoke(event) {
        Answer::Response(r) => (
            r["statusCode"].as_u64().unwrap() as u16,
            r["body"].as_str().unwrap_or("").to_string(),
        ),
        Answer::Error(e) => (
            502,
            json!({"message": "Internal server error", "error": e}).to_string(),
        ),
    }
}

/// The gateway on a free loopback port; its base URL.
fn start_gateway(authorizer: RuntimeApi, api: RuntimeApi) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (authorizer, api) = (Arc::new(Mutex::new(authorizer)), Arc::new(Mutex::new(api)));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut writer = stream.try_clone().unwrap();
            let Some(req) = read_request(&mut BufReader::new(stream)) else {
                continue;
            };
            let (status, body) = gateway(&req, &authorizer, &api);
            let _ = write!(writer, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    base
}

#[test]
fn the_unmodified_esp_rainmaker_cli_lists_nodes_gets_and_sets_params_and_adds_a_mapping() {
    // The issuer: an ES256 key made here, its JWKS on loopback.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwks_uri = serve_json(
        json!({"keys": [{"kty": "EC", "kid": "test-key", "alg": "ES256", "use": "sig",
        "crv": "P-256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])}]}),
    );
    let issuer = jwks_uri
        .trim_end_matches("/.well-known/jwks.json")
        .to_string();
    let key = EncodingKey::from_ec_der(pkcs8.as_ref());

    // The cloud: tables in moto, publishes recorded, both functions on their Runtime APIs.
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let db = aws_sdk_dynamodb::Client::new(&crate::support::tables::config(&moto.url).await);
        crate::support::tables::stack_tables(&db).await;
        db
    });
    let (authorizer_rt, api_rt) = (RuntimeApi::start(), RuntimeApi::start());
    let mut authorizer = start(
        &built("authorizer"),
        &authorizer_rt,
        &moto.url,
        "rainmaker-authorizer",
        &[
            ("OAUTH2_ISSUER", &issuer),
            ("OAUTH2_AUDIENCE", AUDIENCE),
            ("OAUTH2_JWKS_URI", &jwks_uri),
        ],
    );
    let mut api = start(
        &built("api"),
        &api_rt,
        &moto.url,
        "rainmaker-api",
        &[
            ("TABLE_NODES", "nodes"),
            ("TABLE_NODE_PARAMS", "node_params"),
            ("TABLE_USER_NODES", "user_nodes"),
            ("TABLE_MAPPING_REQUESTS", "mapping_requests"),
            ("TABLE_OTA_JOBS", "ota_jobs"),
            ("IOT_DATA_ENDPOINT", &proxy.url),
        ],
    );
    let base = start_gateway(authorizer_rt, api_rt);

    // The node has booted: its config and params arrived through the topic rules.
    rt.block_on(async {
        let config = json!({"node_id": NODE, "config_version": "2020-03-20",
            "info": {"name": "Kitchen light", "fw_version": "1.0.0", "type": "Lightbulb", "project_name": "light", "platform": "esp32c3"},
            "devices": [{"name": "Light", "type": "esp.device.lightbulb", "primary": "Power",
                         "params": [{"name": "Power", "type": "esp.param.power", "data_type": "bool", "properties": ["read", "write"]}]}],
            });
        let config = node_message(NODE, "config", &config, 1_000);
        node_config::handle(&db, "nodes", config).await.unwrap();
        let reported = node_message(NODE, "params/local/init", &json!({"Light": {"Power": true}}), 2_000);
        params::handle(&db, "node_params", reported).await.unwrap();
    });

    // The client, with a custom profile for this deployment and the issuer's tokens.
    let cli = Cli::new();
    let (ok, out) = cli.run(&["profile", "add", "private", "--base-url", &base]);
    assert!(ok, "{out}");
    let (ok, out) = cli.run(&["profile", "switch", "private"]);
    assert!(ok, "{out}");
    let claims = json!({"sub": USER, "iss": issuer, "aud": AUDIENCE, "iat": now(), "nbf": now() - 5, "exp": now() + 3600});
    let mut id_claims = claims.clone();
    id_claims["custom:user_id"] = json!(USER);
    id_claims["email"] = json!("ann@example.com");
    let tokens = json!({"idtoken": sign(&key, &id_claims), "accesstoken": sign(&key, &claims), "refreshtoken": "unused"});
    std::fs::write(
        cli.config().join("profiles/private_config.json"),
        tokens.to_string(),
    )
    .unwrap();

    // Not mapped yet: no nodes.
    let (ok, out) = cli.run(&["getnodes"]);
    assert!(ok && !out.contains(NODE), "{out}");

    // Add the mapping from the app side, the node confirms with the same secret.
    let body = json!({"user_id": USER, "node_id": NODE, "secret_key": "c0ffee-secret", "operation": "add"}).to_string();
    let (ok, out) = cli.run(&[
        "raw-api",
        "--method",
        "PUT",
        "--api",
        "user/nodes/mapping",
        "--body",
        &body,
    ]);
    assert!(ok, "{out}");
    let request_id = out
        .split('"')
        .skip_while(|s| *s != "request_id")
        .nth(2)
        .unwrap_or_else(|| panic!("a request id in {out}"))
        .to_string();
    let device = mapping_message(
        NODE,
        &json!({"node_id": NODE, "user_id": USER, "secret_key": "c0ffee-secret"}),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let tables = mapping::Tables {
        requests: "mapping_requests".into(),
        user_nodes: "user_nodes".into(),
    };
    let confirmed = rt.block_on(mapping::handle(&db, &tables, device)).unwrap();
    assert_eq!(confirmed["confirmed"], true, "{confirmed}");
    let (ok, out) = cli.run(&[
        "raw-api",
        "--method",
        "GET",
        "--api",
        "user/nodes/mapping",
        "--query-params",
        &format!("request_id={request_id}"),
    ]);
    assert!(ok && out.contains("confirmed"), "{out}");

    // List, status, config, params.
    let (ok, out) = cli.run(&["getnodes"]);
    assert!(ok && out.contains(NODE), "{out}");
    let (ok, out) = cli.run(&["getnodeconfig", NODE]);
    assert!(ok && out.contains("Kitchen light"), "{out}");
    let (ok, out) = cli.run(&["getparams", NODE]);
    assert!(ok && out.contains("Power") && out.contains("true"), "{out}");

    // Set params: published on params/remote, exactly as given.
    let (ok, out) = cli.run(&[
        "setparams",
        NODE,
        "--data",
        r#"{"Light": {"Power": false}}"#,
    ]);
    assert!(ok, "{out}");
    let published: Vec<(String, Value)> = proxy
        .recorded()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/topics/"))
        .map(|r| {
            (
                r.path.split('?').next().unwrap().replace("%2F", "/"),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        published,
        vec![(
            format!("/topics/node/{NODE}/params/remote"),
            json!({"Light": {"Power": false}})
        )]
    );

    // A token of another issuer's key is refused by the authorizer: the client reports it.
    let other = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let forged = json!({"idtoken": sign(&EncodingKey::from_ec_der(other.as_ref()), &id_claims),
                        "accesstoken": sign(&EncodingKey::from_ec_der(other.as_ref()), &claims), "refreshtoken": "unused"});
    std::fs::write(
        cli.config().join("profiles/private_config.json"),
        forged.to_string(),
    )
    .unwrap();
    let (_, out) = cli.run(&["getparams", NODE]);
    assert!(
        out.contains("Unauthorized") && !out.contains("\"Power\""),
        "{out}"
    );

    let _ = authorizer.kill();
    let _ = api.kill();
    let _ = authorizer.wait();
    let _ = api.wait();
}
