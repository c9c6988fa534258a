//! Helpers shared by the integration tests of rmdeploy (`tests/suite`) and of the bundled Lambdas
//! (`lambdas/rainmaker/tests/suite`): the repository's paths, fixtures and rendered stacks, the
//! Python tools, the rmdeploy binary with a clean environment, `moto_server` and the proxies in
//! front of it, the part of IoT SQL the stack's rules use, Lambda builds one at a time, and a test
//! in a process of its own. A workspace member that is never published.

pub mod building;
pub mod faults;
pub mod iot_ca;
pub mod iot_sql;
pub mod moto;
pub mod proxy;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use rmdeploy::profile;
use rmdeploy::render::{self, Rendered};
use serde_json::Value;

/// The repository: the workspace of rmdeploy and the bundled Lambdas (this crate is its
/// `tests/testkit`).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the test kit is tests/testkit of the repository")
}

/// A profile of tests/fixtures/profiles, by path.
pub fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/profiles")
        .join(name)
        .display()
        .to_string()
}

/// Render a shipped profile by name, or a profile file by path.
pub fn render(selection: &str, region: Option<&str>) -> Rendered {
    let resolved = profile::load(Some(selection), region).expect("profile loads");
    render::render(&resolved, None).expect("profile renders")
}

/// Every shipped profile (China in both regions) and the test fixtures: (selection, region).
pub fn every_target() -> Vec<(String, Option<&'static str>)> {
    vec![
        ("global".into(), None),
        ("china".into(), None),
        ("china".into(), Some("cn-northwest-1")),
        ("dev".into(), None),
        (fixture("all-features.yaml"), None),
        (fixture("oauth2-global.yaml"), None),
    ]
}

/// The stack and bootstrap documents of [`every_target`], each with the target's name and
/// resolved profile.
pub fn every_rendering() -> Vec<(String, profile::Resolved, Vec<Value>)> {
    every_target()
        .into_iter()
        .map(|(selection, region)| {
            let resolved = profile::load(Some(&selection), region).expect("profile loads");
            let r = render(&selection, region);
            let name = format!("{selection} ({})", resolved.region);
            (
                name,
                resolved,
                vec![r.stack.document.clone(), r.bootstrap.document.clone()],
            )
        })
        .collect()
}

/// The folder holding cfn-lint and checkov, installed by scripts/python-tools when missing.
pub fn python_tools() -> PathBuf {
    python_tool_set("")
}

/// The bin folder of a set of scripts/python-tools (`""` for the main one, `rainmaker-cli`).
pub fn python_tool_set(set: &str) -> PathBuf {
    let out = Command::new(root().join("scripts/python-tools"))
        .args(Some(set).filter(|s| !s.is_empty()))
        .output()
        .expect("scripts/python-tools runs");
    assert!(
        out.status.success(),
        "scripts/python-tools failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The rmdeploy binary of this package's tests, with a clean environment for colour and
/// profile selection.
pub fn rmdeploy() -> assert_cmd::Command {
    clean(assert_cmd::Command::cargo_bin("rmdeploy").unwrap())
}

/// [`rmdeploy`] for the tests of another package of the workspace (the Lambdas'), which cargo
/// builds no rmdeploy binary for: the one in the target folder, which `cargo test --workspace`
/// builds before any test runs. (Run alone, `cargo test -p rmdeploy-lambdas` uses whichever
/// rmdeploy binary the target folder has; `cargo build -p rmdeploy` first brings it up to date.)
pub fn rmdeploy_of_workspace() -> assert_cmd::Command {
    // The test binary is <target>/<profile>/deps/<name>-<hash>; the binary, <target>/<profile>/rmdeploy.
    let exe = std::env::current_exe().expect("the test binary");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps")
        .join(format!("rmdeploy{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it, or `cargo build -p rmdeploy`",
        bin.display()
    );
    clean(assert_cmd::Command::new(bin))
}

/// No colour, no profile from the environment, no AWS account unless a test gives one.
fn clean(mut cmd: assert_cmd::Command) -> assert_cmd::Command {
    cmd.env_remove("RMDEPLOY_PROFILE").env("NO_COLOR", "1");
    // No AWS account unless a test gives one: plans stay offline and fast.
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        cmd.env_remove(var);
    }
    let nowhere = std::env::temp_dir().join("rmdeploy-tests-no-aws-files");
    cmd.env("AWS_CONFIG_FILE", nowhere.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", nowhere.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// PATH with the Python tools (cargo-lambda and its zig) first, and the arm64 Rust target
/// installed, for tests that build Lambdas.
pub fn lambda_build_path() -> String {
    let tools = python_tools();
    let status = Command::new("rustup")
        .args(["target", "add", "aarch64-unknown-linux-gnu"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("rustup runs");
    assert!(
        status.success(),
        "rustup target add aarch64-unknown-linux-gnu failed"
    );
    format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Run a command that must succeed and parse its stdout as one JSON document.
pub fn json_of(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

/// Set in a child process of [`in_own_process`] to the name of the test it runs.
const OWN_PROCESS: &str = "RMDEPLOY_TEST_OWN_PROCESS";

/// For a test that needs a process environment of its own: every test of a binary shares one, and
/// changing it while others run is a race. In the test binary, runs the test `path`
/// (`concat!(module_path!(), "::<name>")`) again in a child process of the binary with `env`
/// added to its environment, checks that it passed and returns true: the test is done. In that
/// child, returns false: the test goes on, in its own environment.
pub fn in_own_process(path: &str, env: &[(&str, &OsStr)]) -> bool {
    // The harness names a test by its path without the crate.
    let name = path.split_once("::").map_or(path, |(_, rest)| rest);
    if std::env::var_os(OWN_PROCESS).is_some_and(|v| v == name) {
        return false;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS, name)
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, in a process of its own:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}
