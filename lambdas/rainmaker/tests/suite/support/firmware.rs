//! What stock ESP RainMaker firmware publishes, byte for byte, each message written from the
//! firmware's own code path (espressif/esp-rainmaker, components/esp_rainmaker; esp-rainmaker-common
//! for command-response), cited at each function. Topics are built as
//! `esp_rmaker_create_mqtt_topic` builds them (src/mqtt/esp_rmaker_mqtt.c): with
//! `CONFIG_ESP_RMAKER_MQTT_USE_BASIC_INGEST_TOPICS` (default y) a message to the cloud goes to
//! `$aws/rules/<rule>/node/<node_id>/<suffix>`, rule and suffix from src/core/esp_rmaker_mqtt_topics.h.

use serde_json::{json, Value};

/// A message as the firmware publishes it.
pub struct Message {
    pub topic: String,
    pub bytes: Vec<u8>,
}

/// `esp_rmaker_create_mqtt_topic(buf, size, suffix, rule)`.
pub fn basic_ingest(rule: &str, node: &str, suffix: &str) -> String {
    format!("$aws/rules/{rule}/node/{node}/{suffix}")
}

fn json_message(topic: String, payload: &Value) -> Message {
    Message {
        topic,
        bytes: serde_json::to_vec(payload).unwrap(),
    }
}

/// `esp_rmaker_report_node_config` (src/core/esp_rmaker_node_config.c): `esp_rmaker_report_info`
/// (node_id, config_version, info), then `esp_rmaker_report_devices_or_services` for `devices`
/// and `services`; rule `esp_node_config`, suffix `config`. The stock switch example.
pub fn config(node: &str, project: &str, platform: &str, fw_version: &str) -> Message {
    json_message(
        basic_ingest("esp_node_config", node, "config"),
        &json!({"node_id": node, "config_version": "2020-03-20",
            "info": {"name": "ESP RainMaker Device", "fw_version": fw_version, "type": "Switch",
                     "model": project, "project_name": project, "platform": platform},
            "devices": [{"name": "Switch", "type": "esp.device.switch", "primary": "Power",
                "params": [
                    {"name": "Name", "type": "esp.param.name", "data_type": "string", "properties": ["read", "write"]},
                    {"name": "Power", "type": "esp.param.power", "data_type": "bool", "properties": ["read", "write"], "ui_type": "esp.ui.toggle"}]}],
            "services": [{"name": "Connectivity", "type": "esp.service.connectivity",
                "params": [{"name": "Connected", "data_type": "bool", "properties": ["read"]}]}]}),
    )
}

/// A node with services only: `esp_rmaker_report_devices_or_services` pushes the `devices` array
/// before it filters on `is_service`, so it is empty; a node with no entries at all leaves both
/// keys out (`if (!device) return ESP_OK;`).
pub fn config_without_devices(node: &str) -> Message {
    json_message(
        basic_ingest("esp_node_config", node, "config"),
        &json!({"node_id": node, "config_version": "2020-03-20",
            "info": {"name": "Bridge", "fw_version": "1.0", "type": "Bridge",
                     "project_name": "bridge", "platform": "esp32"}}),
    )
}

/// `esp_rmaker_report_node_state` (src/core/esp_rmaker_param.c), after subscribing to
/// `params/remote`: every param (flags 0); rule `esp_init_params`, suffix `params/local/init`.
pub fn init_params(node: &str, params: &Value) -> Message {
    json_message(
        basic_ingest("esp_init_params", node, "params/local/init"),
        params,
    )
}

/// `esp_rmaker_report_updated_params` -> `esp_rmaker_report_param_internal(VALUE_CHANGE)`
/// (src/core/esp_rmaker_param.c): only the params whose flag is set; rule `esp_set_params`.
pub fn changed_params(node: &str, params: &Value) -> Message {
    json_message(basic_ingest("esp_set_params", node, "params/local"), params)
}

/// The same report with an active group id (`active_group_id`, set by the Groups service):
/// `node/%s/params/local/%s`, a plain topic, never basic ingest.
pub fn group_params(node: &str, group: &str, params: &Value) -> Message {
    json_message(format!("node/{node}/params/local/{group}"), params)
}

/// The MQTT last will (src/core/esp_rmaker_connectivity.c, `LWT_DISCONNECT_MESSAGE`), published
/// by the broker on `node/%s/params/local` when the node drops off.
pub fn last_will(node: &str) -> Message {
    Message {
        topic: format!("node/{node}/params/local"),
        bytes: br#"{"Connectivity":{"Connected":false}}"#.to_vec(),
    }
}

/// `esp_rmaker_raise_alert` (src/core/esp_rmaker_param.c): `snprintf(buf, ..., "{\"%s\":\"%s\"}",
/// ESP_RMAKER_ALERT_KEY, msg)` with the text unescaped and cut at `ESP_RMAKER_MAX_ALERT_LEN`
/// (100); rule `esp_node_alert`, suffix `alert`.
pub fn raise_alert(node: &str, text: &str) -> Message {
    let msg: String = text.chars().take(100).collect();
    Message {
        topic: basic_ingest("esp_node_alert", node, "alert"),
        bytes: format!("{{\"esp.alert.str\":\"{msg}\"}}").into_bytes(),
    }
}

/// `esp_rmaker_param_notify` -> `esp_rmaker_report_param_internal(VALUE_NOTIFY)`: the notified
/// params on the alert topic (examples/switch/main/app_driver.c, `push_btn_cb`). The firmware
/// then reports the same values on `params/local`.
pub fn param_notify(node: &str, params: &Value) -> Message {
    json_message(basic_ingest("esp_node_alert", node, "alert"), params)
}

/// `esp_rmaker_param_report_time_series` (src/core/esp_rmaker_param.c): `ts_data_version`
/// "2021-09-13", one series `name` "<device>.<param>", `type`, `dt`, `records` [{t, v}]; rule
/// `esp_ts_ingest`, suffix `tsdata`.
pub fn tsdata(node: &str, name: &str, t: i64, v: f64) -> Message {
    json_message(
        basic_ingest("esp_ts_ingest", node, "tsdata"),
        &json!({"ts_data_version": "2021-09-13", "ts_data": [{"name": name,
            "type": "esp.param.temperature", "dt": "float", "records": [{"t": t, "v": v}]}]}),
    )
}

/// `esp_rmaker_simple_ts_data_report_internal` (src/core/esp_rmaker_param.c): one value, `d` the
/// days to keep it (`esp_rmaker_param_add_simple_time_series_ttl`); rule `esp_simple_ts_ingest`,
/// suffix `simple_tsdata` (the topic as esp-rainmaker-cli builds it: the firmware's macro values
/// are not in the public sources read).
pub fn simple_tsdata(node: &str, name: &str, t: i64, v: f64, days: Option<i64>) -> Message {
    let mut p =
        json!({"name": name, "type": "esp.param.temperature", "dt": "float", "t": t, "v": v});
    if let Some(d) = days {
        p["d"] = json!(d);
    }
    json_message(
        basic_ingest("esp_simple_ts_ingest", node, "simple_tsdata"),
        &p,
    )
}

/// `esp_rmaker_cmd_resp_check_pending` (src/core/esp_rmaker_cmd_resp_manager.c), on every MQTT
/// connect: `esp_rmaker_cmd_prepare_empty_response()`, rule `esp_cmd_resp`, suffix `from-node`.
/// Older esp-rainmaker-common: request id (empty) and command 0; newer: also status 0.
pub fn pending_commands_poll(node: &str, newer: bool) -> Message {
    Message {
        topic: basic_ingest("esp_cmd_resp", node, "from-node"),
        bytes: if newer {
            vec![1, 0, 3, 1, 0, 5, 2, 0, 0]
        } else {
            vec![1, 0, 5, 2, 0, 0]
        },
    }
}

/// The answer to a command (esp-rainmaker-common `esp_rmaker_cmd_prepare_payload`): request id,
/// status, command (little-endian), data (the JSON without its NUL).
pub fn command_response(
    node: &str,
    request_id: &str,
    status: u8,
    cmd: u16,
    data: &Value,
) -> Message {
    let data = data.to_string();
    let mut b = vec![1, request_id.len() as u8];
    b.extend_from_slice(request_id.as_bytes());
    b.extend_from_slice(&[3, 1, status, 5, 2]);
    b.extend_from_slice(&cmd.to_le_bytes());
    b.extend_from_slice(&[6, data.len() as u8]);
    b.extend_from_slice(data.as_bytes());
    Message {
        topic: basic_ingest("esp_cmd_resp", node, "from-node"),
        bytes: b,
    }
}

/// `__esp_rmaker_ota_fetch` (src/ota/esp_rmaker_ota_using_topics.c): `node_id`, `fw_version`;
/// rule `esp_node_otafetch`, suffix `otafetch`.
pub fn otafetch(node: &str, fw_version: &str) -> Message {
    json_message(
        basic_ingest("esp_node_otafetch", node, "otafetch"),
        &json!({"node_id": node, "fw_version": fw_version}),
    )
}

/// `esp_rmaker_ota_report_status_using_topics` (same file): `ota_job_id`, `status`
/// (`esp_rmaker_ota_status_to_string`), `additional_info`, `ts`; rule `esp_node_otastatus`.
pub fn otastatus(node: &str, job: &str, status: &str, info: &str, ts: i64) -> Message {
    json_message(
        basic_ingest("esp_node_otastatus", node, "otastatus"),
        &json!({"ota_job_id": job, "status": status, "additional_info": info, "ts": ts}),
    )
}

/// `esp_rmaker_user_mapping_cb` (src/core/esp_rmaker_user_mapping.c), the flow without
/// challenge-response: `node_id`, `user_id`, `secret_key`, and `reset` when the user is new to
/// the node (`CONFIG_ESP_RMAKER_USER_ID_CHECK`); rule `esp_user_node_mapping`.
pub fn user_mapping(node: &str, user: &str, secret: &str, reset: bool) -> Message {
    let mut p = json!({"node_id": node, "user_id": user, "secret_key": secret});
    if reset {
        p["reset"] = json!(true);
    }
    json_message(
        basic_ingest("esp_user_node_mapping", node, "user/mapping"),
        &p,
    )
}

/// `esp_rmaker_reset_user_node_mapping` on a factory reset:
/// `esp_rmaker_start_user_node_mapping("esp-rmaker", "failed")` with `reset`.
pub fn mapping_reset(node: &str) -> Message {
    user_mapping(node, "esp-rmaker", "failed", true)
}

/// ESP Insights (examples/common/app_insights/app_insights.c, `app_insights_data_send`; off by
/// default: `CONFIG_ESP_INSIGHTS_ENABLED` is n): rule `insights_message_delivery`.
pub fn insights(node: &str) -> Message {
    Message {
        topic: basic_ingest("insights_message_delivery", node, "diagnostics/from-node"),
        bytes: vec![0xa1, 0x01, 0x02],
    }
}

/// MQTT OTA (src/ota/esp_rmaker_mqtt_ota.c, `CONFIG_ESP_RMAKER_OTA_USE_MQTT`, off by default):
/// a block request on the AWS IoT stream `"$aws/things/%s/streams/%s/get/%s"`, CBOR.
pub fn mqtt_ota_block_request(node: &str, stream: &str) -> Message {
    Message {
        topic: format!("$aws/things/{node}/streams/{stream}/get/cbor"),
        bytes: vec![0xa2, 0x61, b'f', 0x01, 0x61, b'o', 0x00],
    }
}
