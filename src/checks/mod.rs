//! rmdeploy's own template checks, run in-process on every render: the template parses, every
//! reference has a target, CloudFormation's limits hold, and no ARN names a partition literally.

mod references;

use serde::Serialize;
use serde_json::Value;

use crate::render::{Template, INLINE_TEMPLATE_LIMIT, S3_TEMPLATE_LIMIT};

/// CloudFormation's limit on resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// CloudFormation's limits on parameters and outputs per template.
pub const MAX_PARAMETERS: usize = 200;
pub const MAX_OUTPUTS: usize = 200;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    /// Stable id: `parse`, `references`, `resource-limit`, `partition`, `size`, `logical-ids`.
    pub id: &'static str,
    pub description: &'static str,
    pub passed: bool,
    /// What is wrong, one line each, naming the template and resource.
    pub findings: Vec<String>,
}

/// The checks of one template.
pub fn run(template: &Template) -> Vec<Check> {
    let doc = &template.document;
    let name = &template.file_name;
    let mut checks = Vec::new();

    let mut shape = Vec::new();
    if !doc.is_object() {
        shape.push(format!("{name}: the document is not a mapping"));
    } else if doc
        .get("Resources")
        .and_then(Value::as_object)
        .is_none_or(|r| r.is_empty())
    {
        shape.push(format!("{name}: there is no Resources section"));
    }
    checks.push(check(
        "parse",
        "the template parses and has resources",
        shape,
    ));

    checks.push(check(
        "references",
        "every Ref, Fn::GetAtt, Fn::Sub and DependsOn names a parameter, resource or pseudo parameter",
        references::dangling(doc).into_iter().map(|f| format!("{name}: {f}")).collect(),
    ));

    let count = |section: &str| {
        doc.get(section)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    let mut limits = Vec::new();
    for (section, max) in [
        ("Resources", MAX_RESOURCES),
        ("Parameters", MAX_PARAMETERS),
        ("Outputs", MAX_OUTPUTS),
    ] {
        if count(section) > max {
            limits.push(format!(
                "{name}: {} {section}, CloudFormation allows {max}",
                count(section)
            ));
        }
    }
    checks.push(check(
        "resource-limit",
        "at most 500 resources, 200 parameters and 200 outputs",
        limits,
    ));

    checks.push(check(
        "partition",
        "no ARN names its partition literally (use ${AWS::Partition})",
        partition_literals(doc)
            .into_iter()
            .map(|f| format!("{name}: {f}"))
            .collect(),
    ));

    let bytes = template.to_json().len();
    let mut size = Vec::new();
    if bytes > S3_TEMPLATE_LIMIT {
        size.push(format!("{name}: {bytes} bytes, over CloudFormation's {S3_TEMPLATE_LIMIT}-byte limit even through S3"));
    }
    checks.push(check(
        "size",
        "the template fits CloudFormation (51,200 bytes inline, 1,000,000 through S3)",
        size,
    ));

    let bad_ids: Vec<String> = doc
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|r| r.keys())
        .filter(|id| {
            id.is_empty() || id.len() > 255 || !id.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .map(|id| format!("{name}: logical id `{id}` must be 1 to 255 letters and digits"))
        .collect();
    checks.push(check(
        "logical-ids",
        "logical ids are letters and digits",
        bad_ids,
    ));
    checks
}

fn check(id: &'static str, description: &'static str, findings: Vec<String>) -> Check {
    Check {
        id,
        description,
        passed: findings.is_empty(),
        findings,
    }
}

/// Whether a template goes through S3 rather than inline.
pub fn needs_s3(bytes: usize) -> bool {
    bytes > INLINE_TEMPLATE_LIMIT
}

/// Strings holding `arn:aws:`, `arn:aws-cn:` or another partition spelled out.
fn partition_literals(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_strings(doc, &mut String::new(), &mut |path, s| {
        let mut rest = s;
        while let Some(i) = rest.find("arn:aws") {
            let after = &rest[i + "arn:aws".len()..];
            if after.starts_with(':') || after.starts_with('-') {
                found.push(format!(
                    "{path}: `{}` names a partition; write arn:${{AWS::Partition}}:",
                    s
                ));
                break;
            }
            rest = after;
        }
    });
    found
}

fn walk_strings(v: &Value, path: &mut String, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk_strings(item, path, f);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk_strings(item, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(doc: Value) -> Template {
        Template {
            file_name: "t.yaml".into(),
            document: doc,
        }
    }

    fn failed(doc: Value) -> Vec<(&'static str, Vec<String>)> {
        run(&template(doc))
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| (c.id, c.findings))
            .collect()
    }

    #[test]
    fn a_sound_template_passes_every_check() {
        let doc = json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"},
            "P": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Q"}],
              "PolicyDocument": {"Statement": [{"Resource": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Q.QueueName}"}}]}}}}});
        assert_eq!(failed(doc), vec![]);
    }

    #[test]
    fn literal_partitions_are_caught_in_both_partitions() {
        let doc = json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/X", "arn:aws-cn:iam::aws:policy/Y"]}}}});
        let f = failed(doc);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "partition");
        assert_eq!(f[0].1.len(), 2);
        assert!(
            f[0].1[0].contains("Resources.R.Properties.ManagedPolicyArns[0]"),
            "{:?}",
            f[0].1
        );
    }

    #[test]
    fn too_many_resources_fail_the_limit() {
        let resources: serde_json::Map<String, Value> = (0..501)
            .map(|i| (format!("Q{i}"), json!({"Type": "AWS::SQS::Queue"})))
            .collect();
        let f = failed(json!({ "Resources": resources }));
        assert_eq!(f[0].0, "resource-limit");
        assert!(f[0].1[0].contains("501 Resources"));
    }

    #[test]
    fn bad_logical_ids_and_empty_templates_fail() {
        assert_eq!(
            failed(json!({"Resources": {"my-queue": {"Type": "AWS::SQS::Queue"}}}))[0].0,
            "logical-ids"
        );
        assert_eq!(failed(json!({"Parameters": {}}))[0].0, "parse");
    }
}
