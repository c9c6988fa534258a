//! The bundled handlers of the ESP RainMaker node-to-cloud contract. Each function's binary
//! (`src/bin/`) is a thin `main` over a module here; what they share (runtime set-up, the rule
//! event, conditional writes) lives in one place.

pub mod alert;
pub mod api;
pub mod auth;
pub mod authorizer;
pub mod challenge;
pub mod claim;
pub mod cmd_resp;
pub mod event;
pub mod fw_version;
pub mod http;
pub mod mapping;
pub mod node_config;
pub mod online;
pub mod ota_cache;
pub mod ota_fetch;
pub mod ota_jobs;
pub mod ota_network;
pub mod ota_offer;
pub mod ota_session;
pub mod ota_slots;
pub mod ota_status;
pub mod params;
pub mod presign;
pub mod publish;
pub mod registry;
pub mod runtime;
pub mod sigv4;
pub mod store;
pub mod ts_ingest;
