//! Settings that come from the environment, read once at first use into one value, so no module
//! reads a variable deep in its code and every setting is listed in one place.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Attempts per AWS call when `AWS_MAX_ATTEMPTS` does not say otherwise.
pub const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `AWS_MAX_ATTEMPTS`: attempts per AWS call, with the SDK's standard backoff (default 8).
    pub max_attempts: u32,
    /// `RMDEPLOY_READ_TIMEOUT_MS`: how long an answer may take to start (default 60 s).
    pub read_timeout: Duration,
    /// `RMDEPLOY_POLL_MS`: the longest wait between polls of CloudFormation (default 2 s).
    pub poll: Duration,
    /// `RMDEPLOY_LAMBDA_TARGET`: the Lambda build folder.
    pub lambda_target: Option<PathBuf>,
    /// `RMDEPLOY_TOOLS`: where rmdeploy installs cargo-lambda.
    pub tools: Option<PathBuf>,
    /// `XDG_CACHE_HOME`, else `HOME`: the base of rmdeploy's cache folder.
    pub cache_home: Option<OsString>,
    pub home: Option<OsString>,
}

impl Settings {
    /// The settings of this process, read from its environment the first time.
    pub fn get() -> &'static Settings {
        static SETTINGS: OnceLock<Settings> = OnceLock::new();
        SETTINGS.get_or_init(|| Settings::from(|k| std::env::var_os(k)))
    }

    /// The settings a lookup of variables gives (the environment, or a test's table).
    pub fn from(var: impl Fn(&str) -> Option<OsString>) -> Settings {
        let text = |k: &str| var(k).and_then(|v| v.into_string().ok());
        let number = |k: &str| text(k).and_then(|v| v.trim().parse::<u64>().ok());
        let path = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        Settings {
            max_attempts: number("AWS_MAX_ATTEMPTS")
                .filter(|n| *n >= 1)
                .map_or(MAX_ATTEMPTS, |n| n.min(u64::from(u32::MAX)) as u32),
            read_timeout: Duration::from_millis(
                number("RMDEPLOY_READ_TIMEOUT_MS")
                    .filter(|ms| *ms >= 1)
                    .unwrap_or(60_000),
            ),
            poll: Duration::from_millis(number("RMDEPLOY_POLL_MS").unwrap_or(2_000)),
            lambda_target: path("RMDEPLOY_LAMBDA_TARGET"),
            tools: path("RMDEPLOY_TOOLS"),
            cache_home: var("XDG_CACHE_HOME"),
            home: var("HOME"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Settings {
        let table: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Settings::from(|k| table.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = with(&[]);
        assert_eq!(s.max_attempts, MAX_ATTEMPTS);
        assert_eq!(s.read_timeout, Duration::from_secs(60));
        assert_eq!(s.poll, Duration::from_secs(2));
        assert!(s.lambda_target.is_none() && s.tools.is_none());
    }

    #[test]
    fn variables_override_and_bad_values_fall_back() {
        let s = with(&[
            ("AWS_MAX_ATTEMPTS", " 3 "),
            ("RMDEPLOY_READ_TIMEOUT_MS", "1500"),
            ("RMDEPLOY_POLL_MS", "50"),
            ("RMDEPLOY_TOOLS", "/opt/tools"),
        ]);
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.read_timeout, Duration::from_millis(1500));
        assert_eq!(s.poll, Duration::from_millis(50));
        assert_eq!(s.tools, Some(PathBuf::from("/opt/tools")));
        let bad = with(&[
            ("AWS_MAX_ATTEMPTS", "0"),
            ("RMDEPLOY_READ_TIMEOUT_MS", "soon"),
            ("RMDEPLOY_LAMBDA_TARGET", ""),
        ]);
        assert_eq!(bad.max_attempts, MAX_ATTEMPTS);
        assert_eq!(bad.read_timeout, Duration::from_secs(60));
        assert!(bad.lambda_target.is_none());
    }
}
