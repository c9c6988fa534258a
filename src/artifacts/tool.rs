//! cargo-lambda, found on PATH or installed from PyPI (it brings zig, which links the Lambdas
//! against the runtime's glibc) into rmdeploy's own virtualenv when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::build::BuildError;
use crate::profile::Architecture;

/// The cargo-lambda release rmdeploy installs when there is none.
pub const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";

/// rmdeploy's virtualenv for cargo-lambda: `RMDEPLOY_TOOLS`, else `~/.cache/rmdeploy/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RMDEPLOY_TOOLS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("rmdeploy")
        .join("tools")
}

fn runs(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The PATH under which `cargo lambda` runs: the current one when it has cargo-lambda, else with
/// rmdeploy's virtualenv first, installing cargo-lambda there from PyPI when needed.
pub fn cargo_lambda_path() -> Result<std::ffi::OsString, BuildError> {
    let current = std::env::var_os("PATH").unwrap_or_default();
    if runs(Command::new("cargo").args(["lambda", "--version"])) {
        return Ok(current);
    }
    let venv = tools_dir();
    let bin = venv.join("bin");
    if !bin.join("cargo-lambda").is_file() {
        install(&venv)?;
    }
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&current));
    std::env::join_paths(paths).map_err(|e| BuildError::Tool(e.to_string()))
}

fn install(venv: &Path) -> Result<(), BuildError> {
    eprintln!(
        "cargo-lambda is not installed: installing {CARGO_LAMBDA} from PyPI into {}",
        venv.display()
    );
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(venv)
            .status()
            .map_err(|e| BuildError::Tool(format!("python3 -m venv: {e}")))?;
        if !status.success() {
            return Err(BuildError::Tool(format!(
                "python3 -m venv {} failed",
                venv.display()
            )));
        }
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            CARGO_LAMBDA,
        ])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| BuildError::Tool(format!("pip: {e}")))?;
    if !status.success() {
        return Err(BuildError::Tool(format!(
            "pip install {CARGO_LAMBDA} failed"
        )));
    }
    Ok(())
}

/// Add the Rust standard library of the architecture with rustup when it is missing (arm64 on
/// an x86_64 machine). Without rustup, cargo-lambda reports what is missing.
pub fn ensure_rust_target(arch: Architecture) {
    let triple = match arch {
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
    };
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == triple)
        });
    if installed == Some(false) {
        eprintln!("adding the Rust target {triple} with rustup");
        let _ = runs(Command::new("rustup").args(["target", "add", triple]));
    }
}
