//! A node's identity as the factory makes it: its id, its key and certificate signing request,
//! the random bytes its proof of possession comes from, and the provisioning QR payload.
//!
//! Keys are ECDSA P-256 (what `esp-rainmaker-admin-cli --key_type ecdsa` makes, and what ESP32
//! mbedTLS verifies fastest), written as PKCS #8 PEM, which `esp_rmaker_get_client_key` hands
//! to mbedTLS as is. The key never leaves the host: AWS IoT sees the CSR only.

use std::fmt;

use base64::Engine as _;
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use super::error::NodesError;

/// The chips RainMaker firmware runs on (ESP-IDF target names), as the `claim` function allows.
pub const PLATFORMS: &[&str] = &[
    "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61",
    "esp32h2", "esp32p4",
];

/// The provisioning transports of the QR payload.
pub const TRANSPORTS: &[&str] = &["ble", "softap", "on-network"];

/// A node's private key. Secret: never printed, written 0600.
pub struct NodeKey(KeyPair);

impl NodeKey {
    pub fn generate(node: &str) -> Result<NodeKey, NodesError> {
        KeyPair::generate()
            .map(NodeKey)
            .map_err(|e| key_error(node, format!("no P-256 key could be made: {e}")))
    }

    /// The key of `pem` (PKCS #8).
    pub fn from_pem(node: &str, pem: &str) -> Result<NodeKey, NodesError> {
        KeyPair::from_pem(pem)
            .map(NodeKey)
            .map_err(|e| key_error(node, format!("its node.key is not a private key: {e}")))
    }

    /// PKCS #8 PEM: the secret itself.
    pub fn pem(&self) -> String {
        self.0.serialize_pem()
    }

    /// A certificate signing request for `node`: subject CN = the node id, as AWS IoT and the
    /// firmware's MQTT client id expect.
    pub fn csr(&self, node: &str) -> Result<String, NodesError> {
        let mut params = CertificateParams::new(Vec::new())
            .map_err(|e| key_error(node, format!("CSR parameters: {e}")))?;
        params.distinguished_name.push(DnType::CommonName, node);
        params
            .serialize_request(&self.0)
            .and_then(|csr| csr.pem())
            .map_err(|e| key_error(node, format!("the CSR could not be signed: {e}")))
    }

    /// The key pair, to sign a certificate for (`ca`).
    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.0
    }

    /// The DER SubjectPublicKeyInfo of the key.
    pub fn public_key_info(&self) -> Vec<u8> {
        self.0.subject_public_key_info()
    }

    /// Whether the certificate `pem` certifies this key: its DER holds this key's
    /// SubjectPublicKeyInfo, byte for byte (a certificate carries exactly one).
    pub fn certified_by(&self, pem: &str) -> bool {
        certifies(pem, &self.public_key_info())
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeKey(<secret>)")
    }
}

fn key_error(node: &str, reason: String) -> NodesError {
    NodesError::Key {
        node: node.to_string(),
        reason,
        help: None,
    }
}

/// `N` bytes from the system's secure random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    bytes
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A node id for a chip whose MAC is not known: 12 upper-case hex digits, the shape of the ids
/// RainMaker derives from MACs, from 48 random bits.
pub fn random_node_id() -> String {
    hex(&random_bytes::<6>()).to_uppercase()
}

/// A Wi-Fi station MAC as a node id: 12 upper-case hex digits, separators dropped. Refuses
/// multicast and all-zero addresses, which no chip has.
pub fn mac_of(text: &str) -> Result<String, String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-'))
        .collect();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not 12 hex digits"));
    }
    let mac = digits.to_uppercase();
    let first = u8::from_str_radix(&mac[..2], 16).expect("hex");
    if first & 1 == 1 {
        return Err(format!("{mac} is a multicast address"));
    }
    if mac == "000000000000" {
        return Err("000000000000 is not a chip's address".into());
    }
    Ok(mac)
}

/// An ESP-IDF target name, however spelled (`ESP32-C3` is `esp32c3`).
pub fn platform_of(text: &str) -> Result<String, NodesError> {
    let name: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_lowercase();
    if PLATFORMS.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(NodesError::Platform {
            given: text.to_string(),
            allowed: PLATFORMS.join(", "),
        })
    }
}

/// A project name as a thing attribute value: AWS IoT allows `[a-zA-Z0-9_.,@/:#=\[\]-]`, at
/// most 800 characters.
pub fn project_of(text: &str) -> Result<String, NodesError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c);
    if !text.is_empty() && text.len() <= 800 && text.chars().all(ok) {
        Ok(text.to_string())
    } else {
        Err(NodesError::Key {
            node: "-".into(),
            reason: format!("--project {text:?} is not a valid thing attribute value"),
            help: Some("use letters, digits and _ . , @ / : # = [ ] - (the project name your firmware reports in its config, e.g. light)".into()),
        })
    }
}

/// The MACs of a `--macs` file, one a line (blank lines and `#` comments skipped), each
/// checked and normalised; no MAC twice.
pub fn read_macs(path: &std::path::Path) -> Result<Vec<String>, NodesError> {
    let text = std::fs::read_to_string(path).map_err(|e| NodesError::io(path, e))?;
    let mut macs: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |reason: String| NodesError::BadMac {
            path: path.to_path_buf(),
            line: n + 1,
            reason,
        };
        let mac = mac_of(line).map_err(bad)?;
        if macs.contains(&mac) {
            return Err(bad(format!("{mac} is listed twice")));
        }
        macs.push(mac);
    }
    Ok(macs)
}

/// How many nodes a batch has: `--count`, or one a MAC; both must agree.
pub fn batch_size(
    count: Option<usize>,
    macs: &[String],
    path: Option<&std::path::Path>,
) -> Result<usize, NodesError> {
    match (count, path) {
        (Some(c), Some(p)) if c != macs.len() => Err(NodesError::MacCount {
            count: c,
            macs: macs.len(),
            path: p.to_path_buf(),
        }),
        (Some(0), _) | (None, None) => Err(NodesError::NoNodes),
        (Some(c), _) => Ok(c),
        (None, Some(_)) if macs.is_empty() => Err(NodesError::NoNodes),
        (None, Some(_)) => Ok(macs.len()),
    }
}

/// Whether the certificate `pem` carries the DER SubjectPublicKeyInfo `spki`, byte for byte.
pub fn certifies(pem: &str, spki: &[u8]) -> bool {
    pem_der(pem).is_some_and(|der| der.windows(spki.len()).any(|w| w == spki))
}

/// The DER bytes of the first PEM block of `pem`.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN ")?;
    let body_start = start + pem[start..].find('\n')? + 1;
    let body_end = body_start + pem[body_start..].find("-----END ")?;
    let body: String = pem[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The SHA-256 fingerprint of a certificate (of its DER), lower-case hex: what AWS IoT uses as
/// the certificate id.
pub fn fingerprint(cert_pem: &str) -> Option<String> {
    pem_der(cert_pem).map(|der| hex(&Sha256::digest(der)))
}

/// The provisioning QR payload of a node, as ESP RainMaker's `app_network` prints it and
/// `esp-rainmaker-admin-cli` writes it (`generate_qrcode`): version `v1`, the service name
/// `PROV_` and the last 3 bytes of `random` in hex (`get_device_service_name`), the proof of
/// possession the first 4 (`POP_TYPE_RANDOM`), and the transport.
pub fn qr_payload(random: &[u8], transport: &str) -> serde_json::Value {
    let tail = &random[random.len().saturating_sub(3)..];
    serde_json::json!({
        "ver": "v1",
        "name": format!("PROV_{}", hex(tail)),
        "pop": hex(&random[..4.min(random.len())]),
        "transport": transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csr_names_the_node_and_its_key_is_found_in_a_certificate_for_it() {
        let key = NodeKey::generate("7CDFA1B2C3D4").unwrap();
        let csr = key.csr("7CDFA1B2C3D4").unwrap();
        assert!(
            csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{csr}"
        );
        // A certificate for the key: self-signed here, the same SubjectPublicKeyInfo.
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "7CDFA1B2C3D4");
        let cert = params.self_signed(&key.0).unwrap().pem();
        assert!(key.certified_by(&cert));
        let other = NodeKey::generate("x").unwrap();
        assert!(!other.certified_by(&cert));
        // The key survives its PEM.
        let again = NodeKey::from_pem("7CDFA1B2C3D4", &key.pem()).unwrap();
        assert!(again.certified_by(&cert));
        assert_eq!(fingerprint(&cert).unwrap().len(), 64);
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn node_ids_macs_and_platforms() {
        let id = random_node_id();
        assert!(
            id.len() == 12
                && id
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
            "{id}"
        );
        assert_ne!(random_node_id(), random_node_id());
        assert_eq!(mac_of("7c:df:a1:b2:c3:d4").unwrap(), "7CDFA1B2C3D4");
        for bad in ["7CDFA1B2C3", "01005E000001", "000000000000", "7CDFA1B2C3DZ"] {
            assert!(mac_of(bad).is_err(), "{bad}");
        }
        assert_eq!(platform_of("ESP32-C3").unwrap(), "esp32c3");
        assert!(matches!(
            platform_of("esp8266"),
            Err(NodesError::Platform { .. })
        ));
    }

    #[test]
    fn the_qr_payload_is_the_firmwares() {
        let mut random = [0u8; 64];
        random[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        random[61..].copy_from_slice(&[0x0a, 0xb1, 0xc2]);
        assert_eq!(
            qr_payload(&random, "ble").to_string(),
            r#"{"ver":"v1","name":"PROV_0ab1c2","pop":"deadbeef","transport":"ble"}"#
        );
        assert_eq!(unhex(&hex(&random)).unwrap(), random);
    }
}
