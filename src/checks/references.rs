//! Finds references without a target: `Ref`, `Fn::GetAtt`, `Fn::Sub` variables and `DependsOn`.

use std::collections::BTreeSet;

use serde_json::Value;

const PSEUDO: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// One line per dangling reference: where it is and what it names.
pub fn dangling(doc: &Value) -> Vec<String> {
    let keys = |section: &str| -> BTreeSet<String> {
        doc.get(section)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let resources = keys("Resources");
    let parameters = keys("Parameters");
    let mut out = Vec::new();
    let scope = Scope {
        resources: &resources,
        parameters: &parameters,
    };
    for section in ["Resources", "Outputs"] {
        if let Some(map) = doc.get(section).and_then(Value::as_object) {
            for (id, body) in map {
                let at = format!("{section}.{id}");
                if let Some(deps) = body.get("DependsOn") {
                    let names: Vec<&str> = match deps {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    for n in names {
                        if !resources.contains(n) {
                            out.push(format!("{at}: DependsOn `{n}`, which is not a resource"));
                        }
                    }
                }
                walk(body, &at, &scope, &mut out);
            }
        }
    }
    out
}

struct Scope<'a> {
    resources: &'a BTreeSet<String>,
    parameters: &'a BTreeSet<String>,
}

impl Scope<'_> {
    fn has(&self, name: &str) -> bool {
        self.resources.contains(name) || self.parameters.contains(name) || PSEUDO.contains(&name)
    }
}

fn walk(v: &Value, at: &str, scope: &Scope, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, arg) in map {
                match key.as_str() {
                    "Ref" => {
                        if let Some(name) = arg.as_str() {
                            if !scope.has(name) {
                                out.push(format!(
                                    "{at}: Ref `{name}` has no parameter or resource of that name"
                                ));
                            }
                        }
                    }
                    "Fn::GetAtt" => {
                        let target = match arg {
                            Value::Array(a) => {
                                a.first().and_then(Value::as_str).map(str::to_string)
                            }
                            Value::String(s) => s.split('.').next().map(str::to_string),
                            _ => None,
                        };
                        if let Some(t) = target {
                            if !scope.resources.contains(&t) {
                                out.push(format!(
                                    "{at}: Fn::GetAtt on `{t}`, which is not a resource"
                                ));
                            }
                        }
                    }
                    "Fn::Sub" => {
                        let (text, vars): (Option<&str>, BTreeSet<String>) = match arg {
                            Value::String(s) => (Some(s), BTreeSet::new()),
                            Value::Array(a) => (
                                a.first().and_then(Value::as_str),
                                a.get(1)
                                    .and_then(Value::as_object)
                                    .map(|m| m.keys().cloned().collect())
                                    .unwrap_or_default(),
                            ),
                            _ => (None, BTreeSet::new()),
                        };
                        if let Some(text) = text {
                            for var in sub_variables(text) {
                                let base = var.split('.').next().unwrap_or(&var);
                                let known = vars.contains(&var)
                                    || scope.has(&var)
                                    || (var.contains('.') && scope.resources.contains(base));
                                if !known {
                                    out.push(format!("{at}: Fn::Sub variable `${{{var}}}` has no parameter or resource of that name"));
                                }
                            }
                        }
                    }
                    _ => {}
                }
                walk(arg, &format!("{at}.{key}"), scope, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}[{i}]"), scope, out);
            }
        }
        _ => {}
    }
}

/// The `${Name}` variables of a Sub string, leaving out `${!Literal}` escapes.
pub fn sub_variables(text: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            vars.push(name.trim().to_string());
        }
        rest = &after[end + 1..];
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_variables_skip_escapes() {
        assert_eq!(
            sub_variables("arn:${AWS::Partition}:iot:${!iot:ClientId}/${Bucket.Arn}"),
            vec!["AWS::Partition", "Bucket.Arn"]
        );
    }

    #[test]
    fn every_kind_of_dangling_reference_is_found() {
        let doc = json!({
            "Parameters": {"P": {"Type": "String"}},
            "Resources": {
                "A": {"Type": "X", "DependsOn": ["B", "Gone"], "Properties": {
                    "x": {"Ref": "P"}, "y": {"Ref": "Missing"},
                    "z": {"Fn::GetAtt": ["Nope", "Arn"]},
                    "s": {"Fn::Sub": ["${Local}-${Absent}-${B.Arn}-${AWS::Region}", {"Local": "v"}]}}},
                "B": {"Type": "X"}
            },
            "Outputs": {"O": {"Value": {"Fn::GetAtt": "Ghost.Arn"}}}
        });
        let found = dangling(&doc);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found.iter().any(|f| f.contains("DependsOn `Gone`")));
        assert!(found.iter().any(|f| f.contains("Ref `Missing`")));
        assert!(found.iter().any(|f| f.contains("`Nope`")));
        assert!(found.iter().any(|f| f.contains("${Absent}")));
        assert!(found
            .iter()
            .any(|f| f.starts_with("Outputs.O") && f.contains("`Ghost`")));
    }
}
