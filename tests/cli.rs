//! The binary as a user meets it: help, exit codes, errors on stderr, JSON output.

mod common;

use common::{fixture, rmdeploy};
use predicates::prelude::*;
use serde_json::Value;

fn json_stdout(args: &[&str]) -> Value {
    common::json_of(rmdeploy().args(args))
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    rmdeploy()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("plan"))
        .stdout(predicate::str::contains("render"))
        .stdout(predicate::str::contains("profile"))
        .stdout(predicate::str::contains(
            "Exit status: 0 success; 1 error; 2 changes present",
        ))
        .stdout(predicate::str::contains("130 stopped with Ctrl-C"));
    for (command, texts) in [
        (
            "apply",
            &[
                "--yes",
                "--no-build",
                "--skip-resource <LOGICAL_ID>",
                "cancels it",
            ][..],
        ),
        (
            "destroy",
            &[
                "--yes",
                "--disable-termination-protection",
                "--retain <LOGICAL_ID>",
            ][..],
        ),
        ("status", &["--drift", "--events <N>"][..]),
        (
            "quota-check",
            &["--ignore <ID>", "--request-increase", "--offline"][..],
        ),
    ] {
        let mut assert = rmdeploy().args([command, "--help"]).assert().success();
        for text in texts {
            assert = assert.stdout(predicate::str::contains(*text));
        }
        assert.stdout(predicate::str::contains("--endpoint-url <URL>"));
    }
    for flag in ["--skip-quota-check", "--ignore-quota <ID>"] {
        rmdeploy()
            .args(["apply", "--help"])
            .assert()
            .stdout(predicate::str::contains(flag));
    }
    rmdeploy()
        .args(["plan", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--profile <NAME|PATH>"))
        .stdout(predicate::str::contains(
            "a `cn-*` region selects the China variant",
        ));
}

#[test]
fn plan_of_the_default_profile_is_offline_and_succeeds() {
    rmdeploy()
        .arg("plan")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Plan for stack rainmaker"))
        .stdout(predicate::str::contains(
            "region us-east-1 · variant global (partition aws)",
        ))
        .stdout(predicate::str::contains(
            "apply uploads it to the artifacts bucket",
        ))
        .stdout(predicate::str::contains("Checks: 6 passed"))
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn plan_json_has_counts_that_add_up() {
    let plan = json_stdout(&["plan", "--output", "json"]);
    let total = plan["resources"]["total"].as_u64().unwrap();
    let sum = |key: &str| -> u64 {
        plan["resources"][key]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("by_service"), total);
    assert_eq!(sum("by_feature"), total);
    assert_eq!(
        plan["resources"]["items"].as_array().unwrap().len() as u64,
        total
    );
    assert_eq!(plan["mode"], "offline");
    assert_eq!(
        plan["template"]["via_s3"],
        plan["template"]["bytes"].as_u64().unwrap() > 51_200
    );
    assert!(plan["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["passed"] == true));
}

#[test]
fn a_china_region_picks_the_china_profile_and_warns_about_icp() {
    let plan = json_stdout(&["plan", "--region", "cn-north-1", "-o", "json"]);
    assert_eq!(plan["variant"], "china");
    assert_eq!(plan["partition"], "aws-cn");
    assert_eq!(plan["identity"], "oauth2");
    assert_eq!(plan["architecture"], "x86_64");
    assert!(plan["profile"].as_str().unwrap().contains("china.yaml"));
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("ICP recordal"), "{warnings}");
    assert!(plan["resources"]["by_feature"]
        .get("identity_cognito")
        .is_none());
}

#[test]
fn a_bad_profile_exits_1_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "stack_name: demo\nregion: cn-north-1\nidentity:\n  provider: cognito\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    rmdeploy()
        .args(["plan", "--profile", &shown])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!(
            "{shown}:4:13: Cognito user pools are not available in AWS China"
        )))
        .stderr(predicate::str::contains("provider: oauth2"));
}

/// Runs rmdeploy with `args` and asserts exit 1, nothing on stdout, and each text on stderr.
fn assert_error(args: &[&str], texts: &[&str]) {
    let out = rmdeploy().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
    for text in texts {
        assert!(
            stderr.contains(text),
            "{args:?}: stderr lacks {text:?}:\n{stderr}"
        );
    }
}

#[test]
fn unknown_profiles_and_regions_are_errors_with_a_fix() {
    assert_error(
        &["plan", "--profile", "glob"],
        &[
            "there is no shipped profile named `glob`",
            "china, dev, global",
        ],
    );
    assert_error(
        &["plan", "--profile", "./missing.yaml"],
        &[
            "cannot read profile ./missing.yaml",
            "name a shipped profile",
        ],
    );
    assert_error(
        &["plan", "--region", "us-east-7"],
        &[
            "region `us-east-7` (from --region)",
            "did you mean `us-east-1`?",
        ],
    );
    assert_error(
        &["profile", "show", "--region", "cn-north-1", "-p", "global"],
        &["Cognito user pools are not available in AWS China"],
    );
}

#[test]
fn render_prints_the_root_template_and_writes_every_file() {
    let out = rmdeploy().args(["render", "-p", "dev"]).output().unwrap();
    assert!(out.status.success());
    let yaml: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(yaml["AWSTemplateFormatVersion"], "2010-09-09");
    assert!(yaml["Resources"]["NodeConfigRule"].is_object());

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    let written = json_stdout(&[
        "render",
        "-p",
        "dev",
        "--out",
        target.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let names: Vec<String> = written["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            std::path::Path::new(p.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["stack.json", "bootstrap.json", "parameters.json"]);
    let params: Value =
        serde_json::from_str(&std::fs::read_to_string(target.join("parameters.json")).unwrap())
            .unwrap();
    assert!(params["Parameters"]["ApiCodeKey"]["set_by_apply_from"]
        .as_str()
        .unwrap()
        .contains("SHA-256"));
    assert!(params["Parameters"]["IotDataEndpoint"].is_object());
}

#[test]
fn template_overrides_replace_embedded_files_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stack")).unwrap();
    std::fs::write(
        dir.path().join("stack/messaging.yaml.tera"),
        "  ExtraQueue:\n    Type: AWS::SQS::Queue\n    Metadata:\n      rmdeploy: {feature: custom}\n",
    )
    .unwrap();
    let plan = json_stdout(&[
        "plan",
        "-p",
        "dev",
        "--templates",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(plan["resources"]["by_feature"]["custom"], 1);

    std::fs::write(
        dir.path().join("stack/messaging.yaml.tera"),
        "  Broken:\n    Type: X\n    Properties: {Ref: Nowhere}\n",
    )
    .unwrap();
    rmdeploy()
        .args([
            "plan",
            "-p",
            "dev",
            "--templates",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "Resources.Broken.Properties: Ref `Nowhere`",
        ))
        .stderr(predicate::str::contains(
            "template checks failed: references",
        ));

    std::fs::write(dir.path().join("stack/messaging.yaml.tera"), "{% if %}").unwrap();
    rmdeploy()
        .args([
            "render",
            "-p",
            "dev",
            "--templates",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("stack/messaging.yaml.tera"));
}

#[test]
fn profile_schema_show_and_list() {
    let schema = json_stdout(&["profile", "schema"]);
    assert_eq!(schema["title"], "Profile");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["stack_name", "region"]);
    assert!(schema["properties"]["features"].is_object());
    assert!(schema.to_string().contains("auto_scaling"));

    let shown = rmdeploy()
        .args(["profile", "show", "-p", "china"])
        .output()
        .unwrap();
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("architecture: x86_64"), "{text}");
    assert!(text.contains("variant: china"));
    // the effective profile is itself a valid profile that gives the same result
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("effective.yaml");
    std::fs::write(&path, &text).unwrap();
    let again = rmdeploy()
        .args(["profile", "show", "-p", path.to_str().unwrap()])
        .output()
        .unwrap();
    let again = String::from_utf8(again.stdout).unwrap();
    assert_eq!(
        again.lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );

    rmdeploy()
        .args(["profile", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "global   Global regions (the default)",
        ));
}

#[test]
fn fixtures_render_with_every_check_passing() {
    for name in ["all-features.yaml", "oauth2-global.yaml"] {
        let plan = json_stdout(&["plan", "-p", &fixture(name), "-o", "json"]);
        assert!(
            plan["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["passed"] == true),
            "{name}"
        );
    }
}

#[test]
fn the_committed_schema_matches_the_binary() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("docs/profile.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        committed,
        json_stdout(&["profile", "schema"]),
        "docs/profile.schema.json is stale: run `cargo run -- profile schema > docs/profile.schema.json`"
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("rmdeploy"))
        .args(["render", "-p", "global"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before rmdeploy writes
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn quota_check_offline_lists_requirements_and_what_it_would_read() {
    let out = json_stdout(&["quota-check", "--offline", "-o", "json"]);
    assert_eq!(out["mode"], "offline");
    let reqs = out["requirements"].as_array().unwrap();
    let ids: Vec<&str> = reqs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.first(), Some(&"Q001"));
    assert!(
        ids.contains(&"Q013"),
        "Cognito is checked in global regions"
    );
    let q005 = reqs.iter().find(|r| r["id"] == "Q005").unwrap();
    assert_eq!(
        q005["required"], 360000.0,
        "eight 40,000-unit tables and one index"
    );
    let reads: Vec<&str> = out["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reads.contains(&"lambda:GetAccountSettings"));
    assert!(reads.iter().any(|r| r.contains("iotcore")));

    // China: no Cognito requirement.
    let china = json_stdout(&["quota-check", "--region", "cn-north-1", "-o", "json"]);
    assert!(china["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != "Q013"));

    rmdeploy()
        .args(["quota-check", "-p", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Q001 Lambda concurrent executions",
        ))
        .stdout(predicate::str::contains("A live check reads:"))
        .stderr(predicate::str::contains("no AWS account is configured"));
}
