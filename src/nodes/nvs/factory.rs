//! The factory NVS partition of an ESP RainMaker node: what stock firmware reads to connect.
//!
//! What the firmware reads (espressif/esp-rainmaker): `esp_rmaker_factory_init` opens the NVS
//! partition `CONFIG_ESP_RMAKER_FACTORY_PARTITION_NAME` (default `fctry`), and
//! `esp_rmaker_factory_get(key)` (`components/rmaker_common/src/factory.c`) reads each value with
//! `nvs_get_blob` from namespace `CONFIG_ESP_RMAKER_FACTORY_NAMESPACE` (default `rmaker_creds`)
//! and adds a NUL itself. Every value must therefore be a **blob**, strings included: an NVS
//! string (`nvs_set_str`) is another type and `nvs_get_blob` does not find it. The keys:
//!
//! | key | read by | holds |
//! |---|---|---|
//! | `node_id` | `esp_rmaker_populate_node_id` (`esp_rmaker_core.c`) | the node id, without NUL |
//! | `mqtt_host` | `esp_rmaker_get_mqtt_host` (`ESP_RMAKER_MQTT_HOST_NVS_KEY`) | the `iot:Data-ATS` endpoint |
//! | `mqtt_cred_host` | `esp_rmaker_aws_credentials.c` (`RMAKER_CREDENTIAL_ENDPOINT_KEY`) | the credential provider endpoint |
//! | `client_cert` | `esp_rmaker_get_client_cert` (`ESP_RMAKER_CLIENT_CERT_NVS_KEY`) | the node's certificate, PEM |
//! | `client_key` | `esp_rmaker_get_client_key` (`ESP_RMAKER_CLIENT_KEY_NVS_KEY`) | its private key, PEM |
//! | `random` | `ESP_RMAKER_CLIENT_RANDOM_NVS_KEY`; the examples' `app_network` PoP | 64 random bytes |
//!
//! The proof of possession the examples use (`POP_TYPE_RANDOM`) is the first 4 bytes of
//! `random` in hex ([`FactoryCreds::pop`]).
//!
//! `esp-rainmaker-cli claim` (1.14.1, `rmaker_claim/claim.py`) writes these entries as a CSV in
//! this order (`set_csv_file_data`, then `save_random_hex_str` appends `random,file,hex2bin`),
//! every other row `file,binary`, and runs `nvs_partition_gen.generate` with `size=0x6000,
//! version=2`; [`FactoryCreds::image`] gives the same bytes. The CLI lists `mqtt_cred_host`
//! always, so it needs the cloud's `mqtt_host` answer to carry one.

use std::fmt;

use super::{image, Entry, Value, WriteError};

/// The partition the firmware reads its credentials from.
pub const FACTORY_PARTITION: &str = "fctry";
/// The namespace of the credentials.
pub const FACTORY_NAMESPACE: &str = "rmaker_creds";
/// The size `esp-rainmaker-cli claim` gives the partition image (the examples' `fctry` entry).
pub const FACTORY_PARTITION_SIZE: usize = 0x6000;
/// Bytes of `random`: `gen_hex_str(octets=64)` in the CLI.
pub const RANDOM_LEN: usize = 64;

/// The credentials of one node, as its factory partition holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct FactoryCreds {
    pub node_id: String,
    pub mqtt_host: String,
    pub mqtt_cred_host: String,
    /// PEM.
    pub client_cert: String,
    /// PEM; secret.
    pub client_key: String,
    /// Secret: the proof of possession comes from it.
    pub random: [u8; RANDOM_LEN],
}

impl FactoryCreds {
    /// The entries, in the order of the CLI's CSV.
    pub fn entries(&self) -> Vec<Entry> {
        let blob = |key: &str, bytes: &[u8]| {
            Entry::new(FACTORY_NAMESPACE, key, Value::Blob(bytes.to_vec()))
        };
        vec![
            blob("node_id", self.node_id.as_bytes()),
            blob("mqtt_host", self.mqtt_host.as_bytes()),
            blob("mqtt_cred_host", self.mqtt_cred_host.as_bytes()),
            blob("client_cert", self.client_cert.as_bytes()),
            blob("client_key", self.client_key.as_bytes()),
            blob("random", &self.random),
        ]
    }

    /// The partition image, [`FACTORY_PARTITION_SIZE`] bytes.
    pub fn image(&self) -> Result<Vec<u8>, WriteError> {
        image(&self.entries(), FACTORY_PARTITION_SIZE)
    }

    /// The proof of possession of the examples' `POP_TYPE_RANDOM`: `random[0..4]` in hex.
    pub fn pop(&self) -> String {
        self.random[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Never shows the key nor the random bytes.
impl fmt::Debug for FactoryCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FactoryCreds")
            .field("node_id", &self.node_id)
            .field("mqtt_host", &self.mqtt_host)
            .field("mqtt_cred_host", &self.mqtt_cred_host)
            .field(
                "client_cert",
                &format_args!("{} bytes", self.client_cert.len()),
            )
            .field(
                "client_key",
                &format_args!("<{} bytes>", self.client_key.len()),
            )
            .field("random", &format_args!("<{RANDOM_LEN} bytes>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, PAGE_SIZE};
    use super::*;

    fn creds(cert_len: usize) -> FactoryCreds {
        FactoryCreds {
            node_id: "a1B2c3D4e5F6g7H8i9J0kL".into(),
            mqtt_host: "a3k7odshaiipe8-ats.iot.us-east-1.amazonaws.com".into(),
            mqtt_cred_host: "c1pgr4q4mx0ba6.credentials.iot.us-east-1.amazonaws.com".into(),
            client_cert: "C".repeat(cert_len),
            client_key: "-----BEGIN EC PRIVATE KEY-----\nsecret\n".into(),
            random: std::array::from_fn(|i| i as u8 ^ 0x5A),
        }
    }

    #[test]
    fn the_image_holds_the_six_blobs_in_the_clis_order() {
        let c = creds(1200);
        let img = c.image().unwrap();
        assert_eq!(img.len(), 0x6000);
        let entries = decode(&img).unwrap();
        let keys: Vec<_> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "node_id",
                "mqtt_host",
                "mqtt_cred_host",
                "client_cert",
                "client_key",
                "random"
            ]
        );
        assert!(entries
            .iter()
            .all(|e| e.namespace == "rmaker_creds" && matches!(e.value, Value::Blob(_))));
        assert_eq!(entries, c.entries());
        assert_eq!(c.pop(), "5a5b5859");
    }

    #[test]
    fn a_certificate_chain_spanning_pages_still_fits() {
        let c = creds(3 * PAGE_SIZE);
        assert_eq!(decode(&c.image().unwrap()).unwrap(), c.entries());
        assert!(matches!(
            creds(6 * PAGE_SIZE).image(),
            Err(WriteError::DoesNotFit { .. })
        ));
    }

    #[test]
    fn debug_hides_the_secrets() {
        let shown = format!("{:?}", creds(10));
        assert!(
            !shown.contains("secret") && !shown.contains("90, 91"),
            "{shown}"
        );
        assert!(shown.contains("a1B2c3D4e5F6g7H8i9J0kL"), "{shown}");
    }
}
