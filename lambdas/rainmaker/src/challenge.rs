//! Challenge-response user-node mapping, the default of stock ESP RainMaker firmware since 1.8.5
//! (such a device never publishes `user/mapping`, see [`crate::mapping`] for that flow):
//!
//! 1. The app asks for a challenge, `POST user/nodes/mapping/initiate` with no body, `{}` or
//!    `{"timeout": 360}` (seconds; esp-rainmaker-cli
//!    `rmaker_tools/rmaker_prov/challenge_response.py` `initiate_challenge_mapping`, the Android
//!    app's `ApiManager.initiateMapping`; the iOS app's `User.initiateMapping` sends no body). It
//!    gets `{"challenge", "request_id"}`, both strings.
//! 2. The app hands the challenge's UTF-8 bytes to the device (its `ch_resp` endpoint), which
//!    signs them with its MQTT client key (espressif/esp-rainmaker
//!    `components/esp_rainmaker/src/core/esp_rmaker_node_auth.c`,
//!    `esp_rmaker_node_auth_sign_msg`): SHA-256 over exactly those bytes, then RSASSA-PSS
//!    (MGF1-SHA-256, a 32-byte salt: mbedtls uses the hash length) with an RSA key, or ECDSA P-256
//!    (DER signature) with an EC key. The device answers the signature and its node id.
//! 3. The app sends `POST user/nodes/mapping/verify` `{"request_id", "node_id",
//!    "challenge_response"}`, the signature in lower-case hex (`verify_challenge_response` in the
//!    same CLI file). The cloud checks it with the public key of the ACTIVE certificate attached to
//!    the node's thing ([`crate::registry`]) and maps the user to the node at once, as a confirmed
//!    legacy mapping does: the user becomes the node's only user.
//!
//! A request is one item of the mapping-requests table, `chal#<request id>`: its user, the
//! challenge, `deadline` (ms), `used`, and `expires_at` (the table's TTL, a day after the
//! deadline).
//! It answers one verify: it is marked used with a conditional write before the signature is
//! checked, so a replay, a concurrent second verify or a second guess fails.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::Value;

use crate::event::valid_node_id;
use crate::mapping::{self, Tables, KEEP_SECONDS};
use crate::ota_jobs::{number, text, Item};
use crate::registry;
use crate::store::condition_failed;

/// How long a challenge stays answerable when the app names no timeout (the CLI's 360 s).
pub const DEFAULT_TIMEOUT_S: i64 = 360;
/// The timeouts an app may ask for are kept within these.
pub const MIN_TIMEOUT_S: i64 = 60;
pub const MAX_TIMEOUT_S: i64 = 3600;
/// The longest signature taken (an RSA-4096 signature is 512 bytes, a P-256 one at most 72).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// The key prefix of challenge requests in the mapping-requests table.
pub const PREFIX: &str = "chal#";

/// The timeout (seconds) an initiate body asks for: absent, `null` or `{}` is the default; a
/// number is kept within [`MIN_TIMEOUT_S`]..=[`MAX_TIMEOUT_S`].
pub fn timeout_of(body: Option<&Value>) -> Result<i64, String> {
    let asked = match body {
        None | Some(Value::Null) => None,
        Some(Value::Object(fields)) => match fields.get("timeout") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| format!("`timeout` is not a number of seconds: {v}"))?,
            ),
        },
        Some(other) => return Err(format!("The body is not a JSON object: {other}")),
    };
    Ok(asked.map_or(DEFAULT_TIMEOUT_S, |t| {
        (t as i64).clamp(MIN_TIMEOUT_S, MAX_TIMEOUT_S)
    }))
}

/// A new challenge: 32 bytes from the operating system's random source, as 64 lower-case hex
/// characters (ASCII, so its UTF-8 bytes, which the device signs, are the text itself).
pub fn new_challenge() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the operating system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A verify request's body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub request_id: String,
    pub node_id: String,
    /// The device's signature, decoded from `challenge_response`.
    pub signature: Vec<u8>,
}

/// Read a verify body, `{"request_id", "node_id", "challenge_response"}` (other fields, such as
/// one SDK's `group_id` or the CLI's `tags` and `metadata`, are ignored).
pub fn parse_response(body: Option<&Value>) -> Result<Response, String> {
    let Some(fields) = body.and_then(Value::as_object) else {
        return Err(
            "The body must be a JSON object with request_id, node_id and challenge_response".into(),
        );
    };
    let field = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("The body needs a `{name}` string"))
    };
    let request_id = field("request_id")?;
    if request_id.len() > 128 {
        return Err("`request_id` is not a request id".into());
    }
    let node_id = field("node_id")?;
    if !valid_node_id(node_id) {
        return Err(format!("`{node_id}` is not a node id"));
    }
    let signature = hex_decode(field("challenge_response")?)?;
    Ok(Response {
        request_id: request_id.to_string(),
        node_id: node_id.to_string(),
        signature,
    })
}

/// The bytes of a hex string (the firmware writes lower case; upper case is read too).
pub fn hex_decode(hex: &str) -> Result<Vec<u8>, String> {
    if hex.len() > 2 * MAX_SIGNATURE_BYTES {
        return Err(format!(
            "`challenge_response` is longer than {MAX_SIGNATURE_BYTES} bytes"
        ));
    }
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("`challenge_response` is not hex (two digits a byte)".into());
    }
    Ok(hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            digit(pair[0]) << 4 | digit(pair[1])
        })
        .collect())
}

/// A node's public key, as its certificate holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// The PKCS#1 `RSAPublicKey` (DER) of an `rsaEncryption` key.
    Rsa(Vec<u8>),
    /// The uncompressed point (`04 || x || y`) of an `id-ecPublicKey` key on P-256.
    P256(Vec<u8>),
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
/// `[0] EXPLICIT Version` of a TBSCertificate.
const VERSION: u8 = 0xa0;
/// rsaEncryption, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 (secp256r1), 1.2.840.10045.3.1.7.
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The DER of the first `CERTIFICATE` block of a PEM text.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let body = pem
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(body, _)| body)
        .ok_or("no PEM certificate")?;
    let text: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("the PEM certificate is not base64: {e}"))
}

/// One DER element at the start of `input`: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let truncated = || "truncated DER".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
    let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("a DER length that is not definite and short".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, b| len << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(truncated());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The contents of the element at the start of `input`, which must have tag `tag`, and the rest.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (found, contents, rest) = element(input).map_err(|e| format!("{what}: {e}"))?;
    if found != tag {
        return Err(format!("{what}: tag {found:#04x}, not {tag:#04x}"));
    }
    Ok((contents, rest))
}

/// The public key of an X.509 certificate (DER), from its TBSCertificate's
/// SubjectPublicKeyInfo (RFC 5280 4.1): RSA, or EC on P-256. The certificate's own signature
/// and dates are not checked: AWS IoT holds it registered and ACTIVE for the node.
pub fn public_key_of_certificate(der: &[u8]) -> Result<PublicKey, String> {
    let (certificate, _) = expect(der, SEQUENCE, "Certificate")?;
    let (tbs, _) = expect(certificate, SEQUENCE, "TBSCertificate")?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest)?.2;
    }
    for (tag, what) in [
        (INTEGER, "serialNumber"),
        (SEQUENCE, "signature"),
        (SEQUENCE, "issuer"),
        (SEQUENCE, "validity"),
        (SEQUENCE, "subject"),
    ] {
        rest = expect(rest, tag, what)?.1;
    }
    let (spki, _) = expect(rest, SEQUENCE, "subjectPublicKeyInfo")?;
    let (algorithm, rest) = expect(spki, SEQUENCE, "algorithm")?;
    let (bits, _) = expect(rest, BIT_STRING, "subjectPublicKey")?;
    let Some((0, key)) = bits.split_first() else {
        return Err("subjectPublicKey: not whole bytes".into());
    };
    let (oid, parameters) = expect(algorithm, OID, "algorithm")?;
    match oid {
        RSA_ENCRYPTION => Ok(PublicKey::Rsa(key.to_vec())),
        EC_PUBLIC_KEY => {
            let (curve, _) = expect(parameters, OID, "namedCurve")?;
            if curve != PRIME256V1 {
                return Err("an EC key on a curve other than P-256".into());
            }
            if key.len() != 65 || key[0] != 0x04 {
                return Err("an EC key that is not an uncompressed P-256 point".into());
            }
            Ok(PublicKey::P256(key.to_vec()))
        }
        _ => Err("a public key neither RSA nor EC".into()),
    }
}

/// Whether `signature` is the key's signature of `message` as the firmware makes it:
/// RSASSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt; 2048 to 8192 bits), or ECDSA P-256 with
/// SHA-256 (DER).
pub fn signature_verifies(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, RSA_PSS_2048_8192_SHA256};
    match key {
        PublicKey::Rsa(k) => UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, k)
            .verify(message, signature)
            .is_ok(),
        PublicKey::P256(k) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, k)
            .verify(message, signature)
            .is_ok(),
    }
}

/// Whether `signature` over `challenge` verifies with the certificate's key (PEM); why not, else.
pub fn check(certificate_pem: &str, challenge: &str, signature: &[u8]) -> Result<(), String> {
    let key = pem_to_der(certificate_pem)
        .and_then(|der| public_key_of_certificate(&der))
        .map_err(|why| format!("the node's certificate cannot be read: {why}"))?;
    if signature_verifies(&key, challenge.as_bytes(), signature) {
        Ok(())
    } else {
        Err("the signature does not verify with the node's certificate".into())
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Record a new challenge for `user` under `request_id` (random, made by the caller), answerable
/// for `timeout_s`; returns the challenge.
pub async fn initiate(
    db: &Client,
    t: &Tables,
    request_id: &str,
    user: &str,
    timeout_s: i64,
    now_ms: i64,
) -> Result<String, Error> {
    let challenge = new_challenge();
    let deadline = now_ms + timeout_s * 1000;
    db.put_item()
        .table_name(&t.requests)
        .item("request_id", s(&format!("{PREFIX}{request_id}")))
        .item("user_id", s(user))
        .item("challenge", s(&challenge))
        .item("status", s("requested"))
        .item("created_at", n(now_ms))
        .item("deadline", n(deadline))
        .item("expires_at", n(deadline / 1000 + KEEP_SECONDS))
        .item("used", AttributeValue::Bool(false))
        .send()
        .await?;
    Ok(challenge)
}

/// What became of a verify.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The user is now the node's user.
    Mapped,
    /// No such request of this user, or past its deadline (the caller is not told which).
    Unknown,
    /// The request has already been answered.
    Used,
    /// The response does not prove the node's key (why, for the log).
    Refused(String),
}

/// Whether a stored request may answer `user`'s verify at `now_ms`: not another user's, not past
/// its deadline ([`Verdict::Unknown`] else), and not answered yet ([`Verdict::Used`] else).
pub fn answerable(item: &Item, user: &str, now_ms: i64) -> Result<(), Verdict> {
    if text(item, "user_id") != user || now_ms > number(item, "deadline") {
        return Err(Verdict::Unknown);
    }
    if item.get("used") != Some(&AttributeValue::Bool(false)) {
        return Err(Verdict::Used);
    }
    Ok(())
}

/// Check a device's response to `user`'s challenge and map the user to the node when it holds.
pub async fn verify(
    db: &Client,
    t: &Tables,
    config: &aws_config::SdkConfig,
    user: &str,
    r: &Response,
    now_ms: i64,
) -> Result<Verdict, Error> {
    let key = format!("{PREFIX}{}", r.request_id);
    let item = db
        .get_item()
        .table_name(&t.requests)
        .key("request_id", s(&key))
        .consistent_read(true)
        .send()
        .await?
        .item;
    let Some(item) = item else {
        return Ok(Verdict::Unknown);
    };
    if let Err(verdict) = answerable(&item, user, now_ms) {
        return Ok(verdict);
    }
    let marked = db
        .update_item()
        .table_name(&t.requests)
        .key("request_id", s(&key))
        .update_expression("SET used = :t, node_id = :n, used_at = :now")
        .condition_expression("used = :f")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":f", AttributeValue::Bool(false))
        .expression_attribute_values(":n", s(&r.node_id))
        .expression_attribute_values(":now", n(now_ms))
        .send()
        .await;
    match marked {
        Ok(_) => {}
        Err(err) if condition_failed(&err) => return Ok(Verdict::Used),
        Err(err) => return Err(err.into()),
    }
    let Some(pem) = registry::certificate_of_thing(config, &r.node_id).await? else {
        return Ok(Verdict::Refused(
            "the node has no thing with an ACTIVE certificate".into(),
        ));
    };
    if let Err(why) = check(&pem, &text(&item, "challenge"), &r.signature) {
        return Ok(Verdict::Refused(why));
    }
    mapping::confirm(db, t, &key, user, &r.node_id, now_ms).await?;
    Ok(Verdict::Mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A DER element.
    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let len = contents.len();
        let mut out = vec![tag];
        match len {
            0..=0x7f => out.push(len as u8),
            0x80..=0xff => out.extend([0x81, len as u8]),
            _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        der(SEQUENCE, &parts.concat())
    }

    /// A v3 certificate for `spki` shaped as AWS IoT's (serial, sha256WithRSAEncryption, issuer,
    /// validity, subject, the key, extensions); its signature is not one (the cloud reads only
    /// the key of a certificate AWS IoT holds).
    fn certificate(spki: Vec<u8>) -> Vec<u8> {
        let name = seq(&[der(
            0x31,
            &seq(&[
                der(OID, &[0x55, 0x04, 0x03]),
                der(0x0c, b"AWS IoT Certificate"),
            ]),
        )]);
        let algorithm = seq(&[
            der(OID, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]),
            der(0x05, &[]),
        ]);
        let tbs = seq(&[
            der(VERSION, &der(INTEGER, &[2])),
            der(INTEGER, &[0x67, 0x87, 0x12, 0x0c]),
            algorithm.clone(),
            name.clone(),
            seq(&[der(0x17, b"260101000000Z"), der(0x17, b"491231235959Z")]),
            name,
            spki,
            der(0xa3, &seq(&[])),
        ]);
        seq(&[tbs, algorithm, der(BIT_STRING, &[0, 1, 2, 3])])
    }

    fn pem(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    /// An RSA-2048 node key (as claiming makes them) and its certificate.
    fn rsa_node() -> (rsa::RsaPrivateKey, String) {
        use rsa::pkcs8::EncodePublicKey;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let spki = key.to_public_key().to_public_key_der().unwrap();
        (key, pem(&certificate(spki.as_bytes().to_vec())))
    }

    /// The firmware's RSA signature (esp_rmaker_node_auth.c `esp_rmaker_node_auth_sign_msg`:
    /// SHA-256 over the challenge's bytes, `mbedtls_rsa_rsassa_pss_sign` with MBEDTLS_MD_SHA256,
    /// whose salt is the hash length), made here with the `rsa` crate.
    fn rsa_sign(key: &rsa::RsaPrivateKey, challenge: &str) -> Vec<u8> {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let signer = rsa::pss::SigningKey::<sha2::Sha256>::new(key.clone());
        signer
            .sign_with_rng(&mut rand::thread_rng(), challenge.as_bytes())
            .to_vec()
    }

    /// A P-256 node key and its certificate.
    fn ec_node() -> (ring::signature::EcdsaKeyPair, String) {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let spki = seq(&[
            seq(&[der(OID, EC_PUBLIC_KEY), der(OID, PRIME256V1)]),
            der(
                BIT_STRING,
                &[&[0u8][..], key.public_key().as_ref()].concat(),
            ),
        ]);
        (key, pem(&certificate(spki)))
    }

    /// The firmware's ECDSA signature (`mbedtls_ecdsa_write_signature` with MBEDTLS_MD_SHA256:
    /// DER), made here with ring.
    fn ec_sign(key: &ring::signature::EcdsaKeyPair, challenge: &str) -> Vec<u8> {
        key.sign(&ring::rand::SystemRandom::new(), challenge.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn initiate_bodies_as_the_apps_send_them() {
        // iOS sends no body; the CLI `{"timeout": 360}`
        for body in [
            None,
            Some(json!(null)),
            Some(json!({})),
            Some(json!({"timeout": null})),
        ] {
            assert_eq!(timeout_of(body.as_ref()), Ok(DEFAULT_TIMEOUT_S), "{body:?}");
        }
        for (asked, kept) in [(360, 360), (5, 60), (0, 60), (-1, 60), (86_400, 3600)] {
            assert_eq!(timeout_of(Some(&json!({ "timeout": asked }))), Ok(kept));
        }
        assert_eq!(timeout_of(Some(&json!({"timeout": 90.5}))), Ok(90));
        assert!(timeout_of(Some(&json!({"timeout": "360"}))).is_err());
        assert!(timeout_of(Some(&json!([360]))).is_err());
    }

    #[test]
    fn challenges_are_random_ascii_hex() {
        let a = new_challenge();
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(a, new_challenge());
    }

    #[test]
    fn verify_bodies_as_the_cli_sends_them() {
        let r = parse_response(Some(
            &json!({"request_id": "r-1", "node_id": "9C9E6E2A1B2C",
            "challenge_response": "00ff7a", "group_id": "g", "tags": ["a:b"]}),
        ))
        .unwrap();
        assert_eq!(
            r,
            Response {
                request_id: "r-1".into(),
                node_id: "9C9E6E2A1B2C".into(),
                signature: vec![0x00, 0xff, 0x7a]
            }
        );
        assert_eq!(hex_decode("ABcd"), Ok(vec![0xab, 0xcd]));
        for (bad, why) in [
            (
                json!({"node_id": "n1", "challenge_response": "00"}),
                "request_id",
            ),
            (
                json!({"request_id": "r", "challenge_response": "00"}),
                "node_id",
            ),
            (
                json!({"request_id": "r", "node_id": "n/1", "challenge_response": "00"}),
                "node id",
            ),
            (
                json!({"request_id": "r", "node_id": "n1"}),
                "challenge_response",
            ),
            (
                json!({"request_id": "r", "node_id": "n1", "challenge_response": "abc"}),
                "hex",
            ),
            (
                json!({"request_id": "r", "node_id": "n1", "challenge_response": "zz"}),
                "hex",
            ),
            (
                json!({"request_id": "r", "node_id": "n1", "challenge_response": "+f"}),
                "hex",
            ),
            (
                json!({"request_id": "r", "node_id": "n1", "challenge_response": 12}),
                "challenge_response",
            ),
            (
                json!({"request_id": "r", "node_id": "n1",
                "challenge_response": "00".repeat(MAX_SIGNATURE_BYTES + 1)}),
                "longer",
            ),
            (json!("r"), "JSON object"),
        ] {
            let err = parse_response(Some(&bad)).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(parse_response(None).is_err());
    }

    #[test]
    fn an_rsa_pss_signature_made_as_the_firmware_makes_it_verifies() {
        let (key, cert) = rsa_node();
        let challenge = new_challenge();
        let signature = rsa_sign(&key, &challenge);
        assert_eq!(signature.len(), 256);
        assert_eq!(check(&cert, &challenge, &signature), Ok(()));
        // a signature over another challenge, by another key, or altered: refused
        assert!(check(&cert, &new_challenge(), &signature).is_err());
        let (other, _) = rsa_node();
        assert!(check(&cert, &challenge, &rsa_sign(&other, &challenge)).is_err());
        let mut altered = signature.clone();
        altered[100] ^= 1;
        assert!(check(&cert, &challenge, &altered).is_err());
        assert!(check(&cert, &challenge, &[]).is_err());
        // the salt is the hash's length, as mbedtls makes it: another length is not the firmware's
        use rsa::signature::RandomizedSigner;
        let salt_20 = rsa::pss::SigningKey::<sha2::Sha256>::new_with_salt_len(key.clone(), 20)
            .sign_with_rng(&mut rand::thread_rng(), challenge.as_bytes())
            .to_vec();
        assert!(check(&cert, &challenge, &salt_20).is_err());
        // PKCS#1 v1.5 is not what the firmware makes
        use rsa::signature::{SignatureEncoding, Signer};
        let v15 = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new_unprefixed(key.clone())
            .sign(challenge.as_bytes())
            .to_vec();
        assert!(check(&cert, &challenge, &v15).is_err());
    }

    #[test]
    fn an_ecdsa_p256_signature_verifies() {
        let (key, cert) = ec_node();
        let challenge = new_challenge();
        let signature = ec_sign(&key, &challenge);
        assert_eq!(check(&cert, &challenge, &signature), Ok(()));
        assert!(check(&cert, &new_challenge(), &signature).is_err());
        let (other, other_cert) = ec_node();
        assert!(check(&cert, &challenge, &ec_sign(&other, &challenge)).is_err());
        // an RSA signature against an EC certificate, and the other way round
        let (rsa_key, rsa_cert) = rsa_node();
        assert!(check(&cert, &challenge, &rsa_sign(&rsa_key, &challenge)).is_err());
        assert!(check(&rsa_cert, &challenge, &ec_sign(&other, &challenge)).is_err());
        assert_eq!(
            check(&other_cert, &challenge, &ec_sign(&other, &challenge)),
            Ok(())
        );
    }

    /// A certificate and signature made by OpenSSL 3.0 (`openssl req -x509` with a P-256 key,
    /// then `openssl dgst -sha256 -sign` over the challenge): the key is read from a certificate
    /// this module did not build.
    #[test]
    fn an_openssl_certificate_and_signature_verify() {
        const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkzCCATmgAwIBAgIUHgUqMGonKSeuxGoV4Ote0sNPk+4wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTQVdTIElvVCBDZXJ0aWZpY2F0ZTAgFw0yNjEyMDMxMDE3NTJa
GA8yMTI2MTEwOTEwMTc1MlowHjEcMBoGA1UEAwwTQVdTIElvVCBDZXJ0aWZpY2F0
ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPDcS8ai1gOT1fYceQ+ULG/kywAA
nFxHDYwhMmaoVSmSPHQTgfs1NyJiDr7jcEF+Nn9p9i5yLkqos72OBnGT2+ejUzBR
MB0GA1UdDgQWBBRWUPlTOD/q7eFsJA+y1NgfvHKw6DAfBgNVHSMEGDAWgBRWUPlT
OD/q7eFsJA+y1NgfvHKw6DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQCHZtF+oAAtl9i9wY1I5pBFJi/b4QumeQ+nwo2wdJYCawIgBkvzhjvL/I9T
9yUQVGOKikHg9c+oCvD4BkX6z3CZrg8=
-----END CERTIFICATE-----
";
        const CHALLENGE: &str = "9f2c1e0b7d4a5f6e8c3b2a1908f7e6d5c4b3a2918070f6e5d4c3b2a190807f6e";
        const SIGNATURE: &str = "3046022100dc0bf047ef5260045e517d5e670cd0e970f7a87a37dbd7a99b5f4\
            47f84d1ad21022100e670d3585f9f2379fab96e715f22e8fe773d33b0c1248485376fe950f50f00ef";
        let key = public_key_of_certificate(&pem_to_der(CERT).unwrap()).unwrap();
        assert!(matches!(&key, PublicKey::P256(point) if point.len() == 65));
        let signature = hex_decode(SIGNATURE).unwrap();
        assert_eq!(check(CERT, CHALLENGE, &signature), Ok(()));
        assert!(check(CERT, &CHALLENGE.replace('9', "8"), &signature).is_err());
    }

    #[test]
    fn a_request_answers_its_user_once_before_its_deadline() {
        let item: Item = [
            ("user_id", s("u1")),
            ("deadline", n(1_000_000)),
            ("used", AttributeValue::Bool(false)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(answerable(&item, "u1", 1_000_000), Ok(()));
        assert_eq!(answerable(&item, "u2", 5), Err(Verdict::Unknown));
        assert_eq!(answerable(&item, "u1", 1_000_001), Err(Verdict::Unknown));
        let mut used = item.clone();
        used.insert("used".into(), AttributeValue::Bool(true));
        assert_eq!(answerable(&used, "u1", 5), Err(Verdict::Used));
        // another user learns nothing about a used request
        assert_eq!(answerable(&used, "u2", 5), Err(Verdict::Unknown));
    }

    #[test]
    fn keys_other_than_rsa_and_p256_and_broken_certificates_are_refused() {
        // P-384
        let p384 = &[0x2b, 0x81, 0x04, 0x00, 0x22];
        let spki = seq(&[
            seq(&[der(OID, EC_PUBLIC_KEY), der(OID, p384)]),
            der(BIT_STRING, &[0u8; 98]),
        ]);
        let err = public_key_of_certificate(&certificate(spki)).unwrap_err();
        assert!(err.contains("P-256"), "{err}");
        // Ed25519
        let spki = seq(&[
            seq(&[der(OID, &[0x2b, 0x65, 0x70])]),
            der(BIT_STRING, &[0u8; 33]),
        ]);
        let err = public_key_of_certificate(&certificate(spki)).unwrap_err();
        assert!(err.contains("neither RSA nor EC"), "{err}");
        // truncated anywhere, or not a certificate
        let (_, cert) = rsa_node();
        let der = pem_to_der(&cert).unwrap();
        for cut in [0, 1, 4, 20, der.len() / 2] {
            assert!(public_key_of_certificate(&der[..cut]).is_err(), "{cut}");
        }
        assert!(public_key_of_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(pem_to_der("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err());
        assert!(check("not a certificate", "c", &[1]).is_err());
    }
}
