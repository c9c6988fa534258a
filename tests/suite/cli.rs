//! The binary as a user meets it: help, exit codes, errors on stderr, JSON output.

use crate::support::{fixture, rmdeploy};
use predicates::prelude::*;
use serde_json::Value;

fn json_stdout(args: &[&str]) -> Value {
    crate::support::json_of(rmdeploy().args(args))
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
            "Exit status: 0 success; 1 error; 2 attention: changes present",
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
        &std::fs::read_to_string(crate::support::root().join("docs/profile.schema.json")).unwrap(),
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
    assert!(
        reqs.iter().all(|r| r["id"] != "Q005" && r["id"] != "Q006"),
        "every table is on demand: no account-level DynamoDB check"
    );
    let q004 = reqs.iter().find(|r| r["id"] == "Q004").unwrap();
    assert!(
        q004["why"]
            .as_str()
            .unwrap()
            .contains("node_params, on demand, peak need"),
        "{q004}"
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

/// The command lines of README.md and docs/*.md: in code blocks or indented, starting with
/// `rmdeploy ` (or `$ rmdeploy `, or `cargo run --release -- `), without comments, pipes and
/// redirections. Each with its file and line.
fn documented_command_lines() -> Vec<(String, Vec<String>)> {
    let root = crate::support::root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let mut fenced = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !(fenced || line.starts_with("    ")) {
                continue;
            }
            let t = t.strip_prefix("$ ").unwrap_or(t);
            let Some(rest) = t
                .strip_prefix("rmdeploy ")
                .or_else(|| t.strip_prefix("cargo run --release -- "))
            else {
                continue;
            };
            let rest = [" #", " |", " >", " 2>", " &&", " <"]
                .iter()
                .fold(rest, |r, cut| r.split(cut).next().unwrap());
            let words: Vec<String> = rest
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
                .collect();
            // A synopsis (`rmdeploy [-o ...] <command>`) or a table heading is not a command.
            if fenced && line.starts_with(' ') || words.first().is_some_and(|w| w.starts_with('['))
            {
                continue;
            }
            out.push((format!("{name}:{}", i + 1), words));
        }
    }
    out
}

#[test]
fn every_command_line_in_the_docs_parses() {
    use clap::Parser;
    let lines = documented_command_lines();
    assert!(lines.len() > 40, "only {} command lines found", lines.len());
    let mut broken = Vec::new();
    for (at, words) in &lines {
        let argv = std::iter::once("rmdeploy".to_string()).chain(words.iter().cloned());
        if let Err(e) = rmdeploy::cli::Cli::try_parse_from(argv) {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if !matches!(e.kind(), DisplayHelp | DisplayVersion) {
                broken.push(format!("{at}: rmdeploy {}: {}", words.join(" "), e.kind()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "documented commands that no longer parse:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_offline_command_line_in_the_docs_runs() {
    // Commands that need no account and no file of the reader's, outside troubleshooting.md
    // (whose examples fail on purpose).
    let offline = |w: &[String]| {
        let first = w.first().map(String::as_str);
        let names_a_file = w.iter().any(|a| a.contains('/') || a.ends_with(".yaml"));
        let shipped_profile = w.windows(2).all(|p| {
            !(p[0] == "-p" || p[0] == "--profile")
                || ["global", "china", "dev"].contains(&p[1].as_str())
        });
        !names_a_file
            && shipped_profile
            && match first {
                Some("plan") => w.iter().any(|a| a == "--offline"),
                Some("quota-check") => w.iter().any(|a| a == "--offline"),
                Some("cost") | Some("render") => !w.iter().any(|a| a == "--out"),
                Some("profile") => true,
                _ => false,
            }
    };
    let mut ran = 0;
    for (at, words) in documented_command_lines() {
        if at.starts_with("docs/troubleshooting.md") || !offline(&words) {
            continue;
        }
        let out = rmdeploy().args(&words).output().unwrap();
        assert!(
            out.status.success(),
            "{at}: rmdeploy {} exited {:?}: {}",
            words.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} offline command lines ran");
}

#[test]
fn plan_and_cost_show_the_estimate_and_stop_over_the_budget() {
    let plan = json_stdout(&["plan", "--offline", "-o", "json"]);
    let monthly = plan["cost"]["monthly"].as_f64().unwrap();
    assert_eq!(plan["cost"]["currency"], "USD");
    assert!(monthly > 1_000.0 && monthly < 100_000.0, "{monthly}");
    rmdeploy()
        .args(["plan", "--offline"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Estimated cost: $"))
        .stdout(predicate::str::contains("per device a year"))
        .stdout(predicate::str::contains("assumptions"));
    let china = json_stdout(&["cost", "-p", "china", "-o", "json"]);
    assert_eq!(china["currency"], "CNY");

    let dir = tempfile::tempdir().unwrap();
    let over = dir.path().join("over.yaml");
    std::fs::write(
        &over,
        "stack_name: tight\nregion: us-east-1\ncapacity:\n  devices: 1000\nbudget:\n  monthly: 1\n",
    )
    .unwrap();
    let over = over.to_str().unwrap();
    for args in [
        &["plan", "--offline", "-p", over][..],
        &["cost", "-p", over][..],
        // apply stops before it needs an account or a build.
        &["apply", "-p", over, "--yes"][..],
    ] {
        rmdeploy()
            .args(args)
            .env_remove("AWS_PROFILE")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("over budget: the estimate is $"))
            .stderr(predicate::str::contains("budget.monthly $1.00"));
    }
    rmdeploy()
        .args(["plan", "--offline", "-p", over, "--ignore-budget"])
        .assert()
        .success()
        .stdout(predicate::str::contains("budget $1.00 a month: OVER"));
}

#[test]
fn quota_check_offline_ignores_as_live_does() {
    rmdeploy()
        .args(["quota-check", "--offline", "--ignore", "Q099"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--ignore names no check: Q099"))
        .stderr(predicate::str::contains("Q001, Q003"));
    let out = json_stdout(&[
        "quota-check",
        "--offline",
        "--ignore",
        "q011,Q012",
        "-o",
        "json",
    ]);
    let ids: Vec<&str> = out["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"Q011") && !ids.contains(&"Q012"), "{ids:?}");
    assert_eq!(out["ignored"], serde_json::json!(["Q011", "Q012"]));
}

#[test]
fn features_that_do_not_work_yet_are_off_and_warned_about() {
    for p in ["global", "china", "dev"] {
        let plan = json_stdout(&["plan", "--offline", "-p", p, "-o", "json"]);
        let warnings = plan["warnings"].to_string();
        assert!(!warnings.contains("is on, but"), "{p}: {warnings}");
        assert!(!warnings.contains("Device Defender"), "{p}: {warnings}");
    }
    let plan = json_stdout(&[
        "plan",
        "--offline",
        "-p",
        &fixture("all-features.yaml"),
        "-o",
        "json",
    ]);
    let warnings: Vec<String> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    for (feature, what) in [
        (
            "webhooks",
            "its function webhook-dispatch has no handler yet",
        ),
        ("voice_assistants", "its function voice has no handler yet"),
        (
            "api_passthrough",
            "its function passthrough has no handler yet",
        ),
        (
            "internal_user_management",
            "its function user-admin has no handler yet",
        ),
        ("message_templates", "nothing reads its table yet"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("features.{feature} is on, but {what}"))),
            "{feature}: {warnings:#?}"
        );
    }
    assert!(warnings
        .iter()
        .any(|w| w.contains("closed Device Defender Detect to new customers")));
}
