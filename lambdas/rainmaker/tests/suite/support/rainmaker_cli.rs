//! The unmodified `esp-rainmaker-cli` (PyPI, installed by scripts/python-tools), run with a home
//! and a config folder of its own, away from any proxy settings of the machine.

use std::path::PathBuf;
use std::process::Command;

pub struct Cli {
    bin: PathBuf,
    pub home: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Cli {
        Cli {
            bin: super::python_tool_set("rainmaker-cli").join("esp-rainmaker-cli"),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `RM_USER_CONFIG_DIR`: its profiles and tokens (`profiles/`).
    pub fn config(&self) -> PathBuf {
        self.home.path().join("rainmaker")
    }

    /// Run the client: (exit ok, stdout + stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(&self.bin)
            .args(args)
            .env("HOME", self.home.path())
            .env("RM_USER_CONFIG_DIR", self.config())
            .env("NO_COLOR", "1")
            .env_remove("RM_CLI_OUT_DIR")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .output()
            .expect("esp-rainmaker-cli runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}
