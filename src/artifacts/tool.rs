//! cargo-lambda, found on PATH or installed from PyPI (it brings zig, which links the Lambdas
//! against the runtime's glibc) into rmdeploy's own virtualenv when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BuildError;
use crate::profile::Architecture;

/// The cargo-lambda release rmdeploy installs when there is none.
pub const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";

/// What rmdeploy installs, each file pinned by its SHA-256 (cargo-lambda and its zig).
pub const REQUIREMENTS: &str = include_str!("cargo-lambda.requirements.txt");

/// rmdeploy's virtualenv for cargo-lambda: `RMDEPLOY_TOOLS`, else `~/.cache/rmdeploy/tools`.
pub fn tools_dir() -> Result<PathBuf, super::dirs::DirError> {
    super::dirs::folder(
        crate::settings::Settings::get().tools.clone(),
        super::dirs::TOOLS,
    )
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
    let venv = tools_dir()?;
    super::dirs::private(&venv, super::dirs::TOOLS)?;
    let bin = venv.join("bin");
    if !bin.join("cargo-lambda").is_file() {
        install(&venv, REQUIREMENTS)?;
    }
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&current));
    std::env::join_paths(paths).map_err(|e| BuildError::Tool(e.to_string()))
}

/// Install `requirements` (a pip requirements file whose every requirement carries its hashes)
/// into the virtualenv `venv`, made when missing. pip refuses a file whose hash is not listed,
/// any requirement without hashes, and source distributions (which would run code to build).
pub fn install(venv: &Path, requirements: &str) -> Result<(), BuildError> {
    eprintln!(
        "cargo-lambda is not installed: installing {CARGO_LAMBDA} from PyPI, pinned by hash, into {}",
        venv.display()
    );
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(venv)
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| BuildError::Tool(format!("python3 -m venv: {e}")))?;
        if !status.success() {
            return Err(BuildError::Tool(format!(
                "python3 -m venv {} failed",
                venv.display()
            )));
        }
    }
    let file = venv.join("rmdeploy-requirements.txt");
    std::fs::write(&file, requirements)
        .map_err(|e| BuildError::Tool(format!("{}: {e}", file.display())))?;
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-r",
        ])
        .arg(&file)
        // pip's output is progress: stderr, never the stdout of results.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| BuildError::Tool(format!("pip: {e}")))?;
    if !status.success() {
        return Err(BuildError::Tool(format!(
            "pip install {CARGO_LAMBDA} failed (a file whose hash is not pinned is refused)"
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
