//! OTA against moto_server (issue 14, findings 2 and 3): a node gets only the firmware of the
//! project and chip the IoT registry binds it to; a status counts only for a session offered to
//! that node; sessions and status reports expire; a slot is free after the job's timeout whatever
//! the node last said; a fetch finds its job by key (no Scan) and keeps it 30 s.
//!
//! DynamoDB and the registry are reached through the fault proxy without rules, which names
//! every request (`dynamodb:Scan`, `iot:GET /things/n1`); publishes through the recording proxy,
//! which keeps their bodies. `rollout` holds the version order and the per-network limits
//! (issue 17, item 5).

mod rollout;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::support::faults::FaultProxy;
use crate::support::moto::Moto;
use crate::support::proxy::Proxy;
use crate::support::tables::{items, s, stack_tables};
use aws_sdk_dynamodb::types::AttributeValue;
use rmdeploy_lambdas::{node_config, ota_fetch, ota_status};
use serde_json::{json, Value};

struct Cloud {
    moto: Moto,
    /// In front of moto for DynamoDB and the registry: names every request.
    aws: FaultProxy,
    /// In front of moto's IoT data plane: keeps every publish.
    publishes: Proxy,
    /// The configuration the function gets: every AWS call through `aws`.
    config: aws_config::SdkConfig,
    db: aws_sdk_dynamodb::Client,
    /// The function's clock (ms): the test moves it.
    now: Arc<AtomicI64>,
}

impl Cloud {
    async fn start() -> Cloud {
        let moto = Moto::start();
        let aws = FaultProxy::start(&moto.url);
        let publishes = Proxy::start(&moto.url);
        let config = crate::support::tables::config(&aws.url).await;
        let db = aws_sdk_dynamodb::Client::new(&config);
        stack_tables(&db).await;
        Cloud {
            moto,
            aws,
            publishes,
            config,
            db,
            now: Arc::new(AtomicI64::new(1_800_000_000_000)),
        }
    }

    fn clock(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// Move the clock to `ms`.
    fn set_clock(&self, ms: i64) -> i64 {
        self.now.store(ms, Ordering::SeqCst);
        ms
    }

    fn fetch(&self, node: &str, version: &str) -> Value {
        event(
            node,
            "otafetch",
            json!({"node_id": node, "fw_version": version}),
            self.clock(),
        )
    }

    fn iot(&self) -> aws_sdk_iotdataplane::Client {
        aws_sdk_iotdataplane::Client::from_conf(
            aws_sdk_iotdataplane::config::Builder::from(&self.config)
                .endpoint_url(&self.publishes.url)
                .build(),
        )
    }

    /// The function's context, telling time by the test's clock.
    fn ctx(&self) -> ota_fetch::Ctx {
        let mut ctx = ota_fetch::Ctx::new(
            self.db.clone(),
            self.iot(),
            self.config.clone(),
            "nodes".into(),
            "ota_jobs".into(),
            "rm-firmware".into(),
        );
        let now = self.now.clone();
        ctx.clock = Arc::new(move || now.load(Ordering::SeqCst));
        ctx
    }

    /// (topic, payload) of every publish so far.
    fn published(&self) -> Vec<(String, Value)> {
        self.publishes.published()
    }

    /// A node's thing in the registry, with these attributes.
    async fn register(&self, node: &str, attributes: &[(&str, &str)]) {
        let iot = aws_sdk_iot::Client::new(&self.config);
        let mut payload = aws_sdk_iot::types::AttributePayload::builder();
        for (k, v) in attributes {
            payload = payload.attributes(*k, *v);
        }
        iot.create_thing()
            .thing_name(node)
            .attribute_payload(payload.build())
            .send()
            .await
            .unwrap();
    }

    /// The node's `config` as its firmware reports it.
    async fn config_of(&self, node: &str, project: &str, chip: &str, version: &str) {
        let config = json!({"node_id": node, "config_version": "2020-03-20",
            "info": {"name": "Light", "fw_version": version, "type": "Lightbulb",
                     "model": project, "project_name": project, "platform": chip},
            "devices": [{"name": "Light", "type": "esp.device.lightbulb", "params": []}]});
        let out = node_config::handle(&self.db, "nodes", event(node, "config", config, 1_000))
            .await
            .unwrap();
        assert_eq!(out["stored"], true, "{out}");
    }

    /// What ota-status answers a node's status for a job.
    async fn report(&self, node: &str, job: &str, st: &str, at: i64) -> Value {
        ota_status::handle(&self.db, "ota_jobs", status(node, job, st, at))
            .await
            .unwrap()
    }

    /// Nodes registered as lights on esp32c3 that reported firmware 1.0.0 in their config.
    async fn light_nodes(&self, nodes: &[&str]) {
        for node in nodes {
            self.register(node, LIGHT).await;
            self.config_of(node, "light", "esp32c3", "1.0.0").await;
        }
    }

    /// A job item as `rmdeploy firmware publish` registers it.
    async fn job(&self, id: &str, project: &str, chip: &str, version: &str, created: i64) {
        self.db
            .put_item()
            .table_name("ota_jobs")
            .item("job_id", AttributeValue::S(id.into()))
            .item("sk", AttributeValue::S("job".into()))
            .item("project", AttributeValue::S(project.into()))
            .item("chip", AttributeValue::S(chip.into()))
            .item("fw_version", AttributeValue::S(version.into()))
            .item(
                "key",
                AttributeValue::S(format!("firmware/{project}/{version} build.bin")),
            )
            .item("file_size", AttributeValue::N("22".into()))
            .item("created_at", AttributeValue::N(created.to_string()))
            .item("state", AttributeValue::S("active".into()))
            .item("max_parallel", AttributeValue::N("1".into()))
            .item("max_per_minute", AttributeValue::N("0".into()))
            .item("timeout_s", AttributeValue::N("600".into()))
            .send()
            .await
            .unwrap();
    }

    /// The operations the function sent to AWS since the last call (DynamoDB, registry).
    fn operations(&self) -> Vec<String> {
        let ops = self.aws.seen().into_iter().map(|s| s.op).collect();
        self.aws.set(vec![]);
        ops
    }
}

/// What the rule hands the function (the shared helper of `lambdas::event`).
fn event(node: &str, suffix: &str, payload: Value, at: i64) -> Value {
    rmdeploy_lambdas::event::node_message(node, suffix, &payload, at)
}

fn status(node: &str, job: &str, status: &str, at: i64) -> Value {
    event(
        node,
        "otastatus",
        json!({"ota_job_id": job, "status": status, "ts": 1}),
        at,
    )
}

/// GET over plain HTTP/1.0: status and body.
fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer[split + 4..].to_vec())
}

/// A light's registry entry.
const LIGHT: &[(&str, &str)] = &[("project_name", "light"), ("chip", "esp32c3")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gets_only_the_firmware_its_registry_entry_names() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.job("switch-9", "switch", "esp32c3", "9.0.0", 2).await;
    c.job("light-s3", "light", "esp32s3", "2.0.0", 3).await;
    let ctx = c.ctx();
    // registered as a light, reports a light: served
    c.register("good", LIGHT).await;
    c.config_of("good", "light", "ESP32-C3", "1.0.0").await;
    // registered as a light, claims to be a switch (the switch firmware)
    c.register("claims-switch", LIGHT).await;
    c.config_of("claims-switch", "switch", "esp32c3", "1.0.0")
        .await;
    // registered as a switch, claims to be a light
    c.register(
        "claims-light",
        &[("project_name", "switch"), ("chip", "esp32c3")],
    )
    .await;
    c.config_of("claims-light", "light", "esp32c3", "1.0.0")
        .await;
    // the right project on another chip
    c.register("claims-s3", LIGHT).await;
    c.config_of("claims-s3", "light", "esp32s3", "1.0.0").await;
    // not in the registry, or without the attributes
    c.config_of("unregistered", "light", "esp32c3", "1.0.0")
        .await;
    c.register("bare", &[]).await;
    c.config_of("bare", "light", "esp32c3", "1.0.0").await;
    c.register("half", &[("project_name", "light")]).await;
    c.config_of("half", "light", "esp32c3", "1.0.0").await;

    for node in [
        "claims-switch",
        "claims-light",
        "claims-s3",
        "unregistered",
        "bare",
        "half",
    ] {
        let out = ota_fetch::handle(&ctx, c.fetch(node, "1.0.0"))
            .await
            .unwrap();
        assert_eq!(
            (out["answered"].clone(), out["refused"].clone()),
            (json!(false), json!(true)),
            "{node}: {out}"
        );
        // the registry was asked, signed for the `iot` service
        assert!(
            c.operations().contains(&format!("iot:GET /things/{node}")),
            "{node}"
        );
    }
    assert!(c.published().is_empty(), "{:?}", c.published());
    let sessions: Vec<_> = items(&c.db, "ota_jobs")
        .await
        .into_iter()
        .filter(|i| s(i, "sk") != "job")
        .collect();
    assert!(sessions.is_empty(), "a refused node has no session");

    let out = ota_fetch::handle(&ctx, c.fetch("good", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(out["answered"], true, "{out}");
    let published = c.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, "node/good/otaurl");
    assert_eq!(published[0].1["ota_job_id"], "light-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_statuses_for_made_up_jobs_write_nothing() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.light_nodes(&["n1"]).await;
    let ctx = c.ctx();
    // n2 has a session; n1 does not
    c.light_nodes(&["n2"]).await;
    let offered = ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(offered["answered"], true, "{offered}");
    let before = items(&c.db, "ota_jobs").await.len();
    assert_eq!(before, 3, "the job, n2's session and the slot it holds");

    let statuses = ["in-progress", "success", "failed", "rejected", "delayed"];
    for i in 0..1000_i64 {
        // made-up jobs, and a real job n1 was never offered
        let job = if i % 10 == 0 {
            "light-2".to_string()
        } else {
            format!("made-up-{i}")
        };
        let out = c
            .report("n1", &job, statuses[i as usize % 5], 2_000 + i)
            .await;
        assert_eq!(out["stored"], false, "{i}: {out}");
    }
    let after = items(&c.db, "ota_jobs").await;
    assert_eq!(after.len(), before, "{after:?}");
    // n2's status for its own session is taken
    let out = c
        .report("n2", "light-2", "in-progress", c.clock() + 1)
        .await;
    assert_eq!(out["stored"], true, "{out}");
    // ... and once it has ended, further news is not
    c.report("n2", "light-2", "success", c.clock() + 2).await;
    let late = c
        .report("n2", "light-2", "in-progress", c.clock() + 3)
        .await;
    assert_eq!(late["stored"], false, "{late}");
    // two reports kept; the success freed n2's slot
    let left = items(&c.db, "ota_jobs").await;
    assert_eq!(left.len(), before + 2, "{left:?}");
    let slot = left
        .iter()
        .find(|i| s(i, "sk").starts_with("slot#"))
        .unwrap();
    assert_eq!(
        (s(slot, "node_id"), s(slot, "held_until")),
        ("n2".into(), "0".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_stops_holding_a_slot_after_the_job_timeout() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.light_nodes(&["n1", "n2"]).await;
    let ctx = c.ctx();
    let start = c.clock();
    assert_eq!(
        ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
            .await
            .unwrap()["answered"],
        true
    );
    // n1 keeps saying "in progress"; n2 waits while the job's 600 s run
    for at in [100_000, 300_000, 590_000] {
        let now = c.set_clock(start + at);
        let out = c.report("n1", "light-2", "in-progress", now).await;
        assert_eq!(out["stored"], true, "{out}");
        let waiting = ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
            .await
            .unwrap();
        assert_eq!(waiting["answered"], false, "{waiting}");
        assert!(
            waiting["reason"].as_str().unwrap().contains("at once"),
            "{waiting}"
        );
    }
    // 601 s after n1's session started, its last "in progress" 11 s ago: the slot is n2's
    c.set_clock(start + 601_000);
    let served = ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(served["answered"], true, "{served}");
    let topics: Vec<String> = c.published().into_iter().map(|(t, _)| t).collect();
    assert_eq!(topics, ["node/n1/otaurl", "node/n2/otaurl"]);
}

/// A node that keeps asking while it waits for a slot (a hundred fetches in a moment) costs one
/// read of the job's sessions, not a hundred: they are kept five seconds per function instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_keeps_asking_while_it_waits_reads_the_sessions_once() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.light_nodes(&["n1", "n2"]).await;
    let ctx = c.ctx();
    let start = c.clock();
    let first = ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(first["answered"], true, "{first}");
    let queries = |ops: Vec<String>| ops.iter().filter(|o| *o == "dynamodb:Query").count();
    c.set_clock(start + 10_000);
    c.operations();
    for _ in 0..100 {
        let waiting = ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
            .await
            .unwrap();
        assert_eq!(waiting["answered"], false, "{waiting}");
    }
    assert_eq!(queries(c.operations()), 1, "one read of the sessions");
    c.set_clock(start + 16_000);
    ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(queries(c.operations()), 1, "read again after five seconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_status_reports_expire_and_jobs_do_not() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.light_nodes(&["n1"]).await;
    let ctx = c.ctx();
    ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    let at = c.clock() + 5_000;
    c.report("n1", "light-2", "in-progress", at).await;
    let day = 86_400;
    let mut kinds = Vec::new();
    for item in items(&c.db, "ota_jobs").await {
        let sk = s(&item, "sk");
        let kind = sk.split('#').next().unwrap().to_string();
        match kind.as_str() {
            "job" => assert!(!item.contains_key("expires_at"), "a job never expires"),
            "node" | "status" | "slot" => {
                let expires: i64 = s(&item, "expires_at").parse().unwrap();
                // 30 days after its last write (the session's first write and its slot: after
                // the timeout)
                let low = at / 1000 + 30 * day - 5;
                assert!((low..=low + 600 + 10).contains(&expires), "{sk}: {expires}");
            }
            other => panic!("an unexpected item {other}"),
        }
        kinds.push(kind);
    }
    kinds.sort();
    assert_eq!(kinds, ["job", "node", "slot", "status"]);
    // the table expires them: every shipped profile's ota_jobs has the TTL and the jobs index
    for profile in ["global", "china", "dev"] {
        let rendered = crate::support::render(profile, None);
        let text = serde_json::to_string(&rendered.stack.document).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let table = &doc["Resources"]["OtaJobsTable"]["Properties"];
        assert_eq!(
            table["TimeToLiveSpecification"],
            json!({"AttributeName": "expires_at", "Enabled": true}),
            "{profile}"
        );
        assert_eq!(
            table["GlobalSecondaryIndexes"][0]["KeySchema"],
            json!([{"AttributeName": "sk", "KeyType": "HASH"},
                   {"AttributeName": "project", "KeyType": "RANGE"}]),
            "{profile}"
        );
        let attributes = table["AttributeDefinitions"].as_array().unwrap();
        assert!(
            attributes.contains(&json!({"AttributeName": "project", "AttributeType": "S"})),
            "{profile}: {attributes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_finds_its_job_by_key_without_a_scan_and_keeps_it_thirty_seconds() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    // other projects' jobs and plenty of sessions the fetch must not read
    for i in 0..20 {
        c.job(&format!("other-{i}"), "other", "esp32c3", "1.0.0", 10 + i)
            .await;
    }
    c.light_nodes(&["n1", "n2"]).await;
    let ctx = c.ctx();
    c.operations();
    let first = ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(first["answered"], true, "{first}");
    let ops = c.operations();
    assert!(
        ops.iter().all(|o| o != "dynamodb:Scan"),
        "an OTA fetch scanned: {ops:?}"
    );
    let count = |ops: &[String], op: &str| ops.iter().filter(|o| *o == op).count();
    assert_eq!(
        count(&ops, "dynamodb:Query"),
        2,
        "the index, then the sessions: {ops:?}"
    );
    assert_eq!(count(&ops, "dynamodb:BatchGetItem"), 1, "{ops:?}");
    // within 30 s the job comes from the cache: the node and its session only
    c.set_clock(c.clock() + 29_000);
    let again = ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(again["answered"], true, "{again}");
    let ops = c.operations();
    assert_eq!(
        ops,
        ["dynamodb:GetItem", "iot:GET /things/n1", "dynamodb:GetItem"],
        "an open session is offered again without reading the job or the others"
    );
    // an up-to-date node reads neither sessions nor the job after 30 s... but the lookup again
    c.set_clock(c.clock() + 2_000);
    let current = ota_fetch::handle(&ctx, c.fetch("n2", "2.0.0"))
        .await
        .unwrap();
    assert_eq!(current["reason"], "up to date");
    let ops = c.operations();
    assert!(ops.iter().all(|o| o != "dynamodb:Scan"), "{ops:?}");
    assert_eq!(
        count(&ops, "dynamodb:Query"),
        1,
        "the cache expired: {ops:?}"
    );
}

/// The OTA fetch test that was in lambdas_moto.rs, with its nodes registered: the newest job of
/// the node's project and chip, a URL that serves the image, one session at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ota_fetch_answers_with_a_working_url_and_keeps_to_the_rollout_limit() {
    let c = Cloud::start().await;
    let firmware = b"\xe9\x03firmware image bytes".to_vec();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&c.config)
            .endpoint_url(&c.moto.url)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("rm-firmware")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("rm-firmware")
        .key("firmware/light/1.1.0 build.bin")
        .body(firmware.clone().into())
        .send()
        .await
        .unwrap();
    for node in ["n1", "n2", "n7"] {
        c.register(node, LIGHT).await;
    }
    for node in ["n1", "n2"] {
        c.config_of(node, "light", "esp32c3", "1.0.0").await;
    }
    let job = |id: &str, chip: &str, version: &str, created: i64| {
        c.db.put_item()
            .table_name("ota_jobs")
            .item("job_id", AttributeValue::S(id.into()))
            .item("sk", AttributeValue::S("job".into()))
            .item("project", AttributeValue::S("light".into()))
            .item("chip", AttributeValue::S(chip.into()))
            .item("fw_version", AttributeValue::S(version.into()))
            .item(
                "key",
                AttributeValue::S("firmware/light/1.1.0 build.bin".into()),
            )
            .item("file_size", AttributeValue::N(firmware.len().to_string()))
            .item("created_at", AttributeValue::N(created.to_string()))
            .item("state", AttributeValue::S("active".into()))
            .item("max_parallel", AttributeValue::N("1".into()))
            .item("max_per_minute", AttributeValue::N("0".into()))
            .item("timeout_s", AttributeValue::N("600".into()))
            .send()
    };
    job("old", "ESP32-C3", "1.0.5", 1).await.unwrap();
    job("new", "ESP32-C3", "1.1.0", 2).await.unwrap();
    job("other-chip", "esp32s3", "9.9.9", 3).await.unwrap();
    let ctx = c.ctx();

    let first = ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(first["answered"], true, "{first}");
    let published = c.published();
    assert_eq!(published.len(), 1);
    let (topic, answer) = &published[0];
    assert_eq!(topic, "node/n1/otaurl");
    assert_eq!(
        answer["ota_job_id"], "new",
        "the newest job for the node's project and chip"
    );
    assert_eq!(answer["fw_version"], "1.1.0");
    assert_eq!(answer["file_size"], firmware.len());
    let url = answer["url"].as_str().unwrap();
    // the function's endpoint is the proxy in front of moto
    assert!(
        url.starts_with(&format!(
            "{}/rm-firmware/firmware/light/1.1.0%20build.bin?",
            c.aws.url
        )),
        "{url}"
    );
    for part in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Expires=600",
        "X-Amz-SignedHeaders=host",
        "X-Amz-Signature=",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert_eq!(
        http_get(url),
        (200, firmware.clone()),
        "the URL serves the image"
    );

    // one session at a time: n2 waits, and hears nothing
    let waiting = ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
        .await
        .unwrap();
    assert_eq!(waiting["answered"], false);
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap()
            .contains("allows 1 at once"),
        "{waiting}"
    );
    assert_eq!(c.published().len(), 1);
    // n1 asking again gets its offer again
    assert_eq!(
        ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
            .await
            .unwrap()["answered"],
        true
    );
    // n1 reports success: its slot is free, and n2 is served once the function reads the job's
    // sessions again
    let done = status("n1", "new", "success", c.clock() + 1_000);
    let out = ota_status::handle(&c.db, "ota_jobs", done).await.unwrap();
    assert_eq!(out["stored"], true, "{out}");
    c.set_clock(c.clock() + ota_fetch::SESSIONS_CACHE_MS);
    assert_eq!(
        ota_fetch::handle(&ctx, c.fetch("n2", "1.0.0"))
            .await
            .unwrap()["answered"],
        true
    );
    let topics: Vec<String> = c.published().into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        topics,
        ["node/n1/otaurl", "node/n1/otaurl", "node/n2/otaurl"]
    );
    // up to date, malformed: no answer, no retry; a node without a config yet: retried
    let current = ota_fetch::handle(&ctx, c.fetch("n1", "1.1.0"))
        .await
        .unwrap();
    assert_eq!(current["reason"], "up to date");
    let unknown = ota_fetch::handle(&ctx, c.fetch("n7", "1.0.0"))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("config"), "{unknown}");
    let bad = ota_fetch::handle(&ctx, event("n1", "otafetch", json!({"fw_version": [1]}), 1))
        .await
        .unwrap();
    assert!(bad["reason"].as_str().unwrap().contains("fw_version"));
    assert_eq!(c.published().len(), 3);
}

/// `GET /v1/admin/otajobs` lists every job, newest first, with its progress, through the jobs
/// index: no function scans the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listing_reads_the_jobs_index_without_a_scan() {
    let c = Cloud::start().await;
    c.job("light-2", "light", "esp32c3", "2.0.0", 1).await;
    c.job("switch-9", "switch", "esp32c6", "9.0.0", 2).await;
    c.light_nodes(&["n1"]).await;
    let ctx = c.ctx();
    ota_fetch::handle(&ctx, c.fetch("n1", "1.0.0"))
        .await
        .unwrap();
    c.report("n1", "light-2", "failed", c.clock() + 1).await;
    let api = rmdeploy_lambdas::api::Ctx {
        db: c.db.clone(),
        iot: c.iot(),
        config: c.config.clone(),
        ota_fetch: None,
        tables: rmdeploy_lambdas::api::ApiTables {
            nodes: "nodes".into(),
            params: "node_params".into(),
            jobs: "ota_jobs".into(),
            mapping: rmdeploy_lambdas::mapping::Tables {
                requests: "mapping_requests".into(),
                user_nodes: "user_nodes".into(),
            },
        },
    };
    c.operations();
    let answer = rmdeploy_lambdas::api::handle(
        &api,
        json!({"httpMethod": "GET", "path": "/v1/admin/otajobs", "resource": "/v1/admin/otajobs",
               "queryStringParameters": null, "body": null, "isBase64Encoded": false,
               "requestContext": {"authorizer": {"principalId": "u1", "groups": "[\"admin\"]"}}}),
    )
    .await
    .unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    let jobs: Vec<&str> = body["ota_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["ota_job_id"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["switch-9", "light-2"]);
    assert_eq!(
        body["ota_jobs"][1]["progress"]["by_status"],
        json!({"failed": 1})
    );
    let ops = c.operations();
    assert!(ops.iter().all(|o| o != "dynamodb:Scan"), "{ops:?}");
    assert!(ops.iter().any(|o| o == "dynamodb:Query"), "{ops:?}");
}
