//! The bad-input corpus (tests/corpus/): malformed profiles, firmware manifests and firmware
//! images, each run through the real binary, offline, with the error it must produce recorded in
//! tests/corpus/expected.yaml. Every run must fail with exit status 1 and its message (the file,
//! the line:column for YAML, what to do), and nothing may panic.
//!
//! Cases marked `pending` in the index describe messages the product does not give yet; they run
//! only in `pending_product_fixes`, which fails while there is one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;

/// The fewest cases the corpus may hold, in all and of each kind.
const MIN_CASES: usize = 40;
const MIN_CASES_PER_KIND: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Profile,
    Manifest,
    Image,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Profile, Kind::Manifest, Kind::Image];

    fn folder(self) -> &'static str {
        match self {
            Kind::Profile => "profiles",
            Kind::Manifest => "manifests",
            Kind::Image => "images",
        }
    }
}

/// A command a profile case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum ProfileCommand {
    #[serde(rename = "plan")]
    Plan,
    #[serde(rename = "profile show")]
    ProfileShow,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Relative to tests/corpus/, where the binary runs.
    file: String,
    kind: Kind,
    mistake: String,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    stderr_not: Vec<String>,
    /// Images only: the manifest to check the image against.
    #[serde(default)]
    manifest: Option<String>,
    /// Profiles only: the commands to run (default: `plan` and `profile show`).
    #[serde(default)]
    commands: Option<Vec<ProfileCommand>>,
    /// Why the product's current message is not the expected one yet.
    #[serde(default)]
    pending: Option<String>,
}

impl Case {
    /// The command lines that must each refuse the file.
    fn commands(&self) -> Vec<Vec<String>> {
        let file = self.file.clone();
        let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
        match self.kind {
            Kind::Profile => self
                .commands
                .clone()
                .unwrap_or_else(|| vec![ProfileCommand::Plan, ProfileCommand::ProfileShow])
                .into_iter()
                .map(|c| match c {
                    ProfileCommand::Plan => args(&["plan", "--offline", "-p", &file]),
                    ProfileCommand::ProfileShow => args(&["profile", "show", "-p", &file]),
                })
                .collect(),
            Kind::Manifest => vec![args(&["firmware", "validate", "--manifest", &file])],
            Kind::Image => {
                let mut a = args(&["firmware", "validate"]);
                if let Some(m) = &self.manifest {
                    a.extend(args(&["--manifest", m]));
                }
                a.push(file);
                vec![a]
            }
        }
    }

    fn expand(&self, text: &str) -> String {
        text.replace("{file}", &self.file)
    }
}

fn corpus() -> PathBuf {
    crate::support::root().join("tests/corpus")
}

fn index() -> Index {
    let path = corpus().join("expected.yaml");
    let text = std::fs::read_to_string(&path).expect("tests/corpus/expected.yaml is readable");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run the binary from the corpus folder, so that paths and messages are relative to it. A run
/// that hangs is stopped (and then fails its case: it has no exit status).
fn run(args: &[String]) -> Output {
    crate::support::rmdeploy()
        .current_dir(corpus())
        .timeout(std::time::Duration::from_secs(60))
        .args(args)
        .output()
        .expect("rmdeploy runs")
}

/// Output for a failure message: control characters escaped (a corpus file may put a NUL in a
/// snippet), and cut when long.
fn shorten(text: &str) -> String {
    const MAX: usize = 3000;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect();
    if text.chars().count() > MAX {
        out.push_str(&format!("… ({} bytes in all)", text.len()));
    }
    out
}

/// What is wrong with one run of a case (empty: as expected).
fn problems_of_run(case: &Case, out: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    match out.status.code() {
        Some(code) if code == case.exit => {}
        code => problems.push(format!("exit status {code:?}, expected {}", case.exit)),
    }
    for never in ["panicked", "RUST_BACKTRACE"] {
        if stderr.contains(never) || stdout.contains(never) {
            problems.push(format!("the output mentions `{never}`: a panic"));
        }
    }
    for want in &case.stderr {
        let want = case.expand(want);
        if !stderr.contains(&want) {
            problems.push(format!("stderr lacks {want:?}"));
        }
    }
    for unwanted in &case.stderr_not {
        let unwanted = case.expand(unwanted);
        if stderr.contains(&unwanted) {
            problems.push(format!("stderr holds {unwanted:?}"));
        }
    }
    match case.kind {
        Kind::Profile | Kind::Manifest => {
            if !stdout.trim().is_empty() {
                problems.push("stdout is not empty".into());
            }
        }
        Kind::Image => {
            if !stdout.starts_with("FAILED ") {
                problems.push("stdout does not start with FAILED".into());
            }
            // The error on stderr names the image (and its defect), whatever stdout shows.
            let named = format!("{}: ", case.file);
            if !stderr.contains(&named) {
                problems.push(format!(
                    "stderr lacks {named:?}: the error does not name the image"
                ));
            }
            for want in &case.stdout {
                let want = case.expand(want);
                if !stdout.contains(&want) {
                    problems.push(format!("stdout lacks {want:?}"));
                }
            }
        }
    }
    problems
}

/// Run every command of a case; one report per failing command.
fn check(case: &Case) -> Vec<String> {
    case.commands()
        .into_iter()
        .filter_map(|args| {
            let out = run(&args);
            let problems = problems_of_run(case, &out);
            (!problems.is_empty()).then(|| {
                format!(
                    "{} ({}): `rmdeploy {}`\n  - {}\n  stdout:\n{}\n  stderr:\n{}",
                    case.file,
                    case.mistake,
                    args.join(" "),
                    problems.join("\n  - "),
                    shorten(&String::from_utf8_lossy(&out.stdout)),
                    shorten(&String::from_utf8_lossy(&out.stderr)),
                )
            })
        })
        .collect()
}

/// Check cases on a few threads (each run is a process; the corpus has dozens).
fn check_all(cases: &[&Case]) -> Vec<String> {
    let chunk = cases.len().div_ceil(4).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().flat_map(|c| check(c)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread panicked"))
            .collect()
    })
}

fn files_in(folder: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display())) {
        let entry = entry.unwrap();
        assert!(
            entry.file_type().unwrap().is_file(),
            "{}: the corpus folders hold files only",
            entry.path().display()
        );
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names
}

#[test]
fn the_index_lists_every_corpus_file() {
    let index = index();
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for case in &index.cases {
        if !listed.insert(case.file.clone()) {
            problems.push(format!("{} is listed twice", case.file));
        }
        let folder = Path::new(&case.file)
            .parent()
            .and_then(|p| p.to_str())
            .unwrap_or_default();
        if folder != case.kind.folder() {
            problems.push(format!(
                "{} is of kind {:?} but not in {}/",
                case.file,
                case.kind,
                case.kind.folder()
            ));
        }
        if !corpus().join(&case.file).is_file() {
            problems.push(format!("{} is listed but not in tests/corpus/", case.file));
        }
        if case.mistake.trim().is_empty() {
            problems.push(format!("{} does not say what the mistake is", case.file));
        }
        // The message must name the file: where the user sees it (stderr for YAML, the image's
        // verdict on stdout for images).
        let naming = match case.kind {
            Kind::Profile | Kind::Manifest => &case.stderr,
            Kind::Image => &case.stdout,
        };
        if !naming.iter().any(|s| s.contains("{file}")) {
            problems.push(format!(
                "{}: no expected message names the file (`{{file}}`)",
                case.file
            ));
        }
        if case.kind != Kind::Image && (case.manifest.is_some() || !case.stdout.is_empty()) {
            problems.push(format!(
                "{}: `manifest` and `stdout` are for images only",
                case.file
            ));
        }
        match &case.commands {
            Some(_) if case.kind != Kind::Profile => {
                problems.push(format!("{}: `commands` is for profiles only", case.file))
            }
            Some(c) if c.is_empty() => {
                problems.push(format!("{}: `commands` lists no command", case.file))
            }
            _ => {}
        }
        if let Some(m) = &case.manifest {
            if !corpus().join(m).is_file() {
                problems.push(format!("{}: manifest {m} is not in the corpus", case.file));
            }
        }
    }
    for kind in Kind::ALL {
        let in_folder = files_in(&corpus().join(kind.folder()));
        for name in &in_folder {
            let file = format!("{}/{name}", kind.folder());
            if !listed.contains(&file) {
                problems.push(format!(
                    "{file} is in the corpus but not in expected.yaml: add it with the error it must produce"
                ));
            }
        }
        let cases = index.cases.iter().filter(|c| c.kind == kind).count();
        if cases < MIN_CASES_PER_KIND {
            problems.push(format!(
                "only {cases} {kind:?} cases; the corpus keeps at least {MIN_CASES_PER_KIND} of each kind"
            ));
        }
    }
    if index.cases.len() < MIN_CASES {
        problems.push(format!(
            "only {} cases; the corpus keeps at least {MIN_CASES}",
            index.cases.len()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_bad_input_is_refused_with_its_message() {
    let index = index();
    let cases: Vec<&Case> = index.cases.iter().filter(|c| c.pending.is_none()).collect();
    let failures = check_all(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} corpus runs did not fail as tests/corpus/expected.yaml says:\n\n{}",
        failures.len(),
        cases.iter().map(|c| c.commands().len()).sum::<usize>(),
        failures.join("\n\n")
    );
}

/// Errors go to stderr and stdout stays for results, with `-o json` too.
#[test]
fn errors_go_to_stderr_with_json_output() {
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };

    let profile = "profiles/typo-top-level-key.yaml";
    let out = run(&args(&["-o", "json", "plan", "--offline", "-p", profile]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("{profile}:3:1: unknown field `regoin`")),
        "{stderr}"
    );

    let manifest = "manifests/version-mismatch.yaml";
    let out = run(&args(&[
        "-o",
        "json",
        "firmware",
        "validate",
        "--manifest",
        manifest,
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(&format!("{manifest}:6:14: ")), "{stderr}");
    assert!(
        stderr.contains("the image's version is `1.2.0`, the manifest says `1.3.0`"),
        "{stderr}"
    );

    // An image: the verdict is the JSON result on stdout, the failure is on stderr, naming the
    // image and its defect (stdout may go to a file or a program).
    let image = "images/flipped-hash.bin";
    let out = run(&args(&["-o", "json", "firmware", "validate", image]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 of 1 image(s) failed validation"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{image}: bad appended SHA-256 at offset 0x7b0")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let verdict = &json["images"][0];
    assert_eq!(verdict["file"], image, "{json:#}");
    assert_eq!(verdict["valid"], false, "{json:#}");
    assert!(
        verdict["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("bad appended SHA-256 at offset 0x7b0")),
        "{json:#}"
    );
}

/// Messages the product does not give yet: the `pending` cases of the index. There are none; a
/// case added with a `pending` note fails here until the product gives its message (then remove
/// the note, so that `every_bad_input_is_refused_with_its_message` keeps it).
#[test]
fn pending_product_fixes() {
    let index = index();
    let cases: Vec<&Case> = index.cases.iter().filter(|c| c.pending.is_some()).collect();
    let failures: Vec<String> = cases
        .iter()
        .map(|c| {
            let pending = c.expand(c.pending.as_deref().unwrap_or_default());
            let runs = check(c);
            if runs.is_empty() {
                format!(
                    "FIXED: {} gives its message now: remove its `pending` key ({pending})",
                    c.file
                )
            } else {
                format!("PENDING: {pending}\n{}", runs.join("\n"))
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} corpus cases are marked pending:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
