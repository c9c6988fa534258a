//! cargo-lambda missing from PATH: rmdeploy installs it from PyPI into its own virtualenv and
//! runs it from there.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn a_missing_cargo_lambda_is_installed_from_pypi() {
    // rmdeploy reads PATH and RMDEPLOY_TOOLS from its process environment: the test runs in a
    // process of its own with both set, the other tests' environment untouched.
    let tools = tempfile::tempdir().unwrap();
    // PATH with cargo and python3 but without any virtualenv that holds cargo-lambda.
    let path: Vec<_> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|p| !p.join("cargo-lambda").exists())
        .collect();
    let path = std::env::join_paths(&path).unwrap();
    if crate::support::in_own_process(
        concat!(
            module_path!(),
            "::a_missing_cargo_lambda_is_installed_from_pypi"
        ),
        &[
            ("PATH", path.as_os_str()),
            ("RMDEPLOY_TOOLS", tools.path().as_os_str()),
        ],
    ) {
        return;
    }
    // In the test's own process: the folder its parent made.
    let tools = PathBuf::from(std::env::var_os("RMDEPLOY_TOOLS").unwrap());
    let found = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(!found, "this test needs a PATH without cargo-lambda");

    let with_tool = rmdeploy::artifacts::tool::cargo_lambda_path().expect("installs");
    assert!(tools.join("bin/cargo-lambda").is_file());
    let out = Command::new("cargo")
        .args(["lambda", "--version"])
        .env("PATH", &with_tool)
        .output()
        .unwrap();
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout);
    let pinned = rmdeploy::artifacts::tool::CARGO_LAMBDA.trim_start_matches("cargo-lambda==");
    assert!(version.contains(pinned), "{version}");

    // Found the second time, not installed again.
    let before = std::fs::metadata(tools.join("bin/cargo-lambda"))
        .unwrap()
        .modified()
        .unwrap();
    rmdeploy::artifacts::tool::cargo_lambda_path().unwrap();
    let after = std::fs::metadata(tools.join("bin/cargo-lambda"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

/// Issue 14, finding 12: pip installs only files whose SHA-256 rmdeploy pins; a pin that does not
/// match what PyPI serves (a replaced upload, a poisoned mirror) stops the install.
#[test]
fn a_file_whose_hash_is_not_pinned_is_refused() {
    let pinned = rmdeploy::artifacts::tool::REQUIREMENTS;
    let requirements: Vec<&str> = pinned
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        requirements,
        ["cargo-lambda==1.9.2 \\", "ziglang==0.17.1 \\"],
        "every requirement pinned, zig included"
    );
    let venv = tempfile::tempdir().unwrap();
    let tampered = pinned.replace(
        "--hash=sha256:db2c0b1d53d7ed0055198fd045f641addc91b180b20d794fcf78cc9a9efacb38",
        "--hash=sha256:0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert_ne!(tampered, pinned);
    let err = rmdeploy::artifacts::tool::install(venv.path(), &tampered).unwrap_err();
    assert!(err.to_string().contains("failed"), "{err}");
    assert!(!venv.path().join("bin/cargo-lambda").exists());
}
