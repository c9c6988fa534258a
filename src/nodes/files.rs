//! The files of a factory batch (see [`super::batch`] for the layout): each node's image, CSV
//! and QR payload, and the batch's common files, in `esp-rainmaker-admin-cli`'s formats.

use std::fmt::Write as _;

use super::batch::{csv_field, write_file, Batch, Slot};
use super::error::NodesError;
use super::identity::{fingerprint, hex, qr_payload, unhex};
use super::nvs::{FactoryCreds, RANDOM_LEN};

/// The manufacturing tool's config (`common/config.csv`), as the admin tool writes it
/// (`_create_mfg_config_file`).
pub const MFG_CONFIG: &str = "rmaker_creds,namespace,\nnode_id,data,binary\nmqtt_host,data,binary\nmqtt_cred_host,data,binary\nclient_cert,file,binary\nclient_key,file,binary\nrandom,data,hex2bin\n";

/// A node's key and random bytes, written 0600 before anything is asked of AWS.
pub fn write_secrets(
    batch: &Batch,
    slot: &Slot,
    key_pem: &str,
    random: &[u8],
) -> Result<(), NodesError> {
    write_file(&batch.random_path(slot), hex(random).as_bytes(), true)?;
    write_file(&batch.key_path(slot), key_pem.as_bytes(), true)
}

pub fn read(path: &std::path::Path) -> Result<String, NodesError> {
    std::fs::read_to_string(path).map_err(|e| NodesError::io(path, e))
}

/// The random bytes of a node, from its `random.txt`.
pub fn read_random(batch: &Batch, slot: &Slot) -> Result<[u8; RANDOM_LEN], NodesError> {
    let path = batch.random_path(slot);
    unhex(&read(&path)?)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| NodesError::Journal {
            path,
            reason: format!("not {RANDOM_LEN} bytes in hex"),
        })
}

/// The node's factory credentials, from its files.
pub fn creds(batch: &Batch, slot: &Slot) -> Result<FactoryCreds, NodesError> {
    Ok(FactoryCreds {
        node_id: slot.node_id.clone(),
        mqtt_host: batch.meta.mqtt_host.clone(),
        mqtt_cred_host: batch.meta.mqtt_cred_host.clone(),
        client_cert: read(&batch.cert_path(slot))?,
        client_key: read(&batch.key_path(slot))?,
        random: read_random(batch, slot)?,
    })
}

/// The generator's CSV of a node's image (`csv/`): the admin tool's config with this node's
/// values, certificate and key by path. `esp_idf_nvs_partition_gen generate <csv> <bin> 0x6000`
/// makes the same image as `bin/`.
pub fn nvs_csv(batch: &Batch, slot: &Slot, random: &[u8]) -> String {
    let m = &batch.meta;
    let path = |p: std::path::PathBuf| csv_field(&p.display().to_string());
    format!(
        "key,type,encoding,value\nrmaker_creds,namespace,,\nnode_id,data,binary,{}\nmqtt_host,data,binary,{}\nmqtt_cred_host,data,binary,{}\nclient_cert,file,binary,{}\nclient_key,file,binary,{}\nrandom,data,hex2bin,{}\n",
        slot.node_id,
        csv_field(&m.mqtt_host),
        csv_field(&m.mqtt_cred_host),
        path(batch.cert_path(slot)),
        path(batch.key_path(slot)),
        hex(random)
    )
}

/// A node's image, CSV and QR payload.
pub fn write_node(batch: &Batch, slot: &Slot) -> Result<(), NodesError> {
    let creds = creds(batch, slot)?;
    let image = creds.image().map_err(|e| NodesError::Image {
        node: slot.node_id.clone(),
        reason: e.to_string(),
    })?;
    let qr = qr_payload(&creds.random, &batch.meta.transport).to_string();
    write_file(&batch.qrcode_path(slot), qr.as_bytes(), false)?;
    write_file(
        &batch.csv_path(slot),
        nvs_csv(batch, slot, &creds.random).as_bytes(),
        false,
    )?;
    write_file(&batch.bin_path(slot), &image, false)
}

/// One written node, for the common files and the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    pub index: usize,
    pub node_id: String,
    pub mac: Option<String>,
    pub cert_sha256: String,
    pub certificate_id: String,
    pub image: String,
}

/// The batch's common files and manifest, from the nodes written so far (rewritten whole on
/// every run, so they always list exactly the finished nodes).
pub fn write_common(batch: &Batch, written: &[&Slot]) -> Result<Vec<Written>, NodesError> {
    let m = &batch.meta;
    let mut certs = String::from("node_id,certs,qrcode\n");
    let mut ids = String::from("node_id\n");
    let mut values =
        String::from("id,node_id,mqtt_host,mqtt_cred_host,client_cert,client_key,random,qrcode\n");
    let mut qrcodes = String::from("node_id,name,pop,transport,payload\n");
    let mut manifest = String::from("node_id,mac,cert_sha256\n");
    let mut rows = Vec::with_capacity(written.len());
    for slot in written {
        let cert = read(&batch.cert_path(slot))?;
        let random = read_random(batch, slot)?;
        let qr = qr_payload(&random, &m.transport);
        let qr_text = qr.to_string();
        let sha = fingerprint(&cert).unwrap_or_default();
        let mac = slot.mac.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(
            certs,
            "{},{},{}",
            slot.node_id,
            csv_field(&cert),
            csv_field(&qr_text)
        );
        let _ = writeln!(ids, "{}", slot.node_id);
        let _ = writeln!(
            values,
            "{},{},{},{},{},{},{},{}",
            slot.index,
            slot.node_id,
            csv_field(&m.mqtt_host),
            csv_field(&m.mqtt_cred_host),
            csv_field(&batch.cert_path(slot).display().to_string()),
            csv_field(&batch.key_path(slot).display().to_string()),
            hex(&random),
            csv_field(&qr_text)
        );
        let _ = writeln!(
            qrcodes,
            "{},{},{},{},{}",
            slot.node_id,
            qr["name"].as_str().unwrap_or_default(),
            qr["pop"].as_str().unwrap_or_default(),
            m.transport,
            csv_field(&qr_text)
        );
        let _ = writeln!(manifest, "{},{},{}", slot.node_id, mac, sha);
        rows.push(Written {
            index: slot.index,
            node_id: slot.node_id.clone(),
            mac: slot.mac.clone(),
            cert_sha256: sha,
            certificate_id: slot.cert.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
            image: batch.bin_path(slot).display().to_string(),
        });
    }
    write_file(&batch.common("node_certs.csv"), certs.as_bytes(), false)?;
    write_file(&batch.common("node_ids.csv"), ids.as_bytes(), false)?;
    write_file(&batch.common("values.csv"), values.as_bytes(), false)?;
    write_file(&batch.common("qrcodes.csv"), qrcodes.as_bytes(), false)?;
    write_file(&batch.common("config.csv"), MFG_CONFIG.as_bytes(), false)?;
    write_file(&batch.common("endpoint.txt"), m.mqtt_host.as_bytes(), false)?;
    write_file(
        &batch.common("mqtt_cred_host.txt"),
        m.mqtt_cred_host.as_bytes(),
        false,
    )?;
    write_file(&batch.dir.join("manifest.csv"), manifest.as_bytes(), false)?;
    Ok(rows)
}
