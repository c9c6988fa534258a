//! Fault injection: rmdeploy against moto_server through a proxy on loopback that throttles,
//! fails, drops and delays AWS calls (tests/testkit/src/faults.rs), and rmdeploy killed with SIGINT
//! and SIGKILL at random points of an `apply`. Every run ends either succeeded (retries) or failed with
//! a message naming the call; afterwards no change set is left, no half-uploaded artifact or
//! firmware is registered, and the next `apply` completes.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::building::{self, Run};
use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::moto::Moto;
use serde_json::Value;

const REGION: &str = "us-east-1";

struct Env {
    moto: Moto,
    proxy: FaultProxy,
    dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let moto = Moto::start();
        let proxy = FaultProxy::start(&moto.url);
        quota_stubs(&proxy);
        Env {
            moto,
            proxy,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// rmdeploy through the proxy with `rules` in force for this run; a call's first byte of
    /// answer is awaited 3 s before the attempt is retried.
    fn run(&self, rules: Vec<Rule>, attempts: u32, args: &[&str]) -> Run {
        self.proxy.set(rules);
        let mut cmd = self.moto.rmdeploy();
        cmd.env("AWS_ENDPOINT_URL", &self.proxy.url)
            .env("RMDEPLOY_READ_TIMEOUT_MS", "3000")
            .env("AWS_MAX_ATTEMPTS", attempts.to_string());
        let run = building::run(cmd, args);
        assert!(
            !run.stderr.contains("panicked"),
            "rmdeploy panicked:\n{}",
            run.stderr
        );
        run
    }

    /// `apply -p <profile> --yes` without faults: must complete.
    fn apply_clean(&self, profile: &str) -> Value {
        self.run(vec![], 8, &apply(profile)).json()
    }

    /// dev with the shipped firmware published through an IoT Job, `webhooks` as given.
    fn profile(&self, webhooks: bool) -> String {
        let dev =
            std::fs::read_to_string(crate::support::root().join("profiles/dev.yaml")).unwrap();
        let features = if webhooks {
            "features:\n  webhooks: true"
        } else {
            "features: {}"
        };
        let text = dev.replace("features: {}", features)
            + &format!(
                "\nfirmware:\n  manifest: {}\n  iot_jobs: true\n  images:\n    - name: light-esp32c3\n",
                crate::support::root().join("device-fw/manifest.yaml").display()
            );
        let path = self.dir.path().join(format!(
            "dev-{}.yaml",
            if webhooks { "hooks" } else { "plain" }
        ));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// A copy of `profile` with `from` replaced by `to`, named `name`.
    fn variant(&self, profile: &str, name: &str, from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(profile).unwrap();
        assert!(text.contains(from), "{profile} has no {from:?}");
        let path = self.dir.path().join(format!("dev-{name}.yaml"));
        std::fs::write(&path, text.replace(from, to)).unwrap();
        path.display().to_string()
    }

    /// The account is in a state the next apply starts from: every stack settled, no change set
    /// waiting, every artifact whole under its content address, every OTA job's image in place.
    fn assert_consistent(&self, when: &str) {
        let (stacks, open) = self.moto.leftovers(REGION);
        assert_eq!(open, 0, "{when}: change sets left behind");
        for (name, status) in &stacks {
            assert!(
                status.ends_with("_COMPLETE") && !status.contains("ROLLBACK"),
                "{when}: stack {name} is {status}"
            );
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let c = self.moto.clients(REGION).await;
            for bucket in c.s3.list_buckets().send().await.unwrap().buckets() {
                let bucket = bucket.name().unwrap();
                let listed = c.s3.list_objects_v2().bucket(bucket).send().await.unwrap();
                for object in listed.contents() {
                    let key = object.key().unwrap();
                    let body = c.s3.get_object().bucket(bucket).key(key).send().await;
                    let bytes = body.unwrap().body.collect().await.unwrap().into_bytes();
                    let sha = hex_sha256(&bytes);
                    if key.starts_with("lambda/") || key.starts_with("firmware/") {
                        let named = Path::new(key).file_stem().unwrap().to_str().unwrap();
                        assert_eq!(named, sha, "{when}: {bucket}/{key} is not whole");
                    }
                }
            }
            let tables = c.dynamodb.list_tables().send().await.unwrap();
            for table in tables
                .table_names()
                .iter()
                .filter(|t| t.contains("OtaJobs"))
            {
                let items = c.dynamodb.scan().table_name(table).send().await.unwrap();
                for item in items.items() {
                    let Some(key) = item.get("key").and_then(|k| k.as_s().ok()) else {
                        continue;
                    };
                    let bucket = item["bucket"].as_s().unwrap();
                    let head = c.s3.head_object().bucket(bucket).key(key).send().await;
                    assert!(head.is_ok(), "{when}: OTA job for a missing image {key}");
                }
            }
        });
    }
}

fn apply(profile: &str) -> Vec<&str> {
    vec![
        "apply",
        "-p",
        profile,
        "--yes",
        "--skip-quota-check",
        "-o",
        "json",
    ]
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// moto_server serves neither Service Quotas nor Lambda's account settings: the proxy answers
/// them as AWS does (shapes from the API references), so `quota-check` runs through it.
fn quota_stubs(proxy: &FaultProxy) {
    proxy.stub("lambda:GET /2016-08-19/account-settings", |_| {
        (200, r#"{"AccountLimit":{"ConcurrentExecutions":1000,"UnreservedConcurrentExecutions":1000,"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800},"AccountUsage":{"FunctionCount":0,"TotalCodeSize":0}}"#.into())
    });
    proxy.stub("servicequotas:GetServiceQuota", |_| {
        (
            400,
            r#"{"__type":"NoSuchResourceException","Message":"no applied quota value"}"#.into(),
        )
    });
    proxy.stub("servicequotas:GetAWSDefaultServiceQuota", |body| {
        let req: Value = serde_json::from_slice(body).unwrap_or_default();
        let quota = serde_json::json!({"Quota": {
            "ServiceCode": req["ServiceCode"], "QuotaCode": req["QuotaCode"],
            "QuotaName": "default", "Value": 100000.0, "Adjustable": true}});
        (200, quota.to_string())
    });
    proxy.stub("servicequotas:List", |body| {
        let req: Value = serde_json::from_slice(body).unwrap_or_default();
        let names: &[(&str, f64)] = match req["ServiceCode"].as_str() {
            Some("iotcore") => &[
                ("Connect requests per second per account", 500.0),
                ("Inbound publish requests per second per account", 20000.0),
                ("Outbound publish requests per second per account", 20000.0),
                (
                    "Maximum concurrent client connections per account",
                    500000.0,
                ),
            ],
            Some("cognito-idp") => &[("User pools", 1000.0)],
            _ => &[],
        };
        let quotas: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                serde_json::json!({"ServiceCode": req["ServiceCode"],
                    "QuotaCode": format!("L-0000000{i}"), "QuotaName": name,
                    "Value": value, "Adjustable": true})
            })
            .collect();
        (200, serde_json::json!({ "Quotas": quotas }).to_string())
    });
}

/// Throttling, 500s, connections dropped before the service sees the request, and answers held
/// back past the read timeout, spread over every call.
fn storm() -> Vec<Rule> {
    vec![
        Rule::every("", Fault::Throttle, 6),
        Rule::every("", Fault::ServerError, 11),
        Rule::every("", Fault::DropBefore, 13),
        Rule::every("", Fault::Slow(800), 17),
    ]
}

fn assert_every_kind_injected(env: &Env, what: &str) {
    let seen = env.proxy.seen();
    for kind in [Fault::Throttle, Fault::ServerError, Fault::DropBefore] {
        assert!(
            seen.iter().any(|s| s.fault == Some(kind)),
            "{what}: no {kind:?} injected in {} calls",
            seen.len()
        );
    }
    eprintln!(
        "{what}: {} faults in {} calls",
        env.proxy.injected(),
        seen.len()
    );
}

/// Transient faults on every kind of call are retried: `apply` (create and update, with the
/// firmware published), a live `plan`, `quota-check` and `firmware publish`/`list` all give the
/// results they give without faults.
#[test]
fn transient_faults_are_retried_and_every_command_succeeds() {
    let env = Env::start();
    let plain = env.profile(false);
    let created = env.run(storm(), 8, &apply(&plain)).json();
    assert_eq!(created["action"], "created", "{created}");
    assert_eq!(created["firmware"][0]["uploaded"], true, "{created}");
    assert_every_kind_injected(&env, "apply (create)");
    env.assert_consistent("after a create under faults");

    let plan = env.run(storm(), 8, &["plan", "-p", &plain, "-o", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    env.assert_consistent("after a live plan under faults");

    let quiet = env.run(vec![], 8, &["quota-check", "-p", &plain, "-o", "json"]);
    let stormy = env.run(storm(), 8, &["quota-check", "-p", &plain, "-o", "json"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(stormy.code, quiet.code, "{}", stormy.stderr);
    assert_eq!(stormy.stdout, quiet.stdout, "quota-check reads the same");
    assert!(env.proxy.injected() > 0);

    let hooks = env.profile(true);
    let updated = env.run(storm(), 8, &apply(&hooks)).json();
    assert_eq!(updated["action"], "updated", "{updated}");
    env.assert_consistent("after an update under faults");

    let published = env
        .run(
            storm(),
            8,
            &["firmware", "publish", "-p", &hooks, "-o", "json"],
        )
        .json();
    assert_eq!(published["published"][0]["uploaded"], false, "{published}");
    assert_eq!(published["published"][0]["registered"], false);
    let listed = env
        .run(
            storm(),
            8,
            &["firmware", "list", "-p", &hooks, "-o", "json"],
        )
        .json();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");

    let again = env.apply_clean(&hooks);
    assert_eq!(again["action"], "unchanged", "{again}");
}

/// A call the service carried out but whose answer was lost (the connection dropped after the
/// request went through) is retried by the SDK: creating or executing a change set, uploading,
/// registering an OTA job or an IoT Job twice must not break the run or the next one.
#[test]
fn lost_answers_of_calls_that_change_things() {
    let env = Env::start();
    let plain = env.profile(false);
    let hooks = env.profile(true);
    // The stacks exist first: moto answers a retried CREATE change set with a second stack of the
    // same name, which CloudFormation never makes (stack names are unique, and the ClientToken
    // rmdeploy sends makes the retry idempotent). Updates behave as in AWS.
    env.apply_clean(&plain);
    // Each apply has changes to make (the profiles alternate), except the DeleteChangeSet case,
    // a no-op whose empty change set is deleted.
    // Another log level: a new template, uploaded (content-addressed keys are never uploaded
    // twice, so a known template would make no PUT).
    let info = env.variant(&plain, "info", "log_level: debug", "log_level: info");
    let cases: &[(&str, &str)] = &[
        ("cloudformation:CreateChangeSet", &hooks),
        ("cloudformation:ExecuteChangeSet", &plain),
        ("s3:PUT", &info),
        ("cloudformation:DeleteChangeSet", &info),
    ];
    for (op, profile) in cases {
        let r = env.run(
            vec![Rule::first(op, Fault::DropAfter, 1)],
            8,
            &apply(profile),
        );
        eprintln!("{op}: exit {}\n{}", r.code, r.stderr);
        assert_eq!(env.proxy.injected(), 1, "{op}: the answer was not lost");
        assert!(
            r.code == 0 || (r.code == 1 && r.stderr.contains(op.split(':').nth(1).unwrap())),
            "{op}: neither succeeded nor named the call:\n{}",
            r.stderr
        );
        let next = env.apply_clean(profile);
        assert!(
            ["updated", "unchanged"].contains(&next["action"].as_str().unwrap()),
            "{next}"
        );
        env.assert_consistent(&format!("after a lost answer to {op}"));
    }
    // Firmware: the upload, the OTA job and the IoT Job, each answered into the void once.
    let manifest = env.dir.path().join("manifest.yaml");
    for (i, op) in ["s3:PUT", "dynamodb:PutItem", "iot:PUT /jobs/"]
        .iter()
        .enumerate()
    {
        // A new image each time (another version), so that each run has something to publish.
        let version = format!("1.2.{}", i + 1);
        let image = env.dir.path().join(format!("light-{version}.bin"));
        std::fs::write(&image, image_with_version(&version)).unwrap();
        std::fs::write(
            &manifest,
            format!("images:\n  - name: light-esp32c3\n    file: {}\n    chip: esp32c3\n    version: {version}\n    project: light\n", image.display()),
        )
        .unwrap();
        let args = [
            "firmware",
            "publish",
            "-p",
            &hooks,
            "--manifest",
            manifest.to_str().unwrap(),
            "-o",
            "json",
        ];
        let r = env.run(vec![Rule::first(op, Fault::DropAfter, 1)], 8, &args);
        eprintln!("firmware {op}: exit {}\n{}", r.code, r.stderr);
        assert_eq!(env.proxy.injected(), 1, "{op}: the answer was not lost");
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        env.assert_consistent(&format!("after a lost answer to {op} while publishing"));
        let again = env.run(vec![], 8, &args).json();
        assert_eq!(
            again["published"][0]["registered"],
            r.code != 0,
            "{op}: the second publish registers only what the first did not: {again}"
        );
    }
}

/// The sample image with another version in its app descriptor, its checksum and hash redone.
fn image_with_version(version: &str) -> Vec<u8> {
    let mut bytes =
        std::fs::read(crate::support::root().join("device-fw/sample-light-esp32c3.bin")).unwrap();
    let len = bytes.len();
    // esp_app_desc_t starts at 0x20; its version field (32 bytes) at +0x10. The checksum (XOR of
    // all segment data) sits just before the appended SHA-256.
    let mut field = [0u8; 32];
    field[..version.len()].copy_from_slice(version.as_bytes());
    for (i, b) in field.iter().enumerate() {
        bytes[len - 33] ^= bytes[0x30 + i] ^ b;
        bytes[0x30 + i] = *b;
    }
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes[..len - 32])
    };
    bytes[len - 32..].copy_from_slice(&digest);
    let parsed = rmdeploy::firmware::image::parse(&bytes).expect("still a valid image");
    assert_eq!(parsed.app.version, version);
    bytes
}

/// Calls that keep failing end the run with a message naming the call, after the retries; what
/// the run made is undone or left for the next apply to clean, and the next apply completes.
#[test]
fn persistent_faults_fail_clearly_and_the_next_apply_recovers() {
    let env = Env::start();
    let plain = env.profile(false);
    // The other profile differs in the functions' log level only.
    let info = env.variant(&plain, "info", "log_level: debug", "log_level: info");
    // Each case's profile differs from what the stack holds (the clean apply after each leaves
    // its profile deployed), so every apply has changes to make.
    let cases: &[(&str, Fault, &str, &str)] = &[
        ("s3:PUT", Fault::ServerError, &plain, "PutObject"),
        (
            "cloudformation:CreateChangeSet",
            Fault::Throttle,
            &info,
            "CreateChangeSet",
        ),
        (
            "cloudformation:ExecuteChangeSet",
            Fault::ServerError,
            &plain,
            "ExecuteChangeSet",
        ),
        (
            "cloudformation:DescribeStackEvents",
            Fault::DropBefore,
            &info,
            "DescribeStackEvents",
        ),
        // Held past the read timeout: the attempts time out, the call is named.
        (
            "cloudformation:DescribeStacks",
            Fault::Slow(4000),
            &plain,
            "DescribeStacks",
        ),
    ];
    for (op, fault, profile, named) in cases {
        let r = env.run(vec![Rule::every(op, *fault, 1)], 2, &apply(profile));
        eprintln!(
            "{op} {fault:?}: exit {} in {:?}\n{}",
            r.code, r.took, r.stderr
        );
        assert_eq!(r.code, 1, "{op}: {}", r.stderr);
        assert!(
            r.stderr.contains(named),
            "{op}: the message names {named}:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("testing"), "no credentials in messages");
        let next = env.apply_clean(profile);
        assert!(
            ["created", "updated", "unchanged"].contains(&next["action"].as_str().unwrap()),
            "{next}"
        );
        env.assert_consistent(&format!("after {op} kept failing"));
    }
    // Publishing a new image while registering its OTA job keeps failing: the uploaded object is
    // removed again, nothing is registered, and the next publish does it all.
    let manifest = env.dir.path().join("manifest.yaml");
    let image = env.dir.path().join("light-1.3.0.bin");
    std::fs::write(&image, image_with_version("1.3.0")).unwrap();
    std::fs::write(
        &manifest,
        format!("images:\n  - name: light-esp32c3\n    file: {}\n    chip: esp32c3\n    version: 1.3.0\n    project: light\n", image.display()),
    )
    .unwrap();
    let args = [
        "firmware",
        "publish",
        "-p",
        &plain,
        "--manifest",
        manifest.to_str().unwrap(),
        "-o",
        "json",
    ];
    let r = env.run(
        vec![Rule::every("dynamodb:PutItem", Fault::ServerError, 1)],
        2,
        &args,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("PutItem"), "{}", r.stderr);
    env.assert_consistent("after PutItem kept failing");
    let again = env.run(vec![], 8, &args).json();
    assert_eq!(again["published"][0]["uploaded"], true, "{again}");
    assert_eq!(again["published"][0]["registered"], true, "{again}");
}

/// SIGINT and SIGKILL at random points of an apply; the next apply completes. The points come
/// from RMDEPLOY_FAULT_SEED (printed, to replay a failure) or the clock.
#[test]
fn killed_at_random_points_the_next_apply_completes() {
    let env = Env::start();
    let plain = env.profile(false);
    // The two profiles differ in the functions' log level: updates that modify resources. (moto
    // deletes a removed resource at once and does not restore it when the update is cancelled,
    // where CloudFormation removes resources only after the point of no return; so a removal
    // cancelled by SIGINT would leave moto, not the stack, inconsistent.)
    let hooks = env.variant(&plain, "info", "log_level: debug", "log_level: info");
    env.apply_clean(&plain);
    // How long an update takes here, to spread the kill points over it: the run itself, not the
    // wait for the build lock while other tests build or deploy.
    let update = env.run(vec![], 8, &apply(&hooks));
    update.json();
    let whole = (update.took.as_millis() as u64 * 4 / 5).max(300);
    let mut seed: u64 = std::env::var("RMDEPLOY_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("RMDEPLOY_FAULT_SEED={seed} (one apply: {whole} ms)");
    let mut next = || {
        // xorshift64
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut interrupted = 0;
    for round in 0..8 {
        let signal = if round % 2 == 0 { "INT" } else { "KILL" };
        // Alternate the profile so every apply has changes to make (the last completed apply
        // was `hooks`; an interrupted one may or may not have changed the stack).
        let profile = if round % 2 == 0 { &plain } else { &hooks };
        let after = next() % whole;
        let code = kill_apply(&env, profile, signal, Duration::from_millis(after));
        eprintln!("round {round}: SIG{signal} after {after} ms: exit {code:?}");
        if code.is_none() || code == Some(130) {
            interrupted += 1;
        }
        let done = env.apply_clean(profile);
        assert!(
            ["created", "updated", "unchanged"].contains(&done["action"].as_str().unwrap()),
            "round {round}: {done}"
        );
        env.assert_consistent(&format!("after SIG{signal} at {after} ms"));
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} of 8 applies were stopped before they ended: the kill points missed"
    );
}

/// Start an apply, send `signal` after `after`, return its exit code (None: killed).
fn kill_apply(env: &Env, profile: &str, signal: &str, after: Duration) -> Option<i32> {
    let _build = building::build_lock();
    let mut cmd = env.moto.process();
    cmd.env("RMDEPLOY_POLL_MS", "20")
        .args(apply(profile))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(after);
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    // A stopped apply may take a moment to leave cleanly (cancel, delete its change set).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "apply did not stop after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
