//! `apply`, `status` and `destroy` through the real binary against a real AWS API emulator
//! (moto_server): create, no-op, update and destroy, in a global region and in both China regions.
//! The bundled Lambdas are built by `apply` itself with cargo-lambda.

use crate::support::building::{self, Run};
use crate::support::moto::Moto;
use predicates::prelude::*;
use serde_json::Value;

fn rmdeploy(moto: &Moto, args: &[&str]) -> Run {
    // moto answers Service Quotas only for `vpc`: the quota preflight is covered by
    // tests/suite/quotas.rs with recorded responses.
    let skip: &[&str] = if args[0] == "apply" {
        &["--skip-quota-check"]
    } else {
        &[]
    };
    building::run(moto.rmdeploy(), &[args, skip].concat())
}

fn output<'a>(report: &'a Value, key: &str) -> &'a str {
    report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == key)
        .unwrap_or_else(|| panic!("no output {key} in {report}"))["value"]
        .as_str()
        .unwrap()
}

#[test]
fn create_no_op_update_and_destroy() {
    let moto = Moto::start();

    // Create: bootstrap, build, upload, change set, execute.
    let created = rmdeploy(&moto, &["apply", "-p", "dev", "--yes", "-o", "json"]).json();
    assert_eq!(created["action"], "created");
    assert_eq!(created["status"], "CREATE_COMPLETE");
    assert_eq!(created["bootstrap"]["action"], "created");
    let artifacts = created["artifacts"].as_array().unwrap();
    // One artifact per function binary: node-config, params, node-alert, user-mapping,
    // ota-fetch, ota-status, ts-ingest, cmd-resp, api, claim and auth (dev uses Cognito, so no
    // authorizer); none of its functions needs `pending`.
    assert_eq!(artifacts.len(), 11, "{artifacts:?}");
    assert!(!artifacts
        .iter()
        .any(|a| a["key"].as_str().unwrap().starts_with("lambda/pending/")));
    assert!(artifacts.iter().all(|a| a["uploaded"] == true));
    let total = created["changes"].as_array().unwrap().len();
    assert!(total > 50, "{total}");
    // A new stack costs nothing before; after, what `rmdeploy cost -p dev` says.
    assert_eq!(created["cost"]["before"], Value::Null);
    let after = created["cost"]["after"].as_f64().unwrap();
    assert!(after > 1.0 && after < 100.0, "{after}");
    assert_eq!(created["termination_protection"], false, "dev has it off");
    assert!(output(&created, "ApiUrl").starts_with("https://"));
    assert!(output(&created, "ApiUrl").ends_with(".amazonaws.com/dev"));
    assert!(output(&created, "IotDataEndpoint").ends_with("-ats.iot.us-east-1.amazonaws.com"));
    assert!(output(&created, "FirmwareBucketName").starts_with("rainmaker-dev-firmwarebucket"));

    // No-op: nothing uploaded, "No changes".
    let again = rmdeploy(&moto, &["apply", "-p", "dev", "--yes", "-o", "json"]).json();
    assert_eq!(again["action"], "unchanged");
    assert_eq!(again["changes"].as_array().unwrap().len(), 0);
    assert!(again["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["uploaded"] == false));
    let human = rmdeploy(&moto, &["apply", "-p", "dev", "--no-build"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains("No changes."), "{}", human.stdout);
    assert!(
        human.stdout.contains("0 uploaded, 11 already in"),
        "{}",
        human.stdout
    );

    // An update without a terminal and without --yes is refused; nothing is left behind.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("dev-webhooks.yaml");
    let dev = std::fs::read_to_string(crate::support::root().join("profiles/dev.yaml")).unwrap();
    std::fs::write(
        &profile,
        dev.replace("features: {}", "features:\n  webhooks: true"),
    )
    .unwrap();
    let profile = profile.to_str().unwrap();
    let refused = rmdeploy(&moto, &["apply", "-p", profile, "--no-build"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no terminal to confirm"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"));
    assert!(
        refused.stdout.contains("+ Add"),
        "the plan is shown first: {}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("Estimated cost: $")
            && refused.stdout.contains(" a month before, $"),
        "the change set shows the cost before and after: {}",
        refused.stdout
    );
    assert_eq!(
        moto.leftovers("us-east-1").1,
        0,
        "the refused change set was left behind"
    );

    // The update adds exactly the webhooks resources.
    let updated = rmdeploy(
        &moto,
        &["apply", "-p", profile, "--no-build", "--yes", "-o", "json"],
    )
    .json();
    assert_eq!(updated["action"], "updated");
    assert_eq!(updated["status"], "UPDATE_COMPLETE");
    // Before: the deployed template priced the same way; the webhooks queue's polling adds cost.
    let before = updated["cost"]["before"].as_f64().unwrap();
    assert!((before - after).abs() < 1e-6, "{before} vs {after}");
    assert!(updated["cost"]["after"].as_f64().unwrap() > before);
    let changes = updated["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|c| c["action"] == "Add"
                || c["logical_id"].as_str().unwrap().starts_with("NodeAlert")),
        "only additions, and the alert function that now feeds webhooks: {changes:?}"
    );
    assert!(changes
        .iter()
        .any(|c| c["logical_id"].as_str().unwrap().starts_with("Webhook")));

    // status: the stack, its events and outputs.
    let status = rmdeploy(&moto, &["status", "-p", profile, "-o", "json"]).json();
    assert_eq!(status["exists"], true);
    assert_eq!(status["status"], "UPDATE_COMPLETE");
    assert!(!status["events"].as_array().unwrap().is_empty());
    assert_eq!(output(&status, "ApiUrl"), output(&created, "ApiUrl"));

    // destroy: refused without a terminal, then done with --yes; the bootstrap stack stays.
    let refused = rmdeploy(&moto, &["destroy", "-p", "dev"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("nothing was deleted"),
        "{}",
        refused.stderr
    );
    let destroyed = rmdeploy(&moto, &["destroy", "-p", "dev", "--yes", "-o", "json"]).json();
    assert_eq!(destroyed["action"], "deleted");
    assert_eq!(destroyed["status"], "DELETE_COMPLETE");
    let (stacks, open) = moto.leftovers("us-east-1");
    assert_eq!(
        stacks,
        vec![(
            "rmdeploy-bootstrap".to_string(),
            "CREATE_COMPLETE".to_string()
        )]
    );
    assert_eq!(open, 0);
    let status = rmdeploy(&moto, &["status", "-p", "dev"]);
    assert!(status.stdout.contains("not deployed"), "{}", status.stdout);
    let gone = rmdeploy(&moto, &["destroy", "-p", "dev", "--yes", "-o", "json"]).json();
    assert_eq!(gone["action"], "absent");
}

#[test]
fn china_regions_deploy_end_to_end_with_china_arns_and_endpoints() {
    let moto = Moto::start();
    // The emulator lacks UpdateTerminationProtection (tests/suite/recorded.rs covers it): this copy of
    // the china profile leaves it off.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("china-test.yaml");
    let china =
        std::fs::read_to_string(crate::support::root().join("profiles/china.yaml")).unwrap();
    assert!(china.contains("termination_protection: true"));
    std::fs::write(
        &profile,
        china.replace(
            "termination_protection: true",
            "termination_protection: false",
        ),
    )
    .unwrap();
    let profile = profile.to_str().unwrap();
    for region in ["cn-north-1", "cn-northwest-1"] {
        let created = rmdeploy(
            &moto,
            &[
                "apply", "-p", profile, "--region", region, "--yes", "-o", "json",
            ],
        )
        .json();
        assert_eq!(created["action"], "created", "{region}");
        // China authorizes with OAuth2: the authorizer's own binary is deployed.
        assert!(
            created["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["key"].as_str().unwrap().starts_with("lambda/authorizer/")),
            "{}",
            created["artifacts"]
        );
        assert_eq!(created["region"], region);
        let api = output(&created, "ApiUrl");
        assert!(
            api.contains(&format!(".execute-api.{region}.amazonaws.com.cn/")),
            "{api}"
        );
        // Read with DescribeEndpoint, never built by hand (the emulator answers with the global
        // suffix; AWS China with `.amazonaws.com.cn`).
        let endpoint = output(&created, "IotDataEndpoint");
        assert!(endpoint.contains(&format!(".iot.{region}.")), "{endpoint}");
        assert!(
            created["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["key"] != "UserPoolId"),
            "no Cognito in China"
        );

        // The deployed template carries aws-cn ARNs only.
        let (rt, cfn) = moto.cloudformation(region);
        let body = rt.block_on(async {
            cfn.get_template()
                .stack_name("rainmaker")
                .send()
                .await
                .unwrap()
                .template_body
                .unwrap()
        });
        assert!(
            body.contains("arn:${AWS::Partition}:"),
            "ARNs take the partition"
        );
        assert!(
            !body.contains("arn:aws:"),
            "no global-partition ARN literal"
        );

        let again = rmdeploy(
            &moto,
            &[
                "apply",
                "-p",
                profile,
                "--region",
                region,
                "--no-build",
                "--yes",
                "-o",
                "json",
            ],
        )
        .json();
        assert_eq!(again["action"], "unchanged", "{region}");
        let (stacks, open) = moto.leftovers(region);
        assert_eq!(stacks.len(), 2, "{stacks:?}");
        assert_eq!(open, 0);
    }
}

#[test]
fn apply_without_credentials_says_how_to_provide_them_and_deploys_nothing() {
    let moto = Moto::start();
    let mut cmd = moto.rmdeploy();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args([
            "apply",
            "-p",
            "dev",
            "--yes",
            "--no-build",
            "--skip-quota-check",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no AWS credentials"))
        .stderr(predicate::str::contains("AWS_ACCESS_KEY_ID"));
    assert!(moto.leftovers("us-east-1").0.is_empty());
}

#[test]
fn leftovers_of_killed_runs_are_cleaned_up_before_deploying() {
    use aws_sdk_cloudformation::types::{Capability, ChangeSetType};
    let moto = Moto::start();
    let (rt, cfn) = moto.cloudformation("us-east-1");
    let tiny = r#"{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}"#;
    // A CREATE change set that never ran leaves a REVIEW_IN_PROGRESS stack.
    rt.block_on(async {
        cfn.create_change_set()
            .stack_name("rainmaker-dev")
            .change_set_name("rmdeploy-1")
            .change_set_type(ChangeSetType::Create)
            .template_body(tiny)
            .send()
            .await
            .unwrap();
    });
    assert_eq!(
        moto.leftovers("us-east-1").0,
        vec![(
            "rainmaker-dev".to_string(),
            "REVIEW_IN_PROGRESS".to_string()
        )]
    );
    let created = rmdeploy(&moto, &["apply", "-p", "dev", "--yes", "-o", "json"]).json();
    assert_eq!(created["action"], "created");
    assert!(
        created["recovered"][0]
            .as_str()
            .unwrap()
            .contains("REVIEW_IN_PROGRESS"),
        "{}",
        created["recovered"]
    );

    // A change set an interrupted plan or apply left on the deployed stack.
    rt.block_on(async {
        cfn.create_change_set()
            .stack_name("rainmaker-dev")
            .change_set_name("rmdeploy-2")
            .change_set_type(ChangeSetType::Update)
            .template_body(tiny)
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .unwrap();
    });
    assert_eq!(moto.leftovers("us-east-1").1, 1);
    let again = rmdeploy(
        &moto,
        &["apply", "-p", "dev", "--no-build", "--yes", "-o", "json"],
    )
    .json();
    assert_eq!(again["action"], "unchanged");
    assert_eq!(
        again["recovered"],
        serde_json::json!(["deleted the change set rmdeploy-2 an earlier run left"])
    );
    assert_eq!(moto.leftovers("us-east-1").1, 0);
}

/// Ctrl-C (SIGINT to rmdeploy) before execution: it stops at the next safe point with status 130
/// and leaves nothing in the account; a second one leaves at once.
#[test]
fn ctrl_c_before_execution_stops_cleanly_and_twice_leaves_at_once() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let moto = Moto::start();
    let _build = building::build_lock();
    let run = |presses: usize| {
        let mut cmd = moto.process();
        cmd.args(["apply", "-p", "dev", "--yes", "--skip-quota-check"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        // The handler is listening once the build starts.
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains("building the bundled functions") {
                break;
            }
        }
        for _ in 0..presses {
            // SAFETY: plain kill(2) of our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        seen.extend(lines.map(|l| l.unwrap()));
        (child.wait().unwrap().code(), seen.join("\n"))
    };

    let (code, stderr) = run(1);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("stopping at the next safe point"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped:"), "{stderr}");
    assert!(!stderr.contains("deploying stack"), "{stderr}");

    let (code, stderr) = run(2);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("leaving at once"), "{stderr}");

    let (stacks, open) = moto.leftovers("us-east-1");
    assert!(
        stacks.iter().all(|(name, _)| name != "rainmaker-dev"),
        "{stacks:?}"
    );
    assert_eq!(open, 0, "a change set was left behind");
}

/// The emulator cannot answer the quota preflight: apply stops before anything is made and says
/// how to go on.
#[test]
fn apply_stops_when_the_quotas_cannot_be_read() {
    let moto = Moto::start();
    moto.rmdeploy()
        .args(["apply", "-p", "dev", "--yes", "--no-build"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the quota check could not be made",
        ))
        .stderr(predicate::str::contains("--skip-quota-check"));
    assert!(moto.leftovers("us-east-1").0.is_empty());
}
