//! API Gateway deploys an API only when its Deployment resource is new. The Deployment's logical
//! id is therefore suffixed with a hash of everything that defines the API, so a changed route,
//! method or authorizer replaces it and redeploys, while an unchanged API leaves it alone.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const PLACEHOLDER: &str = "ApiDeployment";
const HASHED_TYPES: &[&str] = &[
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Authorizer",
];

/// Rename `ApiDeployment` to `ApiDeployment<hash>` and update every reference to it.
pub fn name_by_content(template: &mut Value) {
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return;
    };
    if !resources.contains_key(PLACEHOLDER) {
        return;
    }
    let mut hasher = Sha256::new();
    for (id, resource) in resources.iter() {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if HASHED_TYPES.contains(&kind) {
            hasher.update(id.as_bytes());
            hasher.update(resource.to_string().as_bytes());
        }
    }
    let digest = hasher.finalize();
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let new_id = format!("{PLACEHOLDER}{hash}");

    let renamed: Map<String, Value> = std::mem::take(resources)
        .into_iter()
        .map(|(id, v)| {
            if id == PLACEHOLDER {
                (new_id.clone(), v)
            } else {
                (id, v)
            }
        })
        .collect();
    *resources = renamed;
    rewrite_refs(template, &new_id);
}

fn rewrite_refs(value: &mut Value, new_id: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "Ref" && v.as_str() == Some(PLACEHOLDER) {
                    *v = Value::String(new_id.to_string());
                } else if key == "DependsOn" {
                    rename_in_depends(v, new_id);
                } else {
                    rewrite_refs(v, new_id);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, new_id)),
        _ => {}
    }
}

fn rename_in_depends(v: &mut Value, new_id: &str) {
    match v {
        Value::String(s) if s == PLACEHOLDER => *s = new_id.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|i| rename_in_depends(i, new_id)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(path: &str) -> Value {
        json!({"Resources": {
            "R": {"Type": "AWS::ApiGateway::Resource", "Properties": {"PathPart": path}},
            "ApiDeployment": {"Type": "AWS::ApiGateway::Deployment"},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"DeploymentId": {"Ref": "ApiDeployment"}}},
            "Other": {"Type": "AWS::SQS::Queue"}
        }})
    }

    fn deployment_id(t: &Value) -> String {
        t["Resources"]
            .as_object()
            .unwrap()
            .keys()
            .find(|k| k.starts_with(PLACEHOLDER))
            .unwrap()
            .clone()
    }

    #[test]
    fn the_id_follows_the_api_and_references_follow_the_id() {
        let (mut a, mut b, mut c) = (template("nodes"), template("nodes"), template("params"));
        name_by_content(&mut a);
        name_by_content(&mut b);
        name_by_content(&mut c);
        assert_eq!(deployment_id(&a), deployment_id(&b));
        assert_ne!(deployment_id(&a), deployment_id(&c));
        assert_eq!(deployment_id(&a).len(), PLACEHOLDER.len() + 10);
        assert_eq!(
            a["Resources"]["Stage"]["Properties"]["DeploymentId"]["Ref"],
            json!(deployment_id(&a))
        );
    }
}
