//! The `esp_node_config` rule: a node's configuration (`info`, `devices`, `services`), published
//! on `node/<id>/config` after boot. Kept per node in the nodes table; an older or repeated
//! delivery changes nothing.
//!
//! The same function takes the `esp_node_presence` rule: AWS IoT lifecycle events
//! (`$aws/events/presence/connected/<node_id>`, `.../disconnected/...`), kept as the node's
//! `connected` flag and `presence_at` (the event's own time, so late events do not win).
//!
//! A node's `node_key` is its reported project and chip (`<project>#<chip>`); while it is
//! connected its `online_key` holds the same, so the nodes table's sparse index
//! [`crate::online::ONLINE_INDEX`]
//! (hash `online_key`, range `fw_version`) lists the online nodes of a project and chip that run
//! another version than a job's: whom `ota-fetch` offers a new job to without waiting for a fetch.
//!
//! A Thread node's `network-id` attribute (see [`crate::ota_network`]) is kept as `network_id`,
//! and removed when a later config has none: the network its OTA sessions count against.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_runtime::Error;
use serde_json::{Map, Value};

use crate::event::RuleEvent;
use crate::online::node_key;
use crate::store::{condition_failed, dropped};

#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub node_id: String,
    pub received_at: i64,
    pub config: Map<String, Value>,
    pub fw_version: Option<String>,
    pub project: Option<String>,
    pub platform: Option<String>,
    /// The Thread network the node reports (its `network-id` attribute, see
    /// [`crate::ota_network`]); `None` for a Wi-Fi node, or when the value is not a network id.
    pub network_id: Option<String>,
}

impl NodeConfig {
    pub fn parse(event: Value) -> Result<NodeConfig, String> {
        let e = RuleEvent::parse(event)?;
        let info = e
            .payload
            .get("info")
            .and_then(Value::as_object)
            .ok_or("the config has no `info` object")?;
        let text = |k: &str| info.get(k).and_then(Value::as_str).map(str::to_string);
        let (fw_version, project, platform) =
            (text("fw_version"), text("project_name"), text("platform"));
        let mut config = e.payload;
        let network_id = match crate::ota_network::from_config(&config) {
            Ok(id) => id,
            Err(why) => {
                tracing::warn!(node_id = %e.node_id, reason = %why, "ignoring the config's network id");
                None
            }
        };
        // A node with services only (no devices) leaves `devices` out
        // (esp_rmaker_node_config.c, `esp_rmaker_report_devices_or_services`): it is `[]`.
        match config.get("devices") {
            None | Some(Value::Null) => {
                config.insert("devices".into(), Value::Array(Vec::new()));
            }
            Some(Value::Array(_)) => {}
            Some(_) => return Err("the config's `devices` is not a list".into()),
        }
        // The stored config names its node, as the firmware's own does (the rule checked it).
        config.insert("node_id".into(), Value::String(e.node_id.clone()));
        Ok(NodeConfig {
            fw_version,
            project,
            platform,
            network_id,
            node_id: e.node_id,
            received_at: e.received_at,
            config,
        })
    }
}

/// A lifecycle event of a node's MQTT connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pub node_id: String,
    pub connected: bool,
    /// The event's `timestamp` (ms), else the rule's time.
    pub at: i64,
}

impl Presence {
    pub fn is_presence(event: &Value) -> bool {
        event["topic"]
            .as_str()
            .is_some_and(|t| t.starts_with("$aws/events/presence/"))
    }

    pub fn parse(event: Value) -> Result<Presence, String> {
        let e = RuleEvent::parse(event)?;
        let connected = match e.payload.get("eventType").and_then(Value::as_str) {
            Some("connected") => true,
            Some("disconnected") => false,
            other => {
                return Err(format!(
                    "eventType {other:?} is not connected or disconnected"
                ))
            }
        };
        Ok(Presence {
            connected,
            at: e
                .payload
                .get("timestamp")
                .and_then(Value::as_i64)
                .unwrap_or(e.received_at),
            node_id: e.node_id,
        })
    }
}

async fn presence(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    let p = match Presence::parse(event) {
        Ok(p) => p,
        Err(why) => return Ok(dropped("presence event", &why)),
    };
    let update = |expression: &str, condition: &str| {
        db.update_item()
            .table_name(table)
            .key("node_id", AttributeValue::S(p.node_id.clone()))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#c", "connected")
            .expression_attribute_names("#p", "presence_at")
            .expression_attribute_values(":c", AttributeValue::Bool(p.connected))
            .expression_attribute_values(":t", AttributeValue::N(p.at.to_string()))
    };
    let newer = "(attribute_not_exists(#p) OR #p < :t)";
    let result = if p.connected {
        // online: listed under its project and chip, once its config has named them
        let listed = update(
            "SET #c = :c, #p = :t, online_key = node_key",
            &format!("{newer} AND attribute_exists(node_key)"),
        )
        .send()
        .await;
        match listed {
            Err(err) if condition_failed(&err) => {
                update("SET #c = :c, #p = :t", newer).send().await
            }
            other => other,
        }
    } else {
        update("SET #c = :c, #p = :t REMOVE online_key", newer)
            .send()
            .await
    };
    match result {
        Ok(_) => Ok(serde_json::json!({ "stored": true, "connected": p.connected })),
        Err(err) if condition_failed(&err) => {
            Ok(serde_json::json!({ "stored": false, "reason": "duplicate or older" }))
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn handle(db: &Client, table: &str, event: Value) -> Result<Value, Error> {
    if Presence::is_presence(&event) {
        return presence(db, table, event).await;
    }
    let c = match NodeConfig::parse(event) {
        Ok(c) => c,
        Err(why) => return Ok(dropped("node config", &why)),
    };
    let mut update = db
        .update_item()
        .table_name(table)
        .key("node_id", AttributeValue::S(c.node_id.clone()))
        .condition_expression("attribute_not_exists(#config_at) OR #config_at < :t")
        .expression_attribute_values(":t", AttributeValue::N(c.received_at.to_string()))
        .expression_attribute_values(
            ":c",
            AttributeValue::S(Value::Object(c.config.clone()).to_string()),
        );
    // Every attribute through a name placeholder: `project` and others are reserved words.
    let mut set = vec!["#config = :c", "#config_at = :t"];
    update = update
        .expression_attribute_names("#config", "config")
        .expression_attribute_names("#config_at", "config_at");
    let key = match (&c.project, &c.platform) {
        (Some(project), Some(platform)) => Some(node_key(project, platform)),
        _ => None,
    };
    let mut remove = Vec::new();
    for (name, placeholder, assignment, value) in [
        ("fw_version", ":v", "#fw_version = :v", &c.fw_version),
        ("project", ":p", "#project = :p", &c.project),
        ("platform", ":f", "#platform = :f", &c.platform),
        ("node_key", ":k", "#node_key = :k", &key),
        ("network_id", ":n", "#network_id = :n", &c.network_id),
    ] {
        if let Some(v) = value {
            update = update
                .expression_attribute_values(placeholder, AttributeValue::S(v.clone()))
                .expression_attribute_names(format!("#{name}"), name);
            set.push(assignment);
        } else if name == "network_id" {
            // a node that left its Thread network (or never had one) counts as without one
            update = update.expression_attribute_names("#network_id", name);
            remove.push("#network_id");
        }
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    match update
        .update_expression(expression)
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
        .send()
        .await
    {
        Ok(out) => {
            // a connected node whose project or chip changed is listed under the new ones
            let attributes = out.attributes().cloned().unwrap_or_default();
            let connected = attributes.get("connected") == Some(&AttributeValue::Bool(true));
            let listed = attributes.get("online_key").and_then(|v| v.as_s().ok());
            if let Some(key) = key.filter(|k| connected && listed != Some(k)) {
                let relist = db
                    .update_item()
                    .table_name(table)
                    .key("node_id", AttributeValue::S(c.node_id.clone()))
                    .update_expression("SET online_key = :k")
                    .condition_expression("#c = :yes")
                    .expression_attribute_names("#c", "connected")
                    .expression_attribute_values(":k", AttributeValue::S(key))
                    .expression_attribute_values(":yes", AttributeValue::Bool(true))
                    .send()
                    .await;
                match relist {
                    Ok(_) => {}
                    Err(err) if condition_failed(&err) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            Ok(serde_json::json!({ "stored": true }))
        }
        Err(err) if condition_failed(&err) => {
            tracing::info!(node_id = %c.node_id, "config already stored or older");
            Ok(serde_json::json!({ "stored": false, "reason": "duplicate or older" }))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{node_message, rule_output};
    use serde_json::json;

    #[test]
    fn presence_events_as_aws_iot_sends_them() {
        // the lifecycle event AWS IoT publishes, as the esp_node_presence rule hands it over
        let lifecycle = json!({"clientId": "9C9E6E2A1B2C", "timestamp": 1_764_000_000_999_i64,
            "eventType": "disconnected", "clientInitiatedDisconnect": false,
            "sessionIdentifier": "00000000-0000-0000-0000-000000000000",
            "principalIdentifier": "abc", "disconnectReason": "CONNECTION_LOST", "versionNumber": 3});
        let event = rule_output(
            "9C9E6E2A1B2C",
            "$aws/events/presence/disconnected/9C9E6E2A1B2C",
            lifecycle.to_string().as_bytes(),
            1_764_000_001_000,
        );
        assert!(Presence::is_presence(&event));
        let p = Presence::parse(event).unwrap();
        assert_eq!((p.connected, p.at), (false, 1_764_000_000_999));
        let other = rule_output(
            "n",
            "$aws/events/presence/subscribed/n",
            br#"{"eventType": "subscribed"}"#,
            1,
        );
        assert!(Presence::parse(other).is_err());
        assert!(!Presence::is_presence(&node_message(
            "n",
            "config",
            &json!({}),
            1
        )));
    }

    /// What ESP RainMaker firmware publishes on node/<id>/config.
    fn config_payload() -> Value {
        json!({
            "node_id": "9C9E6E2A1B2C",
            "config_version": "2020-03-20",
            "info": {"name": "ESP RainMaker Device", "fw_version": "1.2.0", "type": "Lightbulb",
                     "model": "led-light", "project_name": "led_light", "platform": "esp32c3"},
            "devices": [{"name": "Light", "type": "esp.device.lightbulb", "primary": "Power",
                         "params": [{"name": "Power", "data_type": "bool", "properties": ["read", "write"]}]}],
            "services": []
        })
    }

    fn device_config() -> Value {
        node_message(
            "9C9E6E2A1B2C",
            "config",
            &config_payload(),
            1_764_000_000_000,
        )
    }

    #[test]
    fn a_device_config_is_read_with_its_firmware_facts() {
        let c = NodeConfig::parse(device_config()).unwrap();
        assert_eq!(c.node_id, "9C9E6E2A1B2C");
        assert_eq!(c.fw_version.as_deref(), Some("1.2.0"));
        assert_eq!(c.project.as_deref(), Some("led_light"));
        assert_eq!(c.platform.as_deref(), Some("esp32c3"));
        assert!(c.config.contains_key("devices"));
        assert!(
            !c.config.contains_key("received_at"),
            "rule fields are not stored"
        );
        let mut forged = config_payload();
        forged["node_id"] = json!("someone-else");
        assert!(NodeConfig::parse(node_message("9C9E6E2A1B2C", "config", &forged, 1)).is_err());
    }

    #[test]
    fn a_thread_node_s_network_id_is_read_and_a_malformed_one_ignored() {
        let with = |value: Value| {
            let mut p = config_payload();
            p["attributes"] = json!([{"name": "cmd-resp", "value": "1"},
                                     {"name": "network-id", "value": value}]);
            NodeConfig::parse(node_message("9C9E6E2A1B2C", "config", &p, 1)).unwrap()
        };
        assert_eq!(
            with(json!("1819624384")).network_id.as_deref(),
            Some("1819624384")
        );
        assert_eq!(with(json!("a#b")).network_id, None);
        assert_eq!(with(json!(12)).network_id, None);
        assert_eq!(NodeConfig::parse(device_config()).unwrap().network_id, None);
    }

    #[test]
    fn configs_without_info_or_with_odd_devices_are_refused() {
        let mut no_info = config_payload();
        no_info.as_object_mut().unwrap().remove("info");
        assert!(NodeConfig::parse(node_message("9C9E6E2A1B2C", "config", &no_info, 1)).is_err());
        let mut odd_devices = config_payload();
        odd_devices["devices"] = json!({});
        assert!(
            NodeConfig::parse(node_message("9C9E6E2A1B2C", "config", &odd_devices, 1)).is_err()
        );
    }

    #[test]
    fn a_config_without_devices_has_none_and_names_its_node() {
        let mut services_only = config_payload();
        let map = services_only.as_object_mut().unwrap();
        map.remove("devices");
        map.remove("node_id");
        let c =
            NodeConfig::parse(node_message("9C9E6E2A1B2C", "config", &services_only, 1)).unwrap();
        assert_eq!(c.config["devices"], json!([]));
        assert_eq!(c.config["node_id"], "9C9E6E2A1B2C");
    }
}
