//! Every shipped profile (and the test fixtures), rendered, passes cfn-lint with no finding in
//! its variant's regions and checkov with no failed check; every checkov skip is inline in the
//! template and gives a reason. The tools are installed from PyPI when missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const GLOBAL_REGIONS: &[&str] = &["us-east-1", "eu-west-1", "ap-southeast-1"];
const CHINA_REGIONS: &[&str] = &["cn-north-1", "cn-northwest-1"];

/// (profile, region flag, lint regions)
fn targets() -> Vec<(String, Option<&'static str>, &'static [&'static str])> {
    vec![
        ("global".into(), None, GLOBAL_REGIONS),
        ("dev".into(), None, GLOBAL_REGIONS),
        ("china".into(), None, CHINA_REGIONS),
        ("china".into(), Some("cn-northwest-1"), CHINA_REGIONS),
        (
            crate::support::fixture("all-features.yaml"),
            None,
            GLOBAL_REGIONS,
        ),
        (
            crate::support::fixture("oauth2-global.yaml"),
            None,
            GLOBAL_REGIONS,
        ),
    ]
}

/// Render every target into `dir`: (template path, lint regions).
fn render_all(dir: &Path) -> Vec<(PathBuf, &'static [&'static str])> {
    let mut files = Vec::new();
    for (i, (profile, region, regions)) in targets().into_iter().enumerate() {
        let rendered = crate::support::render(&profile, region);
        for t in [&rendered.stack, &rendered.bootstrap] {
            let path = dir.join(format!("{i}-{}", t.file_name));
            std::fs::write(&path, t.to_yaml()).unwrap();
            files.push((path, regions));
        }
    }
    files
}

fn cfn_lint(tools: &Path, file: &Path, regions: &[&str]) -> (i32, String) {
    let out = Command::new(tools.join("cfn-lint"))
        .arg("--regions")
        .args(regions)
        .arg("--")
        .arg(file)
        .output()
        .expect("cfn-lint runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn rendered_templates_pass_cfn_lint_in_their_regions() {
    let tools = crate::support::python_tools();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (file, regions) in render_all(dir.path()) {
        let (code, output) = cfn_lint(&tools, &file, regions);
        if code != 0 || !output.trim().is_empty() {
            failures.push(format!(
                "{} ({regions:?}): exit {code}\n{output}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_cfn_lint_harness_reports_a_broken_template() {
    // Proves the test above can fail: a literal partition and a bad runtime are findings.
    let tools = crate::support::python_tools();
    let dir = tempfile::tempdir().unwrap();
    let yaml = crate::support::render("dev", None)
        .stack
        .to_yaml()
        .replacen("provided.al2023", "provided.al2099", 1);
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, yaml).unwrap();
    let (code, output) = cfn_lint(&tools, &path, GLOBAL_REGIONS);
    assert_ne!(code, 0);
    assert!(output.contains("E3030"), "{output}");
}

#[test]
fn rendered_templates_pass_checkov_and_every_skip_has_a_reason() {
    let tools = crate::support::python_tools();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (file, _) in render_all(dir.path()) {
        let out = Command::new(tools.join("checkov"))
            .args([
                "--framework",
                "cloudformation",
                "--skip-download",
                "--output",
                "json",
                "-f",
            ])
            .arg(&file)
            .env("BC_SKIP_MAPPING", "TRUE")
            .output()
            .expect("checkov runs");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "checkov output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let summary = &report["summary"];
        assert!(
            summary["passed"].as_u64().unwrap() > 0,
            "checkov checked nothing in {}",
            file.display()
        );
        if summary["failed"].as_u64() != Some(0) {
            let failed: Vec<String> = report["results"]["failed_checks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{} on {}", c["check_id"], c["resource"]))
                .collect();
            failures.push(format!("{}: {}", file.display(), failed.join(", ")));
        }
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (id, resource) in doc["Resources"].as_object().unwrap() {
            for skip in resource
                .pointer("/Metadata/checkov/skip")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let reason = skip["comment"].as_str().unwrap_or("");
                if reason.split_whitespace().count() < 5 {
                    failures.push(format!(
                        "{}: {id} skips {} without a reason",
                        file.display(),
                        skip["id"]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
