//! What the cloud sends a node: `params/remote`, `otaurl` and `to-node`, published with QoS 1 on
//! `node/<node_id>/<suffix>` through the IoT data plane.

use aws_sdk_iotdataplane::primitives::Blob;
use aws_sdk_iotdataplane::Client;
use lambda_runtime::Error;
use serde_json::Value;

/// The topic of a cloud-to-node message.
pub fn topic(node_id: &str, suffix: &str) -> String {
    format!("node/{node_id}/{suffix}")
}

pub async fn publish(
    iot: &Client,
    node_id: &str,
    suffix: &str,
    payload: &Value,
) -> Result<(), Error> {
    publish_bytes(iot, node_id, suffix, payload.to_string().into_bytes()).await
}

/// [`publish`] of bytes (`to-node` carries TLV8, not JSON).
pub async fn publish_bytes(
    iot: &Client,
    node_id: &str,
    suffix: &str,
    payload: Vec<u8>,
) -> Result<(), Error> {
    iot.publish()
        .topic(topic(node_id, suffix))
        .qos(1)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| {
            format!(
                "publishing to {}: {}",
                topic(node_id, suffix),
                aws_sdk_iotdataplane::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}
