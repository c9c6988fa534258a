//! What each bundled function's code calls, read from its source: the files its binary reaches
//! (`lambdas/<crate>/src/bin/<bin>.rs`, then every `crate::`/`rmdeploy_lambdas::` module it names,
//! and the submodules those declare), the AWS operations called in them, and the tables they are
//! called on. Test code (`#[cfg(test)]` and after) is left out.
//!
//! A call's table is the last name of its `.table_name(...)` (or `.request_items(...)`)
//! argument, resolved among the tables the binary reads from its environment
//! (`runtime::table("TABLE_X")`): `name: runtime::table("TABLE_X")` binds `name`; else a name
//! (without `_table`) is the table `TABLE_<NAME>`, or the one table whose name ends with it
//! (`jobs` is `TABLE_OTA_JOBS`); a one-table function binds every name to its table. A name that
//! resolves to none (a helper's `table` parameter) is a call on "one of the function's tables".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// An AWS action as IAM names it, and the table it is called on when it is a DynamoDB call:
/// `Some(env)` (`TABLE_X`), or `None` when the code does not say which.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub action: String,
    pub table: Option<String>,
    /// For `iot:Publish`, the topic suffix after `node/<id>/`.
    pub topic: Option<String>,
}

/// The DynamoDB operations and their IAM actions.
const DYNAMODB: &[(&str, &str)] = &[
    ("get_item", "dynamodb:GetItem"),
    ("batch_get_item", "dynamodb:BatchGetItem"),
    ("query", "dynamodb:Query"),
    ("scan", "dynamodb:Scan"),
    ("put_item", "dynamodb:PutItem"),
    ("update_item", "dynamodb:UpdateItem"),
    ("delete_item", "dynamodb:DeleteItem"),
    ("batch_write_item", "dynamodb:BatchWriteItem"),
    ("transact_write_items", "dynamodb:TransactWriteItems"),
    ("transact_get_items", "dynamodb:TransactGetItems"),
];

/// Calls whose IAM action is named by the code's own words: (text in the code, action).
/// Cognito's sign-up and login operations are unauthenticated and need no permission. The IoT
/// registry is read through `registry.rs`'s helpers, named where they are called
/// (`registry::describe_thing(`), so that a function reaching the module for one of them is not
/// taken to call the others.
const OTHERS: &[(&str, &str)] = &[
    ("sns.publish()", "sns:Publish"),
    ("sqs.send_message()", "sqs:SendMessage"),
    ("presign::get_url(", "s3:GetObject"),
    ("registry::describe_thing(", "iot:DescribeThing"),
    ("registry::certificate_of_thing(", "iot:ListThingPrincipals"),
    ("registry::certificate_of_thing(", "iot:DescribeCertificate"),
    ("sigv4::invoke_async(", "lambda:InvokeFunction"),
    (
        "iot::create_certificate_from_csr(",
        "iot:CreateCertificateFromCsr",
    ),
    ("iot::put_thing(", "iot:CreateThing"),
    ("iot::put_thing(", "iot:UpdateThing"),
    ("iot::attach_policy(", "iot:AttachPolicy"),
    ("iot::attach_thing_principal(", "iot:AttachThingPrincipal"),
    ("iot::detach_thing_principal(", "iot:DetachThingPrincipal"),
    ("iot::revoke_certificate(", "iot:UpdateCertificate"),
    ("iot::thing_principals(", "iot:ListThingPrincipals"),
    ("iot::credential_endpoint(", "iot:DescribeEndpoint"),
    (".admin_create_user()", "cognito-idp:AdminCreateUser"),
    (".admin_delete_user()", "cognito-idp:AdminDeleteUser"),
    (".admin_get_user()", "cognito-idp:AdminGetUser"),
    (".list_users()", "cognito-idp:ListUsers"),
];

pub fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The file of a module path under `src`: `a` → `a.rs` or `a/mod.rs`, `a::b` → `a/b.rs`.
fn module_file(src: &Path, path: &[&str]) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let parts = &path[..n];
        let flat = src.join(parts.join("/")).with_extension("rs");
        if flat.is_file() {
            return Some(flat);
        }
        let nested = src.join(parts.join("/")).join("mod.rs");
        if nested.is_file() {
            return Some(nested);
        }
    }
    None
}

/// The module paths a file names: `crate::a::b`, `rmdeploy_lambdas::{a, b::c}`, `super::x`
/// (from `dir`), and the `mod x;` it declares.
fn named_modules(text: &str, file: &Path, src: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for root in ["crate::", "rmdeploy_lambdas::", "super::"] {
        let mut rest = text;
        while let Some(i) = rest.find(root) {
            rest = &rest[i + root.len()..];
            let group = if let Some(inner) = rest.strip_prefix('{') {
                inner[..inner.find('}').unwrap_or(0)].to_string()
            } else {
                rest.chars()
                    .take_while(|c| ident(*c) || *c == ':')
                    .collect()
            };
            for item in group.split(',') {
                let path: Vec<&str> = item
                    .trim()
                    .split("::")
                    .filter(|s| !s.is_empty() && *s != "self" && *s != "{")
                    .collect();
                if path.is_empty() {
                    continue;
                }
                let base = if root == "super::" {
                    let dir = file.parent().unwrap();
                    let dir = if file.file_name().unwrap() == "mod.rs" {
                        dir.parent().unwrap()
                    } else {
                        dir
                    };
                    dir.strip_prefix(src)
                        .unwrap()
                        .iter()
                        .map(|s| s.to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                } else {
                    Vec::new()
                };
                let full: Vec<&str> = base
                    .iter()
                    .map(String::as_str)
                    .chain(path.iter().copied())
                    .collect();
                if let Some(f) = module_file(src, &full) {
                    found.push(f);
                }
            }
        }
    }
    // `mod x;` / `pub mod x;` declarations of a module file
    let dir = if file.file_name().unwrap() == "mod.rs" || file.ends_with("lib.rs") {
        file.parent().unwrap().to_path_buf()
    } else {
        file.with_extension("")
    };
    for line in text.lines() {
        let l = line.trim();
        if let Some(name) = l
            .strip_prefix("pub mod ")
            .or_else(|| l.strip_prefix("mod "))
            .and_then(|n| n.strip_suffix(';'))
        {
            for f in [
                dir.join(format!("{name}.rs")),
                dir.join(name).join("mod.rs"),
            ] {
                if f.is_file() {
                    found.push(f);
                }
            }
        }
    }
    found
}

/// The source files a binary reaches, the binary first.
pub fn reached(src: &Path, bin: &str) -> Vec<PathBuf> {
    let start = src.join("bin").join(format!("{bin}.rs"));
    assert!(start.is_file(), "no binary {}", start.display());
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut queue = vec![start];
    let mut order = Vec::new();
    while let Some(f) = queue.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let text = code_of(&f);
        // lib.rs declares every module: following it would reach the whole crate
        if !f.ends_with("lib.rs") {
            queue.extend(named_modules(&text, &f, src));
        }
        order.push(f);
    }
    order
}

/// The tables a binary reads from its environment, and the names it binds to them.
struct Bindings {
    names: BTreeMap<String, String>,
    tables: BTreeSet<String>,
}

fn bindings(bin_text: &str) -> Bindings {
    let mut names = BTreeMap::new();
    let mut tables = BTreeSet::new();
    let mut rest = bin_text;
    while let Some(i) = rest.find("\"TABLE_") {
        let env: String = rest[i + 1..].chars().take_while(|c| *c != '"').collect();
        tables.insert(env.clone());
        let before = rest[..i].trim_end();
        if let Some(head) = before.strip_suffix("runtime::table(") {
            let head = head.trim_end().trim_end_matches(':').trim_end();
            let name: String = head
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !name.is_empty() {
                names.insert(name.trim_end_matches("_table").to_string(), env.clone());
                names.insert(name, env.clone());
            }
        }
        rest = &rest[i + 1..];
    }
    Bindings { names, tables }
}

/// The table a variable name stands for, among the binary's (see the module's comment).
fn resolve(name: &str, b: &Bindings) -> Option<String> {
    if let Some(env) = b.names.get(name) {
        return Some(env.clone());
    }
    if b.tables.len() == 1 {
        return b.tables.first().cloned();
    }
    let tables = &b.tables;
    let upper = name.trim_end_matches("_table").to_ascii_uppercase();
    let exact = format!("TABLE_{upper}");
    if tables.contains(exact.as_str()) {
        return Some(exact);
    }
    let suffix = format!("_{upper}");
    let ends: Vec<&String> = tables.iter().filter(|t| t.ends_with(&suffix)).collect();
    (ends.len() == 1).then(|| ends[0].to_string())
}

/// The last name of the expression starting at `text` (up to its closing parenthesis or comma).
fn last_name(text: &str) -> String {
    let mut depth = 0;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                end = i;
                break;
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    text[..end]
        .trim()
        .rsplit(['.', '&', ' '])
        .next()
        .unwrap_or("")
        .to_string()
}

/// Every AWS call a function's code makes.
pub fn calls(src: &Path, bin: &str) -> BTreeSet<Call> {
    let files = reached(src, bin);
    let b = bindings(&code_of(&files[0]));
    let mut out = BTreeSet::new();
    for f in &files {
        let text = code_of(f);
        for (op, action) in DYNAMODB {
            let needle = format!(".{op}()");
            let mut from = 0;
            while let Some(i) = text[from..].find(&needle) {
                let at = from + i + needle.len();
                let chain_end = text[at..].find(".send()").map_or(text.len(), |e| at + e);
                let chain = &text[at..chain_end];
                let arg = ["table_name(", "request_items("]
                    .iter()
                    .find_map(|k| chain.find(k).map(|j| last_name(&chain[j + k.len()..])));
                let table = match arg {
                    Some(name) => resolve(&name, &b),
                    None => None,
                };
                out.insert(Call {
                    action: action.to_string(),
                    table,
                    topic: None,
                });
                from = at;
            }
        }
        for (needle, action) in OTHERS {
            if text.contains(needle) {
                out.insert(Call {
                    action: action.to_string(),
                    table: None,
                    topic: None,
                });
            }
        }
        let mut rest = text.as_str();
        // `publish::publish(` and `publish::publish_bytes(`
        while let Some(i) = rest.find("publish::publish") {
            rest = &rest[i + "publish::publish".len()..];
            let Some(open) = rest.find('(').filter(|o| {
                rest[..*o]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            }) else {
                continue;
            };
            rest = &rest[open + 1..];
            let args = &rest[..rest.find(')').unwrap_or(rest.len())];
            let topic = args.split('"').nth(1).unwrap_or_else(|| {
                panic!("{}: a publish without a literal topic suffix", f.display())
            });
            out.insert(Call {
                action: "iot:Publish".into(),
                table: None,
                topic: Some(topic.to_string()),
            });
        }
    }
    out
}

/// The environment variables a binary's code reads: (required, optional). Required: the literal
/// of `runtime::table("X")`, `runtime::required("X")` or `one_table_function!("X", ...)`;
/// optional: of `runtime::optional("X")` or `std::env::var("X")`. A read in the binary's own file
/// always counts; one in a library function counts when that function is called in a file the
/// binary reaches (so `runtime::iot_data` reads `IOT_DATA_ENDPOINT` only for its callers).
pub fn env_reads(src: &Path, bin: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let files = reached(src, bin);
    let mut texts: Vec<String> = files.iter().map(|f| code_of(f)).collect();
    // The body of an exported macro the binary calls (`one_table_function!`) is the binary's
    // own code: it is expanded there.
    let mut roots = vec![0];
    for file in std::fs::read_dir(src).expect("the crate's src").flatten() {
        let text = code_of(&file.path());
        for (i, _) in text.match_indices("macro_rules! ") {
            let name: String = text[i + 13..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if texts[0].contains(&format!("{name}!(")) {
                let body = &text[i..];
                let end = body.find("\n}\n").map_or(body.len(), |e| e + 3);
                let body = body[..end].replace("$crate::", "crate::");
                for module in named_modules(&body, &file.path(), src) {
                    if !files.contains(&module) {
                        texts.push(code_of(&module));
                    }
                }
                roots.push(texts.len());
                texts.push(body);
            }
        }
    }
    // Whether `name` runs: called from the binary's file, or from a function that runs.
    fn runs(name: &str, texts: &[String], roots: &[usize], seen: &mut BTreeSet<String>) -> bool {
        if !seen.insert(name.to_string()) {
            return false;
        }
        let call = format!("{name}(");
        texts.iter().enumerate().any(|(i, text)| {
            text.match_indices(&call).any(|(at, _)| {
                let before = &text[..at];
                let word_start = !before
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                if !word_start || before.ends_with("fn ") {
                    return false;
                }
                roots.contains(&i) || runs(&enclosing_fn(text, at), texts, roots, seen)
            })
        })
    }
    let called = |name: &str| runs(name, &texts, &roots, &mut BTreeSet::new());
    let (mut required, mut optional) = (BTreeSet::new(), BTreeSet::new());
    let patterns: [(&str, bool); 6] = [
        ("table(", true),
        ("required(", true),
        ("one_table_function!(", true),
        ("optional(", false),
        ("var(", false),
        ("var_os(", false),
    ];
    for (i, text) in texts.iter().enumerate() {
        for (pattern, is_required) in patterns {
            for (at, _) in text.match_indices(pattern) {
                // The literal may follow on the next line.
                let Some(rest) = text[at + pattern.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                let name = &rest[..rest.find('"').unwrap_or(0)];
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    continue;
                }
                // In a library file: only when the enclosing function runs.
                if !roots.contains(&i) && !called(&enclosing_fn(text, at)) {
                    continue;
                }
                if is_required {
                    required.insert(name.to_string());
                } else {
                    optional.insert(name.to_string());
                }
            }
        }
    }
    optional.retain(|v| !required.contains(v));
    (required, optional)
}

/// The name of the function whose body holds byte `at` of `text` (the last `fn` before it).
fn enclosing_fn(text: &str, at: usize) -> String {
    text[..at]
        .rmatch_indices("fn ")
        .next()
        .map(|(f, _)| {
            let after = &text[f + 3..];
            after[..after.find(['(', '<']).unwrap_or(0)]
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}
