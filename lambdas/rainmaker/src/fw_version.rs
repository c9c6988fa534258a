//! Firmware versions as ESP-IDF builds and RainMaker firmware report them
//! (`esp_app_desc_t.version`, the config's `info.fw_version`, `otafetch`'s `fw_version`), read
//! as versions, not text: "1.2.10" is newer than "1.2.9".
//!
//! A version is, after surrounding white space is trimmed (a `version.txt` may end in a newline):
//!
//! ```text
//! [v|V] N[.N[.N[.N]]] [-PRE] [-COUNT-gHASH] [-dirty] [+BUILD]
//! ```
//!
//! - `N`: one to four whole numbers; missing ones are 0, so `v2.0` = `2.0` = `2.0.0`.
//! - `-PRE`: a pre-release (`1.3.0-rc1`, `5.1-beta.2`, `1.0.0-alpha`): dot-separated words of
//!   letters, digits and `-`, each read as runs of letters and of digits (`rc10` is `rc` then
//!   10, so `rc2` < `rc10`; `rc.1` = `rc1`). A pre-release comes before its release.
//! - `-COUNT-gHASH`: `git describe`'s commits since the tag (`1.0.0-3-gabcdef`): later than the
//!   tag, earlier than anything newer. The hash itself is not compared.
//! - `-dirty`: `git describe --dirty`, a build of a modified tree: just before the same version
//!   built clean (a clean build of the same version replaces it).
//! - `+BUILD`: build metadata, ignored (semver).
//!
//! The order is total on what is compared, in this sequence: the numbers; release after
//! pre-release; the pre-release runs (a number before a word, `dev` < `alpha` < `beta` < `rc` <
//! any other word, other words alphabetically without case; fewer runs first when the common ones
//! are equal); the commit count; clean after dirty. Two strings that compare equal (`v2.0`,
//! `2.0.0+b7`, `2.0.0-0-g1234abc` with another hash) are the same version.
//!
//! Anything else does not parse: empty, a bare hash (`git describe --always` without a tag),
//! words (`latest`), five numbers, a number of more than 18 digits, white space or characters
//! outside `[0-9A-Za-z.+-]` inside. A version that does not parse is never offered or replaced
//! by comparison: see [`verdict`].

use std::cmp::Ordering;

/// The longest version read: `esp_app_desc_t.version` holds 31 characters and a NUL.
pub const MAX_LEN: usize = 31;

/// A parsed version (see the module's comment for the order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    numbers: [u64; 4],
    /// 0 for a pre-release, 1 for a release: a release comes after its pre-releases.
    release: u8,
    pre: Vec<Run>,
    /// Commits since the tag (`git describe`), 0 without.
    commits: u64,
    /// 0 dirty, 1 clean.
    clean: u8,
}

/// A run of a pre-release: a number comes before a word.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Run {
    Number(u64),
    /// The word's rank (dev, alpha, beta, rc, other) and its lower-case text.
    Word(u8, String),
}

fn word(text: &str) -> Run {
    let lower = text.to_ascii_lowercase();
    let rank = match lower.as_str() {
        "dev" => 0,
        "alpha" => 1,
        "beta" => 2,
        "rc" => 3,
        _ => 4,
    };
    Run::Word(rank, lower)
}

fn number(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a whole number"));
    }
    if text.len() > 18 {
        return Err(format!("`{text}` has more than 18 digits"));
    }
    text.parse()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

/// The runs of letters and of digits of a pre-release.
fn runs(pre: &str) -> Result<Vec<Run>, String> {
    let mut out = Vec::new();
    for part in pre.split(['.', '-']) {
        if part.is_empty() {
            return Err(format!("the pre-release `{pre}` has an empty part"));
        }
        let mut start = 0;
        let bytes = part.as_bytes();
        for i in 1..=bytes.len() {
            let boundary =
                i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit();
            if boundary {
                let run = &part[start..i];
                if !run.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "the pre-release `{pre}` has a character other than letters, digits, `.` and `-`"
                    ));
                }
                out.push(if run.as_bytes()[0].is_ascii_digit() {
                    Run::Number(number(run)?)
                } else {
                    word(run)
                });
                start = i;
            }
        }
    }
    Ok(out)
}

/// `-COUNT-gHASH` at the end of `text`: the text before it and the count.
fn describe_suffix(text: &str) -> Option<(&str, u64)> {
    let (rest, hash) = text.rsplit_once('-')?;
    let hash = hash.strip_prefix('g')?;
    if !(4..=40).contains(&hash.len()) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (head, count) = rest.rsplit_once('-')?;
    let count = number(count).ok()?;
    Some((head, count))
}

impl Version {
    /// Read a version, or say why it is not one.
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("it is empty".into());
        }
        if t.len() > MAX_LEN {
            return Err(format!("it is longer than {MAX_LEN} characters"));
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
        {
            return Err("it has a character other than letters, digits, `.`, `-` and `+`".into());
        }
        let t = match t.split_once('+') {
            Some((head, build)) if !build.is_empty() && !build.contains('+') => head,
            Some(_) => return Err("its build metadata after `+` is empty or has a `+`".into()),
            None => t,
        };
        let (t, clean) = match t.strip_suffix("-dirty") {
            Some(head) => (head, 0),
            None => (t, 1),
        };
        let (t, commits) = describe_suffix(t).unwrap_or((t, 0));
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let (core, pre) = match t.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (t, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 4 {
            return Err("it has more than four numbers".into());
        }
        let mut numbers = [0; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = number(part).map_err(|e| format!("it does not start with numbers: {e}"))?;
        }
        let (release, pre) = match pre {
            None => (1, Vec::new()),
            Some(pre) => (0, runs(pre)?),
        };
        Ok(Version {
            numbers,
            release,
            pre,
            commits,
            clean,
        })
    }
}

/// Whether a job's firmware is offered to a node that runs `node` (`None`: it reported none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Offer it: newer, or another version the job allows (`allow_downgrade`).
    Offer,
    /// The node runs this version already.
    Same,
    /// Not offered, and why.
    NotOffered(String),
}

/// The offer rule: a job goes to a node whose version is older than the job's, compared as
/// versions. With `allow_downgrade`, it goes to every node that does not run the job's version
/// (a rollback, or a version that does not parse). Without it, a node whose version, or a job
/// whose version, does not parse is never offered anything: there is no telling which is newer.
pub fn verdict(job: &str, node: Option<&str>, allow_downgrade: bool) -> Verdict {
    let Some(node) = node else {
        return if allow_downgrade {
            Verdict::Offer
        } else {
            Verdict::NotOffered(
                "the node reports no firmware version; only a job that allows downgrades is offered to it".into(),
            )
        };
    };
    if node.trim() == job.trim() {
        return Verdict::Same;
    }
    let order = match (Version::parse(job), Version::parse(node)) {
        (Ok(j), Ok(n)) => Ok(j.cmp(&n)),
        (Err(why), _) => Err(format!(
            "the job's version `{job}` is not a version ({why}); only a job that allows downgrades is offered"
        )),
        (_, Err(why)) => Err(format!(
            "the node's version `{node}` is not a version ({why}); only a job that allows downgrades is offered to it"
        )),
    };
    match (order, allow_downgrade) {
        (Ok(Ordering::Equal), _) => Verdict::Same,
        (Ok(Ordering::Greater), _) | (_, true) => Verdict::Offer,
        (Ok(Ordering::Less), false) => Verdict::NotOffered(format!(
            "the node runs {node}, newer than the job's {job}, and the job does not allow downgrades"
        )),
        (Err(why), false) => Verdict::NotOffered(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Pairs in strictly increasing order.
    const OLDER_NEWER: &[(&str, &str)] = &[
        ("1.2.9", "1.2.10"),
        ("1.9.0", "1.10.0"),
        ("0.9", "1"),
        ("1.2", "1.2.1"),
        ("1.2.3", "1.2.3.1"),
        ("v2.0", "2.0.1"),
        ("1.3.0-rc1", "1.3.0"),
        ("1.3.0-rc2", "1.3.0-rc10"),
        ("1.3.0-dev", "1.3.0-alpha"),
        ("1.3.0-alpha", "1.3.0-alpha.1"),
        ("1.3.0-alpha.1", "1.3.0-beta"),
        ("1.3.0-beta9", "1.3.0-rc1"),
        ("1.3.0-rc1", "1.3.0-hotfix"),
        ("1.3.0-1", "1.3.0-rc"),
        ("1.2.99", "1.3.0-rc1"),
        ("1.0.0", "1.0.0-3-gabcdef"),
        ("1.0.0-3-gabcdef", "1.0.0-12-g0123456"),
        ("1.0.0-12-g0123456", "1.0.1-rc1"),
        ("v5.1-rc1", "v5.1-rc1-3-g1a2b3c4"),
        ("v5.1-rc1-3-g1a2b3c4", "v5.1"),
        ("v5.1.2-dirty", "v5.1.2"),
        ("v5.1.2", "v5.1.2-1-gdeadbee-dirty"),
        ("v5.1.2-1-gdeadbee-dirty", "v5.1.2-1-gdeadbee"),
        ("4294967295.0", "4294967296.0"),
    ];

    /// Pairs that are the same version.
    const SAME: &[(&str, &str)] = &[
        ("v2.0", "2.0"),
        ("2.0", "2.0.0"),
        ("V2", "2.0.0.0"),
        ("1.02", "1.2"),
        ("1.3.0-rc.1", "1.3.0-rc1"),
        ("1.3.0-RC1", "1.3.0-rc1"),
        ("1.0.0+build7", "1.0.0"),
        ("1.0.0-0-gabcdef1", "1.0.0"),
        ("1.0.0-3-gabcdef1", "1.0.0-3-g7654321"),
        (" 1.2.0\n", "1.2.0"),
    ];

    #[test]
    fn versions_are_ordered_as_versions_not_as_text() {
        for (older, newer) in OLDER_NEWER {
            assert!(v(older) < v(newer), "{older} < {newer}");
            assert!(v(newer) > v(older), "{newer} > {older}");
            assert_eq!(verdict(newer, Some(older), false), Verdict::Offer);
            assert!(
                matches!(verdict(older, Some(newer), false), Verdict::NotOffered(w) if w.contains("newer than the job's")),
                "{older} is not offered to a node on {newer}"
            );
            assert_eq!(verdict(older, Some(newer), true), Verdict::Offer);
        }
        for (a, b) in SAME {
            assert_eq!(v(a), v(b), "{a:?} = {b:?}");
            assert_eq!(verdict(a, Some(b), false), Verdict::Same);
            assert_eq!(verdict(a, Some(b), true), Verdict::Same);
        }
    }

    #[test]
    fn the_order_is_total_and_transitive_over_the_table() {
        let mut all: Vec<&str> = OLDER_NEWER
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .chain(SAME.iter().flat_map(|(a, b)| [*a, *b]))
            .collect();
        all.sort();
        all.dedup();
        for a in &all {
            for b in &all {
                let (x, y) = (v(a), v(b));
                // exactly one of <, =, >, and antisymmetric
                assert_eq!(x.cmp(&y), y.cmp(&x).reverse(), "{a} {b}");
                for c in &all {
                    if x <= y && y <= v(c) {
                        assert!(x <= v(c), "{a} <= {b} <= {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn what_is_not_a_version_is_never_offered_or_replaced_unless_allowed() {
        for bad in [
            "",
            "   ",
            "latest",
            "abcdef1",
            "g1a2b3c",
            "v",
            "1..2",
            "1.2.x",
            "1.2.3.4.5",
            "1.0-",
            "1.0-rc!",
            "1.0 beta",
            "1.0.0+",
            "1.0.0+a+b",
            "1234567890123456789.0",
            "1.0.0-rc..1",
            "0123456789012345678901234567890123",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} parsed");
            // a node on it: only a job that allows downgrades
            assert!(
                matches!(verdict("1.2.0", Some(bad), false), Verdict::NotOffered(w) if w.contains("is not a version")),
                "{bad:?}"
            );
            assert_eq!(verdict("1.2.0", Some(bad), true), Verdict::Offer);
            // a job of it: offered to nobody unless it allows downgrades
            if !bad.trim().is_empty() {
                assert!(
                    matches!(verdict(bad, Some("1.0.0"), false), Verdict::NotOffered(w) if w.contains("the job's version")),
                    "{bad:?}"
                );
                assert_eq!(verdict(bad, Some("1.0.0"), true), Verdict::Offer);
                // the very same text is the same version, parsed or not
                assert_eq!(verdict(bad, Some(bad), true), Verdict::Same);
            }
        }
        // a node that reports no version
        assert!(matches!(
            verdict("1.2.0", None, false),
            Verdict::NotOffered(_)
        ));
        assert_eq!(verdict("1.2.0", None, true), Verdict::Offer);
    }
}
