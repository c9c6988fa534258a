//! Running the rmdeploy binary where it builds the bundled Lambdas: one build at a time (the
//! shared target folder's `lambda/<bin>/bootstrap` is per architecture), the Python tools on PATH.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

static BUILDS: Mutex<()> = Mutex::new(());

/// Hold while a build may run in this test binary.
pub fn build_lock() -> MutexGuard<'static, ()> {
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// How long the command ran (not counting the wait for the build lock).
    pub took: std::time::Duration,
}

impl Run {
    /// The run succeeded and printed one JSON document.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "{}", self.stderr);
        serde_json::from_str(&self.stdout).expect("stdout is one JSON document")
    }
}

/// Run `cmd` with `args`, able to build Lambdas into the shared target folder.
pub fn run(mut cmd: assert_cmd::Command, args: &[&str]) -> Run {
    let _build = build_lock();
    cmd.env("PATH", super::lambda_build_path())
        .env(
            "RMDEPLOY_LAMBDA_TARGET",
            rmdeploy::artifacts::build::target_dir(None).expect("a private Lambda build folder"),
        )
        .args(args)
        .timeout(std::time::Duration::from_secs(1800));
    let started = std::time::Instant::now();
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: started.elapsed(),
    }
}
