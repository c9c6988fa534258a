//! `rmdeploy firmware validate | publish | list` and publishing from `apply`, through the real
//! binary, against moto_server for S3, DynamoDB and IoT jobs, in a global and a China region:
//! content-addressed uploads with their metadata, OTA jobs registered once, IoT Jobs with the
//! manifest's rollout, abort and timeout; bad manifests and images refused before anything is
//! uploaded; nothing half-published after a failure.

use std::path::{Path, PathBuf};

use crate::support::building::{self, Run};
use crate::support::moto::Moto;

fn run(moto: Option<&Moto>, args: &[&str]) -> Run {
    let mut cmd = match moto {
        Some(m) => m.rmdeploy(),
        None => crate::support::rmdeploy(),
    };
    cmd.current_dir(crate::support::root());
    building::run(cmd, args)
}

/// The manifest's image: the esp-hal firmware.
fn firmware_image() -> PathBuf {
    crate::support::root().join("device-fw/light-esp32c3.bin")
}

/// A copy of a shipped profile for tests: termination protection off, the shipped esp-hal image listed,
/// IoT jobs on.
fn profile(dir: &Path, shipped: &str, images: bool) -> String {
    let text =
        std::fs::read_to_string(crate::support::root().join(format!("profiles/{shipped}.yaml")))
            .unwrap()
            .replace(
                "termination_protection: true",
                "termination_protection: false",
            );
    let firmware = if images {
        format!(
            "firmware:\n  manifest: {}\n  iot_jobs: true\n  images:\n    - name: light-esp32c3\n      max_per_minute: 7\n",
            crate::support::root().join("device-fw/manifest.yaml").display()
        )
    } else {
        "firmware:\n  images: []\n".to_string()
    };
    let text = text.split("\nfirmware:").next().unwrap().to_string() + "\n" + &firmware;
    let path = dir.join(format!("{shipped}-firmware.yaml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn validate_checks_the_manifest_and_single_files() {
    let ok = run(None, &["firmware", "validate", "-o", "json"]).json();
    let image = &ok["images"][0];
    assert_eq!(image["valid"], true);
    assert_eq!(image["chip"], "esp32c3");
    assert_eq!(image["version"], "1.2.0");
    assert_eq!(image["manifest_image"], "light-esp32c3");

    // A corrupted copy, given as a file: its defect, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(firmware_image()).unwrap();
    bytes[0] = 0x00;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let r = run(
        None,
        &[
            "firmware",
            "validate",
            bad.to_str().unwrap(),
            firmware_image().to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("FAILED") && r.stdout.contains("bad.bin"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ok ") && r.stdout.contains("manifest image `light-esp32c3`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("1 of 2 image(s) failed validation"),
        "{}",
        r.stderr
    );

    // A manifest that disagrees with the image: file, line and what differs.
    let manifest = dir.path().join("manifest.yaml");
    std::fs::copy(firmware_image(), dir.path().join("light.bin")).unwrap();
    std::fs::write(
        &manifest,
        "images:\n  - name: light\n    file: light.bin\n    chip: esp32s3\n    version: 9.9.9\n    project: light\n    rollout:\n      max_per_minute: 0\n",
    )
    .unwrap();
    let r = run(
        None,
        &[
            "firmware",
            "validate",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    for expected in [
        "manifest.yaml:4:",
        "manifest.yaml:5:",
        "the image is built for esp32c3 (chip id 5), the manifest says esp32s3",
        "the image's version is `1.2.0`, the manifest says `9.9.9`",
        "rollout.max_per_minute is 0, outside 1 to 1000",
        "nothing was uploaded",
    ] {
        assert!(r.stderr.contains(expected), "{expected} in {}", r.stderr);
    }
    // Unknown keys and chips, like a profile's errors.
    std::fs::write(&manifest, "images:\n  - name: light\n    file: light.bin\n    chip: esp8266\n    version: 1.2.0\n    project: light\n    colour: red\n").unwrap();
    let r = run(
        None,
        &[
            "firmware",
            "validate",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("unknown field `colour`"), "{}", r.stderr);
    let schema = run(None, &["firmware", "schema"]).json();
    let rollout = if schema["definitions"]["Rollout"].is_object() {
        &schema["definitions"]["Rollout"]
    } else {
        &schema["$defs"]["Rollout"]
    };
    assert_eq!(
        (
            &rollout["properties"]["allow_downgrade"]["type"],
            &rollout["properties"]["allow_downgrade"]["default"]
        ),
        (&serde_json::json!("boolean"), &serde_json::json!(false)),
        "{schema}"
    );
}

fn publish_and_check(region: &str, shipped: &str) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), shipped, true);
    let applied = run(
        Some(&moto),
        &[
            "apply",
            "-p",
            &p,
            "--region",
            region,
            "--yes",
            "--skip-quota-check",
            "-o",
            "json",
        ],
    )
    .json();
    let published = &applied["firmware"][0];
    assert_eq!(published["uploaded"], true, "{applied}");
    assert_eq!(published["registered"], true);
    // the stack's ota-fetch was asked to offer the new job to the nodes online now (moto's Lambda
    // takes the asynchronous invocation by that name; an unknown function would be an error)
    assert_eq!(
        (&published["offered_online"], &published["offer_error"]),
        (&serde_json::json!(true), &serde_json::Value::Null),
        "{applied}"
    );
    let sha = published["sha256"].as_str().unwrap().to_string();
    let key = published["key"].as_str().unwrap().to_string();
    assert_eq!(key, format!("firmware/light/1.2.0/{sha}.bin"));
    let job_id = published["ota_job_id"].as_str().unwrap().to_string();
    assert_eq!(job_id, format!("light-1_2_0-{}", &sha[..12]));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = moto.clients(region).await;
        let stack = applied["stack"].as_str().unwrap();
        let target = rmdeploy::firmware::publish::target(&c, stack, true)
            .await
            .unwrap();
        // the object, content-addressed, with its metadata and bytes
        let head =
            c.s3.head_object()
                .bucket(&target.bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
        let meta = head.metadata().unwrap();
        let bytes = std::fs::read(firmware_image()).unwrap();
        assert_eq!(meta["sha256"], sha);
        assert_eq!(meta["fw-version"], "1.2.0");
        assert_eq!(meta["md5"], format!("{:x}", md5::compute(&bytes)));
        assert_eq!(head.content_length(), Some(bytes.len() as i64));
        // the OTA job ota-fetch serves, with the profile's rate over the manifest's
        let item = c
            .dynamodb
            .get_item()
            .table_name(&target.jobs_table)
            .key(
                "job_id",
                aws_sdk_dynamodb::types::AttributeValue::S(job_id.clone()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("job".into()),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let n = |k: &str| item[k].as_n().unwrap().clone();
        assert_eq!(item["chip"].as_s().unwrap(), "esp32c3");
        // only newer versions unless the manifest's rollout allows downgrades
        assert_eq!(item["allow_downgrade"].as_bool(), Ok(&false));
        assert_eq!(item["key"].as_s().unwrap(), &key);
        assert_eq!(
            (n("max_parallel"), n("max_per_minute"), n("timeout_s")),
            ("5".into(), "7".into(), "1800".into())
        );
        // the IoT job with rollout, abort and timeout
        let job = aws_sdk_iot::Client::new(&c.config)
            .describe_job()
            .job_id(&job_id)
            .send()
            .await
            .unwrap();
        let job = job.job().unwrap();
        assert_eq!(
            job.job_executions_rollout_config()
                .unwrap()
                .maximum_per_minute(),
            Some(7)
        );
        assert_eq!(
            job.timeout_config()
                .unwrap()
                .in_progress_timeout_in_minutes(),
            Some(30)
        );
        let abort = &job.abort_config().unwrap().criteria_list()[0];
        assert_eq!(abort.threshold_percentage(), 10.0);
        assert!(
            job.targets()[0].contains(&format!(":thinggroup/{stack}-light")),
            "{:?}",
            job.targets()
        );
        assert!(
            job.targets()[0].contains(&format!(":iot:{region}:")),
            "{:?}",
            job.targets()
        );
    });

    // Again: nothing uploaded or registered twice; listed with its progress.
    let again = run(
        Some(&moto),
        &[
            "firmware", "publish", "-p", &p, "--region", region, "-o", "json",
        ],
    )
    .json();
    assert_eq!(again["published"][0]["uploaded"], false);
    assert_eq!(again["published"][0]["registered"], false);
    assert!(
        again["published"][0].get("offered_online").is_none(),
        "a job already registered is not offered again"
    );
    let listed = run(
        Some(&moto),
        &[
            "firmware", "list", "-p", &p, "--region", region, "-o", "json",
        ],
    )
    .json();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["jobs"][0]["ota_job_id"], job_id.as_str());
    assert_eq!(listed["jobs"][0]["state"], "active");
    assert!(listed["jobs"][0]["iot_job_status"].is_string());
    let human = run(
        Some(&moto),
        &["firmware", "list", "-p", &p, "--region", region],
    );
    assert!(
        human.stdout.contains("no node yet") && human.stdout.contains(&job_id),
        "{}",
        human.stdout
    );
}

#[test]
fn apply_publishes_the_profiles_images_in_a_global_region() {
    publish_and_check("us-east-1", "dev");
}

#[test]
fn apply_publishes_the_profiles_images_in_china() {
    publish_and_check("cn-north-1", "china");
}

#[test]
fn bad_images_stop_apply_and_failures_leave_nothing_half_published() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // A profile naming an image the manifest does not have: refused before any AWS call.
    let p = profile(dir.path(), "dev", true);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("- name: light-esp32c3", "- name: light-esp32c6");
    std::fs::write(&p, text).unwrap();
    let r = run(
        Some(&moto),
        &["apply", "-p", &p, "--yes", "--skip-quota-check"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no image named `light-esp32c6`")
            && r.stderr.contains("did you mean `light-esp32c3`"),
        "{}",
        r.stderr
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stacks = rt.block_on(async {
        moto.clients("us-east-1")
            .await
            .cfn
            .list_stacks()
            .send()
            .await
            .unwrap()
            .stack_summaries()
            .len()
    });
    assert_eq!(stacks, 0, "nothing deployed");

    // A deployed stack whose OTA table is gone: the upload is undone, no version remains.
    let plain = profile(dir.path(), "dev", false);
    let applied = run(
        Some(&moto),
        &[
            "apply",
            "-p",
            &plain,
            "--yes",
            "--skip-quota-check",
            "-o",
            "json",
        ],
    )
    .json();
    let stack = applied["stack"].as_str().unwrap().to_string();
    let target = rt.block_on(async {
        let c = moto.clients("us-east-1").await;
        let t = rmdeploy::firmware::publish::target(&c, &stack, false)
            .await
            .unwrap();
        c.dynamodb
            .delete_table()
            .table_name(&t.jobs_table)
            .send()
            .await
            .unwrap();
        t
    });
    let r = run(
        Some(&moto),
        &["firmware", "publish", "-p", &p, "--image", "light-esp32c3"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("PutItem (OTA job) failed"),
        "{}",
        r.stderr
    );
    let versions = rt.block_on(async {
        let c = moto.clients("us-east-1").await;
        let v =
            c.s3.list_object_versions()
                .bucket(&target.bucket)
                .prefix("firmware/")
                .send()
                .await
                .unwrap();
        (v.versions().len(), v.delete_markers().len())
    });
    assert_eq!(versions, (0, 0), "the uploaded version was removed");
}
