//! The steps of `apply` that touch the account: the artifact uploads, the change set (or the
//! proof that none is needed), and its execution. Deciding (confirmation, recovery) is the
//! caller's.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;
use serde_json::Value;

use super::bootstrap::Bootstrap;
use super::changeset::{self, ChangeSet, Kind, Request};
use super::live::{self, Endpoint};
use super::{events, stacks, DeployError};

pub use super::changeset::{execute, execute_after};
use crate::artifacts::build::Built;
use crate::artifacts::store::{self, Stored};
use crate::aws::Clients;
use crate::render::Template;

/// Everything up to the decision to execute.
#[derive(Debug)]
pub struct Prepared {
    pub bootstrap: Bootstrap,
    /// One entry per distinct artifact; `uploaded` is false for those already in the bucket.
    pub artifacts: Vec<Stored>,
    /// The change set, still to be executed or discarded; no changes: already deleted. `None`:
    /// the stack's deployed template and parameters are the new ones ([`unchanged`]), so no
    /// change set was made.
    pub set: Option<ChangeSet>,
    /// For an update: the stack's newest event before the change set, read while it was made
    /// (`None`: not read; [`execute_after`] reads it).
    pub mark: Option<Option<String>>,
    /// For an update: the template the stack was deployed with (`Err`: why it could not be read).
    pub deployed: Result<Option<Value>, String>,
    pub parameters: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// Upload the artifacts the bucket lacks (several at once) and, meanwhile, make the change set of
/// `template` for `stack`: its parameters, its template upload, and (for an update) the deployed
/// template and the stack's newest event are read at the same time. An update whose deployed
/// template and parameters are the new ones makes no change set. The uploads end before this
/// returns: a change set is only ever executed with every artifact in the bucket, and one whose
/// uploads failed is deleted.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    clients: &Clients,
    stack: &str,
    kind: Kind,
    existing: Option<&Stack>,
    template: &Template,
    bootstrap: Bootstrap,
    built: &[Built],
    endpoint: &Endpoint,
) -> Result<Prepared, DeployError> {
    let bucket = bootstrap.bucket.as_str();
    let mut unique: BTreeMap<&str, &Built> = BTreeMap::new();
    for b in built {
        unique.entry(b.key.as_str()).or_insert(b);
    }
    let objects = unique
        .values()
        .map(|b| (b.key.clone(), b.zip.clone()))
        .collect();
    let uploads = store::put_all(clients, bucket, objects);
    let mut notes = Vec::new();
    let change = async {
        let parameters = live::parameters(
            clients,
            template,
            existing,
            Some(bucket),
            built,
            endpoint,
            &mut notes,
        );
        let source = live::template_source(clients, stack, template.to_json(), Some(bucket));
        let deployed = async {
            match kind {
                Kind::Create => Ok(None),
                Kind::Update => stacks::template(clients, stack)
                    .await
                    .map_err(|e| e.to_string()),
            }
        };
        let (parameters, source, deployed) = tokio::join!(parameters, source, deployed);
        let (parameters, source) = (parameters?, source?);
        if kind == Kind::Update
            && unchanged(
                existing,
                template,
                &parameters,
                deployed.as_ref().ok().and_then(Option::as_ref),
            )
        {
            return Ok((parameters, None, None, deployed));
        }
        let request = Request {
            stack: stack.to_string(),
            template: source.expect("a bucket is given, so the template always has a source"),
            parameters: parameters.clone(),
            kind,
            description: "rmdeploy apply".into(),
        };
        // An update's change set makes no stack event: the mark the execution is followed from
        // can be read meanwhile. A failed read is left to the execution to make again.
        let mark = async {
            match (kind, existing.and_then(|s| s.stack_id())) {
                (Kind::Update, Some(id)) => events::newest(clients, id).await.ok(),
                _ => None,
            }
        };
        let (set, mark) = tokio::join!(changeset::create(clients, &request), mark);
        Ok::<_, DeployError>((parameters, Some(set?), mark, deployed))
    };
    let (artifacts, change) = tokio::join!(uploads, change);
    let artifacts = match (artifacts, &change) {
        (Ok(artifacts), _) => artifacts,
        (Err(e), Ok((_, Some(set), _, _))) => {
            if !set.changes.is_empty() {
                // Never executed without its artifacts. Should this fail too, the next apply
                // removes the change set as a leftover; the upload's failure is the one to tell.
                let _ = changeset::discard(clients, set).await;
            }
            return Err(e.into());
        }
        (Err(e), _) => return Err(e.into()),
    };
    let (parameters, set, mark, deployed) = change?;
    Ok(Prepared {
        bootstrap,
        artifacts,
        set,
        mark,
        deployed,
        parameters: parameters.into_iter().collect(),
        notes,
    })
}

/// Stack statuses after which the deployed template is what the stack holds.
const SETTLED: &[&str] = &["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"];

/// Whether a change set of `template` with `parameters` would certainly be empty: the stack is
/// settled after a successful create or update, the template it was deployed with is `template`
/// and its parameters are `parameters`, and nothing in the template is worked out anew by each
/// change set (a transform or module, a nested stack, a dynamic reference, an SSM parameter) or
/// hidden from the comparison (a NoEcho parameter).
pub fn unchanged(
    existing: Option<&Stack>,
    template: &Template,
    parameters: &[(String, String)],
    deployed: Option<&Value>,
) -> bool {
    let (Some(stack), Some(deployed)) = (existing, deployed) else {
        return false;
    };
    if !SETTLED.contains(&stacks::status(stack)) || !resolved_alike(template) {
        return false;
    }
    let body = template.to_json();
    if serde_json::from_str::<Value>(&body).ok().as_ref() != Some(deployed) {
        return false;
    }
    let mut current = BTreeMap::new();
    for p in stack.parameters() {
        if p.resolved_value().is_some() {
            return false;
        }
        let (Some(k), Some(v)) = (p.parameter_key(), p.parameter_value()) else {
            return false;
        };
        current.insert(k, v);
    }
    let wanted: BTreeMap<&str, &str> = parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    current == wanted
}

/// Whether every change set of the template, with the same parameters, is the same: no
/// transform, module, nested stack, dynamic reference, SSM or NoEcho parameter.
fn resolved_alike(template: &Template) -> bool {
    let doc = &template.document;
    if doc.get("Transform").is_some() {
        return false;
    }
    let params = doc.get("Parameters").and_then(Value::as_object);
    let plain_params = params.into_iter().flatten().all(|(_, p)| {
        let kind = p.get("Type").and_then(Value::as_str).unwrap_or("String");
        !kind.starts_with("AWS::SSM::") && !p.get("NoEcho").is_some_and(is_true)
    });
    let resources = doc.get("Resources").and_then(Value::as_object);
    let plain_resources = resources.into_iter().flatten().all(|(_, r)| {
        let kind = r.get("Type").and_then(Value::as_str).unwrap_or_default();
        !matches!(
            kind,
            "AWS::CloudFormation::Stack" | "AWS::Serverless::Application"
        ) && !kind.ends_with("::MODULE")
    });
    plain_params && plain_resources && !mentions(doc, &["{{resolve:", "Fn::Transform"])
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// Whether a key or string anywhere in `value` contains one of `needles`.
fn mentions(value: &Value, needles: &[&str]) -> bool {
    let hit = |s: &str| needles.iter().any(|n| s.contains(n));
    match value {
        Value::String(s) => hit(s),
        Value::Array(items) => items.iter().any(|v| mentions(v, needles)),
        Value::Object(map) => map.iter().any(|(k, v)| hit(k) || mentions(v, needles)),
        _ => false,
    }
}

/// What `apply` did, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{Parameter, StackStatus};
    use serde_json::json;

    fn template(document: Value) -> Template {
        Template {
            file_name: "stack.yaml".into(),
            document,
        }
    }

    fn stack(status: &str, params: &[(&str, &str)]) -> Stack {
        let mut s = Stack::builder()
            .stack_name("rainmaker")
            .stack_status(StackStatus::from(status));
        for (k, v) in params {
            s = s.parameters(
                Parameter::builder()
                    .parameter_key(*k)
                    .parameter_value(*v)
                    .build(),
            );
        }
        s.build()
    }

    fn doc() -> Value {
        json!({
            "Parameters": {"Key": {"Type": "String"}},
            "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 1.5}}}
        })
    }

    #[test]
    fn same_template_and_parameters_on_a_settled_stack_need_no_change_set() {
        let t = template(doc());
        let params = vec![("Key".to_string(), "a".to_string())];
        let deployed: Value = serde_json::from_str(&t.to_json()).unwrap();
        let settled = stack("UPDATE_COMPLETE", &[("Key", "a")]);
        assert!(unchanged(Some(&settled), &t, &params, Some(&deployed)));
        // Another value, another parameter, another template, another state: a change set.
        let other = stack("UPDATE_COMPLETE", &[("Key", "b")]);
        assert!(!unchanged(Some(&other), &t, &params, Some(&deployed)));
        let more = stack("UPDATE_COMPLETE", &[("Key", "a"), ("Old", "x")]);
        assert!(!unchanged(Some(&more), &t, &params, Some(&deployed)));
        let mut changed = deployed.clone();
        changed["Resources"]["Q"]["Properties"]["DelaySeconds"] = json!(2);
        assert!(!unchanged(Some(&settled), &t, &params, Some(&changed)));
        for status in [
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            let s = stack(status, &[("Key", "a")]);
            assert!(
                !unchanged(Some(&s), &t, &params, Some(&deployed)),
                "{status}"
            );
        }
        assert!(!unchanged(Some(&settled), &t, &params, None));
        assert!(!unchanged(None, &t, &params, Some(&deployed)));
    }

    #[test]
    fn templates_resolved_anew_by_each_change_set_always_get_one() {
        let cases = [
            json!({"Transform": "AWS::Serverless-2016-10-31"}),
            json!({"Parameters": {"Key": {"Type": "AWS::SSM::Parameter::Value<String>"}}}),
            json!({"Parameters": {"Key": {"Type": "String", "NoEcho": true}}}),
            json!({"Resources": {"N": {"Type": "AWS::CloudFormation::Stack"}}}),
            json!({"Resources": {"M": {"Type": "My::Org::Thing::MODULE"}}}),
            json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "{{resolve:ssm:name}}"}}}}),
            json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Fn::Transform": {"Name": "M"}}}}}),
        ];
        for extra in cases {
            let mut d = doc();
            for (k, v) in extra.as_object().unwrap() {
                match (d.get_mut(k), v) {
                    (Some(Value::Object(have)), Value::Object(add)) => {
                        have.extend(add.clone());
                    }
                    _ => {
                        d[k] = v.clone();
                    }
                }
            }
            let t = template(d);
            let deployed: Value = serde_json::from_str(&t.to_json()).unwrap();
            let params = vec![("Key".to_string(), "a".to_string())];
            let settled = stack("UPDATE_COMPLETE", &[("Key", "a")]);
            assert!(
                !unchanged(Some(&settled), &t, &params, Some(&deployed)),
                "{}",
                t.to_json()
            );
        }
    }
}
