//! `plan` against a real AWS API emulator (moto_server): a change set is made, read in full and
//! deleted; an empty one is "No changes"; `--detailed-exitcode` tells them apart.

use crate::support::moto::Moto;
use serde_json::Value;

fn plan(moto: &Moto, args: &[&str]) -> (i32, Value) {
    let out = moto
        .rmdeploy()
        .arg("plan")
        .args(args)
        .args(["-o", "json", "--detailed-exitcode"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 2,
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn plan_creates_then_reports_no_changes_then_the_added_feature() {
    let moto = Moto::start();
    let (rt, cfn) = moto.cloudformation("us-east-1");
    let names = |m: &Moto| -> (Vec<String>, usize) {
        let (stacks, open) = m.leftovers("us-east-1");
        (stacks.into_iter().map(|(n, _)| n).collect(), open)
    };

    // No bootstrap yet: the create is read from the template, nothing is made.
    let (code, first) = plan(&moto, &["-p", "dev"]);
    assert_eq!(code, 2);
    let total = first["resources"]["total"].as_u64().unwrap();
    assert_eq!(first["live"]["kind"], "create");
    // The emulator answers Service Quotas only for `vpc`: the verdict says it could not check,
    // and the plan goes on (tests/suite/quotas.rs covers the check itself).
    assert_eq!(first["quotas"]["passed"], false);
    assert!(
        first["quotas"]["error"].as_str().is_some(),
        "{}",
        first["quotas"]
    );
    assert_eq!(
        first["live"]["changes"].as_array().unwrap().len() as u64,
        total
    );
    assert_eq!(names(&moto), (vec![], 0));

    // With the bootstrap stack, the template goes through the bucket to a real change set.
    moto.rmdeploy()
        .args(["bootstrap", "-p", "dev"])
        .assert()
        .success();
    let (code, second) = plan(&moto, &["-p", "dev"]);
    assert_eq!(code, 2);
    let changes = second["live"]["changes"].as_array().unwrap();
    assert_eq!(changes.len() as u64, total);
    assert!(changes.iter().all(|c| c["action"] == "Add"));
    assert_eq!(
        names(&moto),
        (vec!["rmdeploy-bootstrap".to_string()], 0),
        "the plan left something behind"
    );

    // Deploy what the plan showed (apply's job later), then plan again: no changes.
    let params = second["live"]["parameters"].as_object().unwrap().clone();
    let template = moto
        .rmdeploy()
        .args(["render", "-p", "dev", "-o", "json"])
        .output()
        .unwrap()
        .stdout;
    rt.block_on(async {
        let mut create = cfn
            .create_stack()
            .stack_name("rainmaker-dev")
            .template_body(String::from_utf8(template).unwrap())
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam);
        for (k, v) in &params {
            create = create.parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v.as_str().unwrap())
                    .build(),
            );
        }
        create.send().await.unwrap();
    });
    let (code, third) = plan(&moto, &["-p", "dev"]);
    assert_eq!(code, 0, "{}", third["live"]);
    assert_eq!(third["live"]["kind"], "update");
    assert_eq!(third["live"]["changes"].as_array().unwrap().len(), 0);
    assert_eq!(third["live"]["parameters"], second["live"]["parameters"]);

    // Turning webhooks on adds exactly the webhooks resources.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("dev-webhooks.yaml");
    let dev = std::fs::read_to_string(crate::support::root().join("profiles/dev.yaml")).unwrap();
    std::fs::write(
        &profile,
        dev.replace("features: {}", "features:\n  webhooks: true"),
    )
    .unwrap();
    let (code, fourth) = plan(&moto, &["-p", profile.to_str().unwrap()]);
    assert_eq!(code, 2);
    let added: Vec<&str> = fourth["live"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "Add")
        .map(|c| c["logical_id"].as_str().unwrap())
        .collect();
    let labelled: Vec<&str> = fourth["resources"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["feature"] == "webhooks")
        .map(|r| r["logical_id"].as_str().unwrap())
        .collect();
    let (mut added, mut labelled) = (added, labelled);
    added.sort();
    labelled.sort();
    assert_eq!(added, labelled);
    assert_eq!(names(&moto).1, 0);
}

#[test]
fn without_credentials_plan_says_so_and_shows_the_offline_plan() {
    let moto = Moto::start();
    let mut cmd = moto.rmdeploy();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd
        .args(["plan", "-p", "dev", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["live"].is_null());
    assert!(
        plan["live_skipped"]
            .as_str()
            .unwrap()
            .contains("no AWS credentials"),
        "{plan}"
    );
    assert_eq!(plan["mode"], "offline");
}
