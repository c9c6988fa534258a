//! The OAuth2 authorizer with keys made here: RS256 and ES256 tokens that pass, and every way a
//! token must fail. The JWKS is served over HTTP on loopback, as an issuer would.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rmdeploy_lambdas::authorizer::{
    allow, verify, Expect, KeyCache, Principal, Rejection, LEEWAY_SECONDS, MAX_KEY_AGE,
};
use serde_json::{json, Value};

const ISSUER: &str = "https://login.example.com/";
const AUDIENCE: &str = "rainmaker";

struct Keys {
    rsa: EncodingKey,
    rsa_jwk: Value,
    ec: EncodingKey,
    ec_jwk: Value,
}

fn keys() -> Keys {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public = private.to_public_key();
    let rsa = EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes());
    let rsa_jwk = json!({"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
        "n": B64.encode(public.n().to_bytes_be()), "e": B64.encode(public.e().to_bytes_be())});
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let ec = EncodingKey::from_ec_der(pkcs8.as_ref());
    let ec_jwk = json!({"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
        "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
    Keys {
        rsa,
        rsa_jwk,
        ec,
        ec_jwk,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "iat": now(), "nbf": now() - 10})
}

fn user_1() -> Result<Principal, Rejection> {
    Ok(Principal {
        user: "user-1".into(),
        groups: vec![],
    })
}

fn token(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, key).unwrap()
}

fn set(jwks: &[&Value]) -> JwkSet {
    serde_json::from_value(json!({"keys": jwks})).unwrap()
}

fn expect() -> Expect {
    Expect {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        groups_claim: "groups".into(),
    }
}

#[test]
fn tokens_are_accepted_and_refused_for_the_right_reasons() {
    let k = keys();
    let jwks = set(&[&k.rsa_jwk, &k.ec_jwk]);
    let check = |t: &str| verify(t, &jwks, &expect());

    // groups as most issuers name them, and as Cognito does
    let mut grouped = claims();
    grouped["groups"] = json!(["admin", "ops"]);
    assert_eq!(
        check(&token(Algorithm::RS256, "rsa-1", &k.rsa, &grouped))
            .unwrap()
            .groups,
        vec!["admin", "ops"]
    );
    // Cognito's claim, when the profile names it (`identity.groups_claim`); otherwise ignored.
    let mut cognito = claims();
    cognito["cognito:groups"] = json!(["admin"]);
    let cognito = token(Algorithm::ES256, "ec-1", &k.ec, &cognito);
    assert_eq!(check(&cognito).unwrap().groups, Vec::<String>::new());
    let by_cognito = Expect {
        groups_claim: "cognito:groups".into(),
        ..expect()
    };
    assert_eq!(
        verify(&cognito, &jwks, &by_cognito).unwrap().groups,
        vec!["admin"]
    );

    assert_eq!(
        check(&token(Algorithm::RS256, "rsa-1", &k.rsa, &claims())),
        user_1()
    );
    assert_eq!(
        check(&token(Algorithm::ES256, "ec-1", &k.ec, &claims())),
        user_1()
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        token(Algorithm::RS256, "rsa-1", &k.rsa, &c)
    };
    assert_eq!(
        check(&with(&|c| c["exp"] = json!(now() - 120))),
        Err(Rejection::Expired)
    );
    assert_eq!(
        check(&with(&|c| {
            c.as_object_mut().unwrap().remove("exp");
        }))
        .map(|_| ()),
        Err(Rejection::Malformed("Missing required claim: exp".into()))
    );
    assert_eq!(
        check(&with(&|c| c["nbf"] = json!(now() + 600))),
        Err(Rejection::NotYetValid)
    );
    assert_eq!(
        check(&with(&|c| c["aud"] = json!("someone-else"))),
        Err(Rejection::WrongAudience)
    );
    assert_eq!(
        check(&with(&|c| c["iss"] = json!("https://evil.example.com/"))),
        Err(Rejection::WrongIssuer)
    );
    assert!(check(&with(&|c| {
        c.as_object_mut().unwrap().remove("sub");
    }))
    .is_err());

    // A tampered payload keeps the signature of the original.
    let good = token(Algorithm::ES256, "ec-1", &k.ec, &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims = claims();
    forged_claims["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(forged_claims.to_string()),
        parts[2]
    );
    assert_eq!(check(&forged), Err(Rejection::BadSignature));

    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).to_string()),
        B64.encode(claims().to_string())
    );
    assert!(
        matches!(check(&none), Err(Rejection::Algorithm(_))),
        "{:?}",
        check(&none)
    );

    // HS256 signed with the RSA public modulus as the secret (key confusion).
    let hs = token(
        Algorithm::HS256,
        "rsa-1",
        &EncodingKey::from_secret(k.rsa_jwk["n"].as_str().unwrap().as_bytes()),
        &claims(),
    );
    assert!(matches!(check(&hs), Err(Rejection::Algorithm(_))));

    // Unknown key id, and a key id of the other algorithm's key.
    assert_eq!(
        check(&token(Algorithm::RS256, "rsa-2", &k.rsa, &claims())),
        Err(Rejection::UnknownKey("rsa-2".into()))
    );
    assert!(check(&token(Algorithm::RS256, "ec-1", &k.rsa, &claims())).is_err());
    assert!(matches!(
        check("not-a-jwt"),
        Err(Rejection::Malformed(_) | Rejection::Algorithm(_))
    ));
}

/// An issuer on loopback whose JWKS can change (key rotation); counts the fetches.
fn issuer(initial: Value) -> (String, Arc<Mutex<Value>>, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let jwks = Arc::new(Mutex::new(initial));
    let fetches = Arc::new(Mutex::new(0));
    let (j, f) = (jwks.clone(), fetches.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            *f.lock().unwrap() += 1;
            let body = j.lock().unwrap().to_string();
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (url, jwks, fetches)
}

#[test]
fn keys_are_cached_and_fetched_again_for_a_new_key_id() {
    let k = keys();
    let (url, jwks, fetches) = issuer(json!({"keys": [k.rsa_jwk]}));
    let mut cache = KeyCache::new(&url);
    let rsa = token(Algorithm::RS256, "rsa-1", &k.rsa, &claims());
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
    assert_eq!(*fetches.lock().unwrap(), 1, "cached");
    // The issuer rotates in the EC key. The first fetch was just now, within REFETCH_GAP: an
    // unknown key id does not make it fetch again right away.
    *jwks.lock().unwrap() = json!({"keys": [k.rsa_jwk, k.ec_jwk]});
    let ec = token(Algorithm::ES256, "ec-1", &k.ec, &claims());
    assert_eq!(
        cache.verify(&ec, &expect()),
        Err(Rejection::UnknownKey("ec-1".into()))
    );
    assert_eq!(*fetches.lock().unwrap(), 1, "no refetch within the gap");
    // A fresh cache (a new execution environment) sees the rotated set.
    let mut fresh = KeyCache::new(&url);
    assert_eq!(fresh.verify(&ec, &expect()), user_1());
}

#[test]
fn the_policy_allows_the_whole_stage_for_the_user() {
    let p = allow(
        &Principal {
            user: "user-1".into(),
            groups: vec!["admin".into(), "ops".into()],
        },
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/live/GET/v1/user/nodes",
    );
    assert_eq!(p["principalId"], "user-1");
    assert_eq!(p["context"]["user_id"], "user-1");
    assert_eq!(p["context"]["groups"], r#"["admin","ops"]"#);
    assert_eq!(
        p["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/live/*/*"
    );
}

/// Finding 4: group names are kept exact; none is split into `admin`.
#[test]
fn group_names_are_exact_and_never_split() {
    let k = keys();
    let jwks = set(&[&k.rsa_jwk]);
    let groups_of = |value: Value| {
        let mut c = claims();
        c["groups"] = value;
        verify(
            &token(Algorithm::RS256, "rsa-1", &k.rsa, &c),
            &jwks,
            &expect(),
        )
        .unwrap()
        .groups
    };
    assert_eq!(groups_of(json!(["Building admin"])), vec!["Building admin"]);
    assert_eq!(groups_of(json!(["x,admin"])), vec!["x,admin"]);
    // A string claim is one group, as named.
    assert_eq!(groups_of(json!("Building admin")), vec!["Building admin"]);
    assert_eq!(groups_of(json!("x,admin")), vec!["x,admin"]);
    assert_eq!(groups_of(json!([1, "ops", null])), vec!["ops"]);
    // The context carries them as a JSON array in a string, which the API parses back exactly.
    let p = allow(
        &Principal {
            user: "user-1".into(),
            groups: vec!["Building admin".into(), "x,admin".into()],
        },
        "arn:aws:execute-api:us-east-1:123456789012:abc123/live/GET/v1/admin/otajobs",
    );
    let context = p["context"]["groups"].as_str().unwrap();
    let back: Vec<String> = serde_json::from_str(context).unwrap();
    assert_eq!(back, vec!["Building admin", "x,admin"]);
    let event = json!({"path": "/v1/admin/otajobs", "httpMethod": "GET",
        "requestContext": {"authorizer": {"principalId": "user-1", "groups": context}}});
    let req = rmdeploy_lambdas::api::Request::from_proxy(&event).unwrap();
    assert!(!req.is_in("admin"));
    assert!(req.is_in("x,admin"));
}

// The clock skew allowed (on `nbf` only) stays within a minute.
const _: () = assert!(LEEWAY_SECONDS <= 60);

/// Finding 6: a token is refused from the second its `exp` passes; the leeway is for `nbf` only.
#[test]
fn a_token_past_exp_is_refused_at_once() {
    let k = keys();
    let jwks = set(&[&k.rsa_jwk]);
    for past in [1, 5, LEEWAY_SECONDS as i64 - 1, 59] {
        let mut c = claims();
        c["exp"] = json!(now() - past);
        assert_eq!(
            verify(
                &token(Algorithm::RS256, "rsa-1", &k.rsa, &c),
                &jwks,
                &expect()
            ),
            Err(Rejection::Expired),
            "{past} s past exp"
        );
    }
    let mut c = claims();
    c["exp"] = json!(now() + 5);
    assert_eq!(
        verify(
            &token(Algorithm::RS256, "rsa-1", &k.rsa, &c),
            &jwks,
            &expect()
        ),
        user_1()
    );
    // A token from an issuer whose clock runs a little ahead is still good.
    c["nbf"] = json!(now() + 10);
    assert_eq!(
        verify(
            &token(Algorithm::RS256, "rsa-1", &k.rsa, &c),
            &jwks,
            &expect()
        ),
        user_1()
    );
}

/// An issuer that can go down: while `up` is false it answers 503.
fn flaky_issuer(jwks: Value) -> (String, Arc<Mutex<bool>>, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let up = Arc::new(Mutex::new(true));
    let fetches = Arc::new(Mutex::new(0));
    let (u, f) = (up.clone(), fetches.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            *f.lock().unwrap() += 1;
            if *u.lock().unwrap() {
                let body = jwks.to_string();
                let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            } else {
                let _ = write!(stream, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        }
    });
    (url, up, fetches)
}

/// Finding 6: while the issuer is down the cached keys keep working, for a day; then every token
/// is refused until the issuer answers again.
#[test]
fn a_jwks_outage_older_than_a_day_fails_closed() {
    let k = keys();
    let (url, up, fetches) = flaky_issuer(json!({"keys": [k.rsa_jwk]}));
    let start = Instant::now();
    let offset = Arc::new(Mutex::new(Duration::ZERO));
    let o = offset.clone();
    let mut cache = KeyCache::with_clock(&url, Arc::new(move || start + *o.lock().unwrap()));
    let age = |d: Duration| *offset.lock().unwrap() = d;
    let rsa = token(Algorithm::RS256, "rsa-1", &k.rsa, &claims());
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
    assert_eq!(*fetches.lock().unwrap(), 1);

    *up.lock().unwrap() = false;
    // Two hours into the outage: the keys are stale, the refetch fails, the old keys still serve.
    age(Duration::from_secs(2 * 3600));
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
    assert_eq!(*fetches.lock().unwrap(), 2, "a refetch was tried");
    // Just under a day: still served.
    age(MAX_KEY_AGE - Duration::from_secs(60));
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
    // Past a day: refused, and refused again on the next call.
    age(MAX_KEY_AGE + Duration::from_secs(60));
    assert_eq!(cache.verify(&rsa, &expect()), Err(Rejection::KeysTooOld));
    age(MAX_KEY_AGE + Duration::from_secs(120));
    assert!(cache.verify(&rsa, &expect()).is_err());

    // The issuer is back: the next fetch restores service.
    *up.lock().unwrap() = true;
    age(MAX_KEY_AGE + Duration::from_secs(3600));
    assert_eq!(cache.verify(&rsa, &expect()), user_1());
}
