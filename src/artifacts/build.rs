//! Building the bundled functions with cargo-lambda for the profile's architecture, then checking
//! and packaging each `bootstrap`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

pub use super::BuildError;
use super::{elf, package, ArtifactError};
use crate::catalog::FunctionSpec;
use crate::profile::Architecture;

/// Where the bundled functions' sources are: `--lambdas DIR`, else the `lambdas/` folder of the
/// rmdeploy source tree this binary was built from.
pub fn default_sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lambdas")
}

/// One function's artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub function: &'static str,
    /// The binary that runs it; functions running the same binary share one artifact.
    pub binary: &'static str,
    /// False while the function runs the placeholder for handlers not bundled yet.
    pub bundled: bool,
    pub parameter: String,
    pub key: String,
    pub sha256: String,
    pub zip_bytes: usize,
    pub glibc: Option<String>,
    /// The zip itself, shared by the functions that run the same binary.
    #[serde(skip)]
    pub zip: std::sync::Arc<Vec<u8>>,
}

/// Build, check and zip the functions that have bundled code. Cargo's output goes to stderr.
pub fn build(
    sources: &Path,
    target_dir: &Path,
    functions: &[&'static FunctionSpec],
    arch: Architecture,
) -> Result<Vec<Built>, BuildError> {
    if !sources.is_dir() {
        return Err(BuildError::NoSources(sources.display().to_string()));
    }
    super::dirs::private(target_dir, super::dirs::LAMBDA_TARGET)?;
    let path = super::tool::cargo_lambda_path()?;
    super::tool::ensure_rust_target(arch);
    let mut crates: Vec<&str> = functions.iter().map(|f| f.code.0).collect();
    crates.sort();
    crates.dedup();
    for dir in crates {
        let manifest = sources.join(dir).join("Cargo.toml");
        let mut cmd = Command::new("cargo");
        // Variables cargo sets for the process running rmdeploy (`cargo run`, `cargo test`)
        // describe that package, not the Lambda's; inherited, they make every build a rebuild.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let inherited = name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_")
                || matches!(
                    name.as_ref(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_RUSTC_CURRENT_DIR"
                        | "OUT_DIR"
                );
            if inherited {
                cmd.env_remove(name.as_ref());
            }
        }
        let status = cmd
            .arg("lambda")
            .arg("build")
            // The `lambda` profile of the workspace: size-tuned release settings.
            .arg("--profile")
            .arg("lambda")
            // The dependency versions of Cargo.lock, never newer ones resolved at build time.
            .arg("--locked")
            .arg(match arch {
                Architecture::Arm64 => "--arm64",
                Architecture::X86_64 => "--x86-64",
            })
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--lambda-dir")
            .arg(lambda_dir(target_dir, arch))
            .env("CARGO_TARGET_DIR", target_dir)
            .env("PATH", &path)
            // The build's own output is progress: stderr, never the stdout of results.
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .stderr(std::process::Stdio::inherit())
            .status()
            .map_err(|e| BuildError::Tool(e.to_string()))?;
        if !status.success() {
            return Err(BuildError::Failed {
                package: manifest.display().to_string(),
                code: status.code().unwrap_or(-1),
            });
        }
    }
    collect(target_dir, functions, arch)
}

/// The zip of a `bootstrap`, reused from `<bootstrap>.zip` when the executable is the one it was
/// made from (compressing is most of a no-op apply's time otherwise).
fn zip_cached(bootstrap: &Path, data: Vec<u8>) -> Result<package::Package, ArtifactError> {
    let source = package::sha256_hex(&data);
    let cached = bootstrap.with_extension("zip");
    let stamp = bootstrap.with_extension("zip.source");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == source) {
        if let Ok(bytes) = std::fs::read(&cached) {
            let sha256 = package::sha256_hex(&bytes);
            return Ok(package::Package { bytes, sha256 });
        }
    }
    let zip = package::lambda_zip(&bootstrap.display().to_string(), data)?;
    // A cache that cannot be written only costs time next run.
    if std::fs::write(&cached, &zip.bytes).is_ok() {
        let _ = std::fs::write(&stamp, &source);
    }
    Ok(zip)
}

/// Where the executables of one architecture go: `<target>/lambda/<arch>/<bin>/bootstrap`, so
/// builds for arm64 and x86_64 never overwrite each other.
/// What `rmdeploy build` made.
#[derive(Debug, Serialize)]
pub struct Report {
    pub architecture: &'static str,
    pub built: Vec<Built>,
    /// Functions of the stack with no bundled handler.
    pub not_bundled_yet: Vec<&'static str>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = crate::output::Style::of(f);
        writeln!(
            f,
            "{} for {}",
            s.bold("Lambda artifacts"),
            self.architecture
        )?;
        for b in &self.built {
            writeln!(
                f,
                "  {:<18} {:<8} {:>10} bytes  glibc {:<5} {}",
                b.function,
                b.binary,
                crate::output::thousands(b.zip_bytes),
                b.glibc.as_deref().unwrap_or("none"),
                b.key
            )?;
        }
        if !self.not_bundled_yet.is_empty() {
            writeln!(f,
                    "  {} {} (they run `pending`, which fails every invocation with a message naming the function)",
                    s.yellow("handler not bundled yet:"),
                    self.not_bundled_yet.join(", ")
                )?;
        }

        Ok(())
    }
}

/// The Lambda build folder: the flag, else `RMDEPLOY_LAMBDA_TARGET`, else the user's cache; never
/// the shared temporary folder.
pub fn target_dir(arg: Option<PathBuf>) -> Result<PathBuf, super::dirs::DirError> {
    super::dirs::folder(
        arg.or_else(|| crate::settings::Settings::get().lambda_target.clone()),
        super::dirs::LAMBDA_TARGET,
    )
}

pub fn lambda_dir(target_dir: &Path, arch: Architecture) -> PathBuf {
    target_dir.join("lambda").join(arch.as_str())
}

/// Check and zip what the last build left in `target_dir`, each binary once; a function whose
/// `bootstrap` is missing is an error.
pub fn collect(
    target_dir: &Path,
    functions: &[&'static FunctionSpec],
    arch: Architecture,
) -> Result<Vec<Built>, BuildError> {
    let mut zipped: std::collections::BTreeMap<&str, Built> = Default::default();
    let mut built = Vec::new();
    for f in functions {
        let bin = f.code.1;
        if !zipped.contains_key(bin) {
            let path = lambda_dir(target_dir, arch).join(bin).join("bootstrap");
            let shown = path.display().to_string();
            let data = std::fs::read(&path).map_err(|source| ArtifactError::Read {
                path: shown.clone(),
                source,
            })?;
            let facts = elf::check(&shown, &data, arch)?;
            let zip = zip_cached(&path, data)?;
            let first = Built {
                function: f.name,
                binary: bin,
                bundled: f.bundled(),
                parameter: String::new(),
                key: zip.key(bin),
                sha256: zip.sha256.clone(),
                zip_bytes: zip.bytes.len(),
                glibc: facts.glibc.map(|(a, b)| format!("{a}.{b}")),
                zip: std::sync::Arc::new(zip.bytes),
            };
            zipped.insert(bin, first);
        }
        built.push(Built {
            function: f.name,
            bundled: f.bundled(),
            parameter: format!("{}CodeKey", f.prefix),
            ..zipped[bin].clone()
        });
    }
    Ok(built)
}
