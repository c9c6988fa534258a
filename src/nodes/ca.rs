//! A batch CA: a certificate authority the factory keeps, registered with AWS IoT with
//! just-in-time provisioning (JITP). Nodes get certificates signed here, on the host, with no
//! AWS call; AWS IoT registers each node (thing, certificate, policy) from the CA's provisioning
//! template the first time it connects. For batches too large for one `CreateCertificateFromCsr`,
//! `CreateThing`, `AttachPolicy` and `AttachThingPrincipal` a node at IoT's API rates.
//!
//! A node certificate's subject carries what the template needs: CN = node id (the thing name),
//! O = project (`project_name`, which OTA binds to), OU = chip (`chip`), dnQualifier = batch id
//! (`batch`). The CA's key signs identities for any node id: it stays in the folder (0600),
//! never printed, and should live offline between batches.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::batch::write_file;
use super::error::NodesError;
use super::identity::{hex, NodeKey};
use super::registry::Names;

pub const CERT: &str = "ca.pem";
pub const KEY: &str = "ca.key";
pub const META: &str = "ca.json";

/// Node certificates are valid this long (the firmware never renews them: `nodes rotate` does).
const NODE_DAYS: i64 = 365 * 20;
/// The CA: a little longer than any certificate it signs.
const CA_DAYS: i64 = 365 * 25;

/// Where a CA is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub certificate_id: String,
    pub certificate_arn: String,
    pub stack: String,
    pub region: String,
}

/// A batch CA and its key.
pub struct BatchCa {
    pub dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    pub registration: Option<Registration>,
}

impl std::fmt::Debug for BatchCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchCa")
            .field("dir", &self.dir)
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

fn ca_error(dir: &Path, reason: String, help: Option<&str>) -> NodesError {
    NodesError::Ca {
        dir: dir.to_path_buf(),
        reason,
        help: help.map(str::to_string),
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    // a day back: chips whose clock is a little behind still accept the certificate
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
}

/// The CA's own certificate parameters, all derived from its key, so that the folder's key and
/// certificate are all it takes to sign again: CN names the key (a SHA-256 prefix of it).
fn ca_params(dir: &Path, key: &KeyPair) -> Result<CertificateParams, NodesError> {
    let mut params =
        CertificateParams::new(Vec::new()).map_err(|e| ca_error(dir, e.to_string(), None))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let id = hex(&Sha256::digest(key.subject_public_key_info()));
    params.distinguished_name.push(
        DnType::CommonName,
        format!("rmdeploy batch CA {}", &id[..16]),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "rmdeploy");
    validity(&mut params, CA_DAYS);
    Ok(params)
}

impl BatchCa {
    /// Whether `dir` holds a CA.
    pub fn exists(dir: &Path) -> bool {
        dir.join(CERT).is_file()
    }

    /// A new CA, written to `dir` (the key 0600).
    pub fn create(dir: &Path) -> Result<BatchCa, NodesError> {
        let key = KeyPair::generate()
            .map_err(|e| ca_error(dir, format!("no P-256 key could be made: {e}"), None))?;
        let params = ca_params(dir, &key)?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| ca_error(dir, format!("the CA could not be signed: {e}"), None))?;
        write_file(&dir.join(KEY), key.serialize_pem().as_bytes(), true)?;
        write_file(&dir.join(CERT), cert.pem().as_bytes(), false)?;
        Ok(BatchCa {
            dir: dir.to_path_buf(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
            registration: None,
        })
    }

    /// The CA in `dir`.
    pub fn open(dir: &Path) -> Result<BatchCa, NodesError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| NodesError::io(&path, e))
        };
        let key = KeyPair::from_pem(&read(KEY)?).map_err(|e| {
            ca_error(
                dir,
                format!("{KEY} is not a private key: {e}"),
                Some("restore the folder from its backup; a CA without its key signs nothing"),
            )
        })?;
        let pem = read(CERT)?;
        if !super::identity::certifies(&pem, &key.subject_public_key_info()) {
            return Err(ca_error(
                dir,
                format!("{CERT} is not the certificate of {KEY}"),
                Some("restore the folder from its backup, or make a new CA in another folder with `rmdeploy nodes ca create --dir NEW`"),
            ));
        }
        let registration = match dir.join(META).is_file() {
            true => Some(serde_json::from_str(&read(META)?).map_err(|e| {
                ca_error(dir, format!("{META}: {e}"), Some("restore the file, or register the CA again with `rmdeploy nodes ca create --dir` on this folder"))
            })?),
            false => None,
        };
        Ok(BatchCa {
            dir: dir.to_path_buf(),
            issuer: Issuer::new(ca_params(dir, &key)?, key),
            pem,
            registration,
        })
    }

    /// Record where the CA is registered.
    pub fn registered(&mut self, registration: Registration) -> Result<(), NodesError> {
        let text = serde_json::to_string_pretty(&registration).expect("plain data");
        write_file(&self.dir.join(META), text.as_bytes(), false)?;
        self.registration = Some(registration);
        Ok(())
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.pem.clone()
    }

    /// The CA certificate's id as AWS IoT names it: the SHA-256 of its DER, in hex.
    pub fn fingerprint(&self) -> String {
        super::identity::fingerprint(&self.pem).unwrap_or_default()
    }

    /// The proof of key possession `RegisterCACertificate` asks for: a certificate signed by
    /// the CA whose CN is the account's registration code.
    pub fn verification(&self, code: &str) -> Result<String, NodesError> {
        let key = KeyPair::generate().map_err(|e| ca_error(&self.dir, e.to_string(), None))?;
        let mut params = CertificateParams::new(Vec::new())
            .map_err(|e| ca_error(&self.dir, e.to_string(), None))?;
        params.distinguished_name.push(DnType::CommonName, code);
        validity(&mut params, 1);
        params
            .signed_by(&key, &self.issuer)
            .map(|c| c.pem())
            .map_err(|e| ca_error(&self.dir, format!("verification certificate: {e}"), None))
    }

    /// A node's certificate for `key`, signed here. Returns the PEM the node presents: its
    /// certificate then the CA's (the chain JITP reads on the first connection), and the id
    /// AWS IoT will give the certificate (SHA-256 of its DER).
    pub fn sign(
        &self,
        key: &NodeKey,
        node: &str,
        project: &str,
        chip: &str,
        batch: &str,
    ) -> Result<(String, String), NodesError> {
        let mut params = CertificateParams::new(Vec::new())
            .map_err(|e| ca_error(&self.dir, e.to_string(), None))?;
        let dn = &mut params.distinguished_name;
        dn.push(DnType::CommonName, node);
        dn.push(DnType::OrganizationName, project);
        dn.push(DnType::OrganizationalUnitName, chip);
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 46]), // dnQualifier
            batch,
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, NODE_DAYS);
        let cert = params
            .signed_by(key.key_pair(), &self.issuer)
            .map_err(|e| ca_error(&self.dir, format!("node {node}: {e}"), None))?;
        let id = hex(&Sha256::digest(cert.der()));
        Ok((format!("{}{}", cert.pem(), self.pem()), id))
    }
}

/// The CA's provisioning template (JITP): the node's thing in the stack's thing type, named by
/// the certificate's CN, with the attributes OTA binds to; the certificate activated; the node
/// policy attached. Thing attributes are merged into an existing thing's, never replaced.
pub fn provisioning_template(names: &Names) -> Value {
    let param = |field: &str| json!({ "Ref": format!("AWS::IoT::Certificate::{field}") });
    json!({
        "Parameters": {
            "AWS::IoT::Certificate::CommonName": {"Type": "String"},
            "AWS::IoT::Certificate::Organization": {"Type": "String"},
            "AWS::IoT::Certificate::OrganizationalUnit": {"Type": "String"},
            "AWS::IoT::Certificate::DistinguishedNameQualifier": {"Type": "String"},
            "AWS::IoT::Certificate::Id": {"Type": "String"}
        },
        "Resources": {
            "thing": {
                "Type": "AWS::IoT::Thing",
                "Properties": {
                    "ThingName": param("CommonName"),
                    "ThingTypeName": names.thing_type,
                    "AttributePayload": {
                        "project_name": param("Organization"),
                        "chip": param("OrganizationalUnit"),
                        "batch": param("DistinguishedNameQualifier")
                    }
                },
                "OverrideSettings": {
                    "AttributePayload": "MERGE",
                    "ThingTypeName": "REPLACE",
                    "ThingGroups": "DO_NOTHING"
                }
            },
            "certificate": {
                "Type": "AWS::IoT::Certificate",
                "Properties": {
                    "CertificateId": param("Id"),
                    "Status": "ACTIVE"
                }
            },
            "policy": {
                "Type": "AWS::IoT::Policy",
                "Properties": {"PolicyName": names.policy}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_certificates_carry_the_template_fields_and_chain_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = BatchCa::create(dir.path()).unwrap();
        let key = NodeKey::generate("A1B2C3D4E5F6").unwrap();
        let (chain, id) = ca
            .sign(&key, "A1B2C3D4E5F6", "light", "esp32c3", "b-1")
            .unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca.pem()));
        assert!(key.certified_by(&chain));
        assert_eq!(id.len(), 64);
        // the key is secret: 0600; the CA opens again from its folder with the same identity
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = BatchCa::open(dir.path()).unwrap();
        assert_eq!(again.fingerprint(), ca.fingerprint());
        // reopened, it signs as the same issuer: the node certificate names the CA's subject and
        // its signature verifies with the CA's key
        let (chain, _) = again
            .sign(&key, "A1B2C3D4E5F6", "light", "esp32c3", "b-1")
            .unwrap();
        let node_der = super::super::identity::pem_der(&chain).unwrap();
        let ca_der = super::super::identity::pem_der(&ca.pem()).unwrap();
        let (_, node) = x509_parser::parse_x509_certificate(&node_der).unwrap();
        let (_, root) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert_eq!(node.issuer(), root.subject());
        node.verify_signature(Some(root.public_key())).unwrap();
        assert_eq!(
            node.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "A1B2C3D4E5F6"
        );
    }

    #[test]
    fn the_template_declares_every_field_it_references() {
        let t = provisioning_template(&Names::of("rainmaker"));
        let text = t.to_string();
        for field in text.split("\"Ref\":\"").skip(1) {
            let name = field.split('"').next().unwrap();
            assert!(
                t["Parameters"].get(name).is_some(),
                "{name} is not declared"
            );
        }
        assert_eq!(
            t["Resources"]["thing"]["Properties"]["ThingTypeName"],
            "rainmaker-esp-node"
        );
        assert_eq!(
            t["Resources"]["policy"]["Properties"]["PolicyName"],
            "rainmaker-node"
        );
        // RegisterCACertificate takes at most 10,240 characters of template
        assert!(text.len() < 10_240);
    }
}
