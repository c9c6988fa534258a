//! The folders rmdeploy keeps tools and build output in. They hold executables rmdeploy runs and
//! the code it deploys, so nobody else may write to them: rmdeploy makes them `0700`, refuses one
//! that others can write to, and never falls back to the shared temporary folder.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum DirError {
    #[error("there is no cache folder for {what}: neither XDG_CACHE_HOME nor HOME is set")]
    #[diagnostic(
        code(rmdeploy::dirs::no_cache),
        help("set HOME or XDG_CACHE_HOME, or name the folder with {flag}; rmdeploy does not use the shared temporary folder, which others can write to")
    )]
    NoCache {
        what: &'static str,
        flag: &'static str,
    },
    #[error("{path} can be written by other users (mode {mode:o}); rmdeploy keeps {what} there")]
    #[diagnostic(
        code(rmdeploy::dirs::shared),
        help("make it yours alone (`chmod 700 {path}`), or choose another folder with {flag}")
    )]
    Shared {
        path: String,
        mode: u32,
        what: &'static str,
        flag: &'static str,
    },
    #[error("cannot create {path}: {source}")]
    #[diagnostic(
        code(rmdeploy::dirs::create),
        help("check the permissions of its parent, or choose another folder with {flag}")
    )]
    Create {
        path: String,
        flag: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What a folder is for, for messages: (what it holds, the flag or variable that names it).
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    pub what: &'static str,
    pub flag: &'static str,
    /// Its name under `<cache>/rmdeploy/`.
    pub name: &'static str,
}

pub const TOOLS: Purpose = Purpose {
    what: "the cargo-lambda it installs",
    flag: "RMDEPLOY_TOOLS",
    name: "tools",
};

pub const LAMBDA_TARGET: Purpose = Purpose {
    what: "the Lambda builds",
    flag: "--target-dir (RMDEPLOY_LAMBDA_TARGET)",
    name: "lambda-target",
};

/// `<cache>/rmdeploy/<name>`, the cache being `XDG_CACHE_HOME` or `~/.cache`, given the values
/// of those variables.
pub fn in_cache(
    xdg_cache_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    purpose: Purpose,
) -> Result<PathBuf, DirError> {
    let cache = xdg_cache_home
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            home.filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .ok_or(DirError::NoCache {
            what: purpose.what,
            flag: purpose.flag,
        })?;
    Ok(cache.join("rmdeploy").join(purpose.name))
}

/// The folder of `purpose`: `chosen` (a flag or variable), else in the user's cache.
pub fn folder(chosen: Option<PathBuf>, purpose: Purpose) -> Result<PathBuf, DirError> {
    match chosen.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => Ok(p),
        None => {
            let settings = crate::settings::Settings::get();
            in_cache(settings.cache_home.clone(), settings.home.clone(), purpose)
        }
    }
}

/// Make `path` (and missing parents) readable and writable by the user alone, or check that an
/// existing one is not writable by others.
pub fn private(path: &Path, purpose: Purpose) -> Result<(), DirError> {
    if !path.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path).map_err(|source| DirError::Create {
            path: path.display().to_string(),
            flag: purpose.flag,
            source,
        })?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| DirError::Create {
                path: path.display().to_string(),
                flag: purpose.flag,
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o002 != 0 {
            return Err(DirError::Shared {
                path: path.display().to_string(),
                mode: mode & 0o7777,
                what: purpose.what,
                flag: purpose.flag,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn without_home_there_is_no_folder_not_the_temp_folder() {
        let err = in_cache(None, None, TOOLS).unwrap_err();
        assert!(matches!(err, DirError::NoCache { .. }), "{err}");
        assert_eq!(
            in_cache(None, Some("/home/a".into()), TOOLS).unwrap(),
            Path::new("/home/a/.cache/rmdeploy/tools")
        );
        assert_eq!(
            in_cache(Some("/x".into()), Some("/home/a".into()), LAMBDA_TARGET).unwrap(),
            Path::new("/x/rmdeploy/lambda-target")
        );
    }

    #[test]
    fn new_folders_are_the_users_alone_and_shared_ones_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let made = base.path().join("a/b");
        private(&made, TOOLS).unwrap();
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let shared = base.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = private(&shared, LAMBDA_TARGET).unwrap_err();
        assert!(err.to_string().contains("other users"), "{err}");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o757)).unwrap();
        assert!(
            private(&shared, LAMBDA_TARGET).is_err(),
            "writable by others"
        );
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        private(&shared, LAMBDA_TARGET).unwrap();
    }
}
