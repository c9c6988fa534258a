//! The traffic a fleet makes: what each device does in a day, and what each event costs the
//! stack (metered MQTT messages, topic rules, function invocations, DynamoDB request units),
//! read from the bundled handlers' code (`lambdas/rainmaker/src`). The quota check derives peak
//! rates from it and the cost estimate monthly totals; both say these assumptions.

use crate::catalog::{FunctionKey, TableKey};
use crate::profile::Capacity;

/// Bytes in DynamoDB's write unit (1 KB) and read unit (4 KB).
const WRITE_UNIT_BYTES: f64 = 1024.0;
const READ_UNIT_BYTES: f64 = 4096.0;

/// Assumed sizes, stated with every estimate.
pub const PARAMS_REPORT_BYTES: f64 = 400.0;
/// A node's config as stored on its `nodes` item (a stock light's config is about 1.5 KB).
pub const NODE_ITEM_BYTES: f64 = 2048.0;
/// One OTA session item (`node#<id>` under a job) as `ota-fetch` writes it.
pub const SESSION_ITEM_BYTES: f64 = 200.0;
/// Items an update leaves in `ota_jobs` per device: its session and its status reports (in
/// progress, then the outcome), each about a session's size.
pub const OTA_ITEMS_PER_UPDATE: f64 = 3.0;
/// Days sessions and status reports stay in `ota_jobs` after their last write (their TTL,
/// `ota_jobs.rs`, `KEEP_DAYS`).
pub const OTA_KEEP_DAYS: f64 = 30.0;
/// MQTT messages a connection costs before any publish: CONNECT and the firmware's
/// subscriptions (params/remote, otaurl, to-node, user/mapping).
pub const MESSAGES_PER_CONNECT: f64 = 5.0;
/// Share of API requests that set params (and so publish on `params/remote`).
pub const API_SET_SHARE: f64 = 0.1;
/// Days `params` keeps a report in the history (`params.rs`, `HISTORY_DAYS`).
pub const HISTORY_DAYS: f64 = 30.0;

/// DynamoDB units one event costs one table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    pub table: TableKey,
    /// Read request units (eventually consistent: half a unit per 4 KB).
    pub reads: f64,
    /// Write request units (one per 1 KB, of the larger of the item before and after).
    pub writes: f64,
}

/// Something a device or an app does, with what it costs the stack each time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    /// How often per device and day, from the capacity figures.
    pub per_device_day: f64,
    /// Metered MQTT messages (5 KB each) in and out.
    pub messages: f64,
    /// The topic rule it triggers (one rule and one Lambda action each), when any.
    pub rule: Option<&'static str>,
    /// The function it invokes, when any.
    pub function: Option<FunctionKey>,
    /// AWS calls the handler makes (for its billed duration).
    pub aws_calls: f64,
    pub units: Vec<Units>,
    /// Where the handler code is, for the reader of the model.
    pub source: &'static str,
}

fn write_units(bytes: f64) -> f64 {
    (bytes / WRITE_UNIT_BYTES).ceil().max(1.0)
}

fn eventual_read_units(bytes: f64) -> f64 {
    (bytes / READ_UNIT_BYTES).ceil().max(1.0) * 0.5
}

/// Items in `ota_jobs`: the sessions and status reports of the updates of the last
/// [`OTA_KEEP_DAYS`] (they expire), at most one update's worth per device.
pub fn ota_session_items(c: &Capacity) -> f64 {
    let updates = (c.ota_updates_per_year * OTA_KEEP_DAYS / 365.0).min(1.0);
    c.devices as f64 * updates * OTA_ITEMS_PER_UPDATE
}

/// Every event of the model, for a fleet of these capacity figures.
pub fn events(c: &Capacity) -> Vec<Event> {
    let connections = c.connections_per_device_per_day;
    let params_writes = 2.0 * write_units(PARAMS_REPORT_BYTES);
    // A fetch reads the node's own session (consistently) and looks its job up by key: a query
    // of the jobs index and a read of the job item. The 30 s cache in each function instance
    // makes lookups fewer; the model counts one a fetch.
    let ota_fetch_reads = 1.0 + eventual_read_units(SESSION_ITEM_BYTES) * 2.0;
    // A node that needs the update and holds no slot reads the job's sessions to count the
    // starts of the last minute (`max_per_minute`): half the fleet's, on average over a rollout;
    // then its network's slots, consistently (at most `max_parallel` small items, one unit).
    // Counted once per device and update.
    let ota_count = eventual_read_units(c.devices as f64 / 2.0 * SESSION_ITEM_BYTES) + 1.0;
    vec![
        Event {
            name: "param report (params/local)",
            per_device_day: c.messages_per_device_per_day as f64,
            messages: 1.0,
            rule: Some("esp_set_params"),
            function: Some(FunctionKey::Params),
            aws_calls: 2.0,
            units: vec![Units {
                table: TableKey::NodeParams,
                reads: 0.0,
                writes: params_writes,
            }],
            source: "params.rs: history PutItem, then state UpdateItem",
        },
        Event {
            name: "connect and subscribe",
            per_device_day: connections,
            messages: MESSAGES_PER_CONNECT,
            rule: None,
            function: None,
            aws_calls: 0.0,
            units: vec![],
            source: "MQTT CONNECT and four SUBSCRIBEs are metered as messages",
        },
        Event {
            name: "presence (connected, disconnected)",
            per_device_day: 2.0 * connections,
            messages: 1.0,
            rule: Some("esp_node_presence"),
            function: Some(FunctionKey::NodeConfig),
            aws_calls: 1.0,
            units: vec![Units {
                table: TableKey::Nodes,
                reads: 0.0,
                writes: write_units(NODE_ITEM_BYTES),
            }],
            source: "node_config.rs: presence UpdateItem on the node's item",
        },
        Event {
            name: "config (after connecting)",
            per_device_day: connections,
            messages: 1.0,
            rule: Some("esp_node_config"),
            function: Some(FunctionKey::NodeConfig),
            aws_calls: 1.0,
            units: vec![Units {
                table: TableKey::Nodes,
                reads: 0.0,
                writes: write_units(NODE_ITEM_BYTES),
            }],
            source: "node_config.rs: config UpdateItem",
        },
        Event {
            name: "initial params (after connecting)",
            per_device_day: connections,
            messages: 1.0,
            rule: Some("esp_init_params"),
            function: Some(FunctionKey::Params),
            aws_calls: 2.0,
            units: vec![Units {
                table: TableKey::NodeParams,
                reads: 0.0,
                writes: params_writes,
            }],
            source: "params.rs: as a report",
        },
        Event {
            name: "OTA fetch (after connecting)",
            per_device_day: connections,
            messages: 1.0,
            rule: Some("esp_node_otafetch"),
            function: Some(FunctionKey::OtaFetch),
            aws_calls: 3.0,
            units: vec![
                Units {
                    table: TableKey::Nodes,
                    reads: eventual_read_units(NODE_ITEM_BYTES),
                    writes: 0.0,
                },
                Units {
                    table: TableKey::OtaJobs,
                    reads: ota_fetch_reads,
                    writes: 0.0,
                },
            ],
            source: "ota_fetch.rs: node GetItem, DescribeThing (the registry, not metered), the node's session GetItem; ota_jobs.rs: the jobs index Query and BatchGetItem (cached 30 s)",
        },
        Event {
            name: "OTA session opened",
            per_device_day: c.ota_updates_per_year / 365.0,
            messages: 0.0,
            rule: None,
            function: None,
            aws_calls: 0.0,
            units: vec![Units {
                table: TableKey::OtaJobs,
                reads: ota_count,
                // the slot taken, the session, and the slot freed when the session ends
                writes: 3.0 * write_units(SESSION_ITEM_BYTES),
            }],
            source: "ota_session.rs: the job's sessions Query (max_per_minute), the network's slots Query and the slot PutItem (max_parallel), then the session PutItem; ota_status.rs frees the slot (PutItem); part of an OTA fetch",
        },
        Event {
            name: "app request (REST API)",
            per_device_day: c.api_requests_per_device_per_day,
            messages: API_SET_SHARE,
            rule: None,
            function: Some(FunctionKey::Api),
            aws_calls: 2.0,
            units: vec![
                Units {
                    table: TableKey::UserNodes,
                    reads: 0.5,
                    writes: 0.0,
                },
                Units {
                    table: TableKey::NodeParams,
                    reads: 0.5,
                    writes: 0.0,
                },
            ],
            source: "api/nodes.rs: the user's mapping, then the node's item; one in ten publishes params/remote",
        },
    ]
}

/// Peak request units a second one table needs, from the events at the capacity's peak rate.
pub fn peak_units(c: &Capacity, table: TableKey) -> (f64, f64) {
    let per_second = c.devices as f64 * c.peak_factor / 86_400.0;
    events(c)
        .iter()
        .flat_map(|e| e.units.iter().map(move |u| (e.per_device_day, u)))
        .filter(|(_, u)| u.table == table)
        .fold((0.0, 0.0), |(r, w), (rate, u)| {
            (
                r + rate * per_second * u.reads,
                w + rate * per_second * u.writes,
            )
        })
}

/// Bytes a table holds in the steady state (the tables the model writes; others are small).
pub fn stored_bytes(c: &Capacity, table: TableKey) -> f64 {
    let devices = c.devices as f64;
    match table {
        TableKey::Nodes => devices * NODE_ITEM_BYTES,
        TableKey::NodeParams => {
            let reports =
                devices * (c.messages_per_device_per_day as f64 + c.connections_per_device_per_day);
            devices * PARAMS_REPORT_BYTES + reports * HISTORY_DAYS * PARAMS_REPORT_BYTES
        }
        TableKey::OtaJobs => ota_session_items(c) * SESSION_ITEM_BYTES,
        TableKey::UserNodes => devices * 300.0,
        _ => 0.0,
    }
}
