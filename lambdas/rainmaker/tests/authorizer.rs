//! The OAuth2 authorizer with keys made here: RS256 and ES256 tokens that pass, and every way a
//! token must fail. The JWKS is served over HTTP on loopback, as an issuer would.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rmdeploy_lambdas::authorizer::{allow, verify, Expect, KeyCache, Principal, Rejection};
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
    let mut cognito = claims();
    cognito["cognito:groups"] = json!(["admin"]);
    assert_eq!(
        check(&token(Algorithm::ES256, "ec-1", &k.ec, &cognito))
            .unwrap()
            .groups,
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
    assert_eq!(p["context"]["groups"], "admin,ops");
    assert_eq!(
        p["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/live/*/*"
    );
}
