//! The shipped profiles, embedded in the binary so `rmdeploy plan` works from any folder.

use include_dir::{include_dir, Dir};

static PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// The profile used when none is named, for a global region.
pub const DEFAULT_GLOBAL: &str = "global";
/// The profile used when none is named and the region is in AWS China.
pub const DEFAULT_CHINA: &str = "china";

/// Names of the shipped profiles, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = PROFILES
        .files()
        .filter_map(|f| f.path().to_str()?.strip_suffix(".yaml"))
        .collect();
    names.sort_unstable();
    names
}

/// The text of a shipped profile.
pub fn get(name: &str) -> Option<&'static str> {
    PROFILES
        .get_file(format!("{name}.yaml"))
        .and_then(|f| f.contents_utf8())
}
