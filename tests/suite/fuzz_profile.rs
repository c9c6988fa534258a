//! A short fuzz run of profile loading (`rmdeploy::profile`): arbitrary text and bytes, and
//! structured mutations of the shipped profiles (lines deleted, duplicated, swapped and
//! re-indented, values replaced, keys inserted). Loading never panics, and a refused profile
//! names places inside the input: every problem's line and column are in the file, its span is
//! on character boundaries, and the report renders.
//!
//! 256 cases per property by default (a few seconds in debug); more with the usual proptest
//! variable, for example `PROPTEST_CASES=20000 cargo test --test fuzz_profile`. The image parser
//! has its own fuzz run in tests/suite/firmware_image.rs.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rmdeploy::profile::{self, ProfileError, ProfileProblem, Resolved, Source};

const NAME: &str = "fuzzed.yaml";

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // No proptest-regressions/ files in the repository: a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn shipped() -> Vec<String> {
    ["global", "china", "dev"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(crate::support::root().join(format!("profiles/{name}.yaml")))
                .expect("the shipped profiles are in profiles/")
        })
        .collect()
}

/// Parse and resolve a profile text the way `--profile FILE` does after reading it.
fn load(text: &str) -> Result<Resolved, ProfileError> {
    let source = Source {
        name: NAME.into(),
        text: text.to_string(),
        shipped: None,
    };
    profile::parse(&source).and_then(|p| profile::resolve(p, source.clone(), None))
}

/// The length in characters of each line of `text`, for one set of line breaks (`\r\n` is one).
fn line_lengths(text: &str, is_break: fn(char) -> bool) -> Vec<usize> {
    let mut lines = vec![0];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_break(c) {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            lines.push(0);
        } else {
            *lines.last_mut().unwrap() += 1;
        }
    }
    lines
}

/// YAML 1.2 breaks lines at `\n`, `\r\n` and `\r`; libyaml (YAML 1.1, behind serde_yaml) also at
/// NEL, LS and PS. Places are checked against both.
const LINE_BREAK_RULES: [fn(char) -> bool; 2] = [
    |c| matches!(c, '\n' | '\r'),
    |c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'),
];

/// Whether 1-based `line` and `column` are a place in `text`: a character, just after the last
/// one of a line, or the end of the input. libyaml puts the end of the input at column 1 of the
/// line after the last (`{` ends at 2:1, `a\n` at 2:1 as well), so that place counts as the end.
fn place_in(text: &str, line: usize, column: usize) -> bool {
    LINE_BREAK_RULES.into_iter().any(|rule| {
        let lines = line_lengths(text, rule);
        let end = line == lines.len() + 1 && column == 1;
        end || (line >= 1
            && column >= 1
            && lines.get(line - 1).is_some_and(|len| column <= len + 1))
    })
}

/// Whether byte `offset` (on a character boundary) is at `line` and `column`, or the end of the
/// input: the snippet under a message shows the place the message names.
fn offset_at(text: &str, offset: usize, line: usize, column: usize) -> bool {
    offset == text.len()
        || LINE_BREAK_RULES.into_iter().any(|rule| {
            let lines = line_lengths(&text[..offset], rule);
            (lines.len(), lines.last().map_or(1, |len| len + 1)) == (line, column)
        })
}

fn check_problem(text: &str, p: &ProfileProblem) -> Result<(), TestCaseError> {
    let shown = p.to_string();
    prop_assert_eq!(&p.file, NAME);
    prop_assert!(
        shown.starts_with(&format!("{NAME}:{}:{}: ", p.line, p.column)),
        "{}",
        shown
    );
    prop_assert!(
        place_in(text, p.line, p.column),
        "{}: line {} column {} is not in the {}-byte input",
        shown,
        p.line,
        p.column,
        text.len()
    );
    prop_assert!(!p.message.trim().is_empty(), "an empty message");
    prop_assert!(
        p.help.as_deref().is_some_and(|h| !h.trim().is_empty()),
        "{}: no help says what to do",
        shown
    );
    let (start, len) = (p.span.offset(), p.span.len());
    prop_assert!(
        start + len <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(start + len),
        "{}: span {}+{} is not a character range of the {}-byte input",
        shown,
        start,
        len,
        text.len()
    );
    prop_assert!(
        offset_at(text, start, p.line, p.column),
        "{}: the snippet's span starts at byte {}, elsewhere than {}:{}",
        shown,
        start,
        p.line,
        p.column
    );
    Ok(())
}

/// A refused profile is `Invalid`, with located problems and a report that renders.
fn check_refusal(text: &str, err: &ProfileError) -> Result<(), TestCaseError> {
    let ProfileError::Invalid { file, problems } = err else {
        return Err(TestCaseError::fail(format!(
            "parsing and resolving text refused it without a place: {err:?}"
        )));
    };
    prop_assert_eq!(file, NAME);
    prop_assert!(!problems.is_empty(), "an invalid profile without problems");
    let summary = err.to_string();
    prop_assert!(
        summary.starts_with(&format!("{NAME} is not a valid profile: ")),
        "{}",
        summary
    );
    for p in problems {
        check_problem(text, p)?;
    }
    // What the terminal shows: the snippet of every problem, cut out of the input by its span.
    let mut rendered = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut rendered, err)
        .map_err(|e| TestCaseError::fail(format!("the report does not render: {e}")))?;
    prop_assert!(rendered.contains(NAME), "{}", rendered);
    Ok(())
}

/// Either a resolved profile or a located refusal; never a panic.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    match load(text) {
        Ok(resolved) => {
            // What `profile show` prints must serialize.
            serde_yaml::to_string(&resolved.profile).map_err(|e| {
                TestCaseError::fail(format!("a loaded profile does not serialize: {e}"))
            })?;
            Ok(())
        }
        Err(err) => check_refusal(text, &err),
    }
}

/// Text made of YAML's syntax characters, to reach deeper into the parser than random Unicode.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z_]{1,12}",
        2 => Just(": ".to_string()),
        2 => Just("\n".to_string()),
        2 => Just("  ".to_string()),
        1 => Just("- ".to_string()),
        1 => prop::sample::select(vec![
            "\t", "\r", "\r\n", "#", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "!tag ", "|",
            ">", "'", "\"", "%YAML 1.2\n", "---\n", "...\n", "? ", "<<: ", "~", "\u{feff}",
            "\u{85}", "\u{2028}", "é", "漢", "🙂", "\0", "\\", "0x1F", "-1", "1e400", ".nan",
            "99999999999999999999999", "stack_name: demo\n", "region: us-east-1\n",
            "region: cn-north-1\n", "lambda:\n  ", "identity:\n  ", "firmware:\n  images:\n    - ",
        ])
        .prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// A scalar a user might write where another was expected.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "~",
            "null",
            "true",
            "yes",
            "no",
            "0",
            "-1",
            "1.5",
            ".nan",
            ".inf",
            "-.inf",
            "1e400",
            "99999999999999999999999",
            "0x10",
            "0o17",
            "\"\"",
            "''",
            "\"unterminated",
            "'unterminated",
            "[]",
            "{}",
            "[a, b]",
            "{a: 1}",
            "&anchor x",
            "*anchor",
            "!!binary aGk=",
            "|",
            ">",
            "- item",
            "a: b",
            "# comment",
            "\t",
            "cn-north-1",
            "us-east-1",
            "us-gov-west-1",
            "oauth2",
            "cognito",
            "on_demand",
            "auto_scaling",
            "arm64",
            "x86_64",
            "https://x",
            "http://x",
            "é",
            "🙂",
            "\u{feff}",
        ])
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "[ -~]{0,20}",
        any::<String>(),
    ]
}

/// A key a user might insert: one the format knows (in the wrong place, perhaps), or not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "stack_name",
            "region",
            "variant",
            "lambda",
            "memory_mb",
            "concurrency_target",
            "reserved_concurrency",
            "api",
            "dynamodb",
            "tables",
            "default",
            "mode",
            "read_units",
            "features",
            "webhooks",
            "identity",
            "provider",
            "oauth2",
            "issuer",
            "audience",
            "capacity",
            "peak_factor",
            "firmware",
            "images",
            "name",
            "max_per_minute",
            "<<",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,16}",
        "[^:\n]{1,8}",
    ]
}

/// One edit of a profile's lines.
#[derive(Debug, Clone)]
enum Edit {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    /// Replace what follows the line's first `: ` (or the whole line) with a scalar.
    Replace(prop::sample::Index, String),
    /// Insert `key: value` at an indentation of 0 to 8 spaces.
    Insert(prop::sample::Index, usize, String, String),
    /// Add or remove leading spaces.
    Reindent(prop::sample::Index, i8),
    /// Cut the text at a character.
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<prop::sample::Index>;
    prop_oneof![
        2 => at().prop_map(Edit::Delete),
        2 => at().prop_map(Edit::Duplicate),
        2 => (at(), at()).prop_map(|(a, b)| Edit::Swap(a, b)),
        4 => (at(), scalar()).prop_map(|(a, s)| Edit::Replace(a, s)),
        3 => (at(), 0usize..=8, key(), scalar()).prop_map(|(a, i, k, v)| Edit::Insert(a, i, k, v)),
        2 => (at(), -4i8..=4).prop_map(|(a, d)| Edit::Reindent(a, d)),
        1 => at().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match e {
            Edit::Delete(i) => {
                lines.remove(i.index(n));
            }
            Edit::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            Edit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            Edit::Replace(i, value) => {
                let line = &mut lines[i.index(n)];
                *line = match line.find(": ") {
                    Some(at) => format!("{}: {value}", &line[..at]),
                    None => value.clone(),
                };
            }
            Edit::Insert(i, indent, key, value) => {
                lines.insert(
                    i.index(n + 1),
                    format!("{}{key}: {value}", " ".repeat(*indent)),
                );
            }
            Edit::Reindent(i, delta) => {
                let line = &mut lines[i.index(n)];
                let d = usize::from(delta.unsigned_abs());
                if *delta >= 0 {
                    line.insert_str(0, &" ".repeat(d));
                } else {
                    let strip = line.len() - line.trim_start_matches(' ').len();
                    line.drain(..d.min(strip));
                }
            }
            Edit::Truncate(i) => {
                let joined = lines.join("\n");
                let cut = joined
                    .char_indices()
                    .nth(i.index(joined.chars().count() + 1))
                    .map_or(joined.len(), |(at, _)| at);
                lines = joined[..cut].lines().map(str::to_string).collect();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn shipped_profiles_load() {
    for text in shipped() {
        load(&text).expect("a shipped profile loads");
        assert_eq!(apply(&text, &[]), text, "no edit leaves a profile as it is");
    }
}

#[test]
fn refusals_are_checked() {
    // The checks above catch what they must: a place past the end is not in the input.
    assert!(place_in("a: b\n", 1, 5));
    assert!(place_in("a: b\n", 2, 1));
    assert!(
        place_in("a: b", 2, 1),
        "the end of a text without a final line break"
    );
    assert!(place_in("a: b\n", 3, 1), "the end, as libyaml puts it");
    assert!(!place_in("a: b\n", 3, 2));
    assert!(!place_in("a: b\n", 4, 1));
    assert!(!place_in("a: b\n", 1, 6));
    assert!(place_in("a\r\nb", 2, 2));
    assert!(place_in("a\u{2028}b", 2, 1));
    assert!(offset_at("a: é\nb: c\n", 7, 2, 2));
    assert!(
        offset_at("a: é\nb: c\n", 5, 1, 5),
        "columns count characters"
    );
    assert!(!offset_at("a: é\nb: c\n", 7, 1, 2));
    let text = "stack_name: demo\nregion: us-east-1\nlambda:\n  memory_mb: 64\n";
    let err = load(text).unwrap_err();
    assert_eq!(err.problems()[0].line, 4);
    check_refusal(text, &err).unwrap();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_and_is_located(text in any::<String>()) {
        check_text(&text)?;
    }

    #[test]
    fn yaml_like_text_never_panics_and_is_located(text in yamlish()) {
        check_text(&text)?;
    }

    #[test]
    fn junk_inside_a_shipped_profile_is_located(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        junk in prop_oneof![yamlish(), any::<String>()],
    ) {
        let profiles = shipped();
        let text = &profiles[which.index(profiles.len())];
        let cut = text
            .char_indices()
            .nth(at.index(text.chars().count() + 1))
            .map_or(text.len(), |(i, _)| i);
        let fuzzed = format!("{}{junk}{}", &text[..cut], &text[cut..]);
        check_text(&fuzzed)?;
    }

    #[test]
    fn edited_shipped_profiles_load_or_are_located(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let profiles = shipped();
        let fuzzed = apply(&profiles[which.index(profiles.len())], &edits);
        check_text(&fuzzed)?;
    }

    /// Bytes in a file, read the way `--profile ./FILE.yaml` reads them: text that is not UTF-8
    /// is refused when read, and the rest is loaded or refused at a place.
    #[test]
    fn arbitrary_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzzed.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let path = path.to_str().unwrap().to_string();
        match profile::load(Some(&path), None) {
            Ok(_) => {}
            Err(ProfileError::Read { path: read, .. }) => {
                prop_assert_eq!(read, path);
                prop_assert!(std::str::from_utf8(&bytes).is_err(), "readable UTF-8 was refused as unreadable");
            }
            // Not UTF-8, or UTF-16 that happens to be UTF-8 too (NUL in every other byte).
            Err(ProfileError::NotText { path: read, reason, help }) => {
                prop_assert_eq!(read, path);
                prop_assert!(
                    std::str::from_utf8(&bytes).is_err() || bytes.contains(&0),
                    "readable UTF-8 was refused as not text: {}", reason
                );
                prop_assert!(help.contains("UTF-8"), "{}", help);
            }
            Err(err @ ProfileError::Invalid { .. }) => {
                let text = std::str::from_utf8(&bytes).expect("an invalid profile was read as UTF-8");
                // A leading byte order mark is not part of the text.
                let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                // The problems name the path the user gave.
                for p in err.problems() {
                    prop_assert_eq!(&p.file, &path);
                    prop_assert!(place_in(text, p.line, p.column), "{} not in the input", p);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other:?}"),
        }
    }
}
