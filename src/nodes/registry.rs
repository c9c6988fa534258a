//! The nodes AWS IoT knows of: registering one the way the stack's `claim` function does (thing
//! named by the node id in the thing type `<stack>-esp-node`, attributes, the node policy
//! `<stack>-node` on its certificate, the certificate attached to the thing), reading them
//! back, revoking certificates; and what the stack's tables say of a node.

use std::collections::{BTreeMap, HashMap};

use crate::aws::iot::Iot;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::Serialize;

use super::error::NodesError;
use crate::aws::{AwsError, Clients};

/// The names a stack gives its node resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    pub thing_type: String,
    pub policy: String,
    pub nodes_table: String,
    pub user_nodes_table: String,
}

impl Names {
    pub fn of(stack: &str) -> Names {
        Names {
            thing_type: format!("{stack}-esp-node"),
            policy: format!("{stack}-node"),
            nodes_table: format!("{stack}-nodes"),
            user_nodes_table: format!("{stack}-user_nodes"),
        }
    }
}

/// The account's MQTT endpoints: `iot:Data-ATS` and `iot:CredentialProvider`.
pub async fn endpoints(clients: &Clients) -> Result<(String, String), AwsError> {
    let data = clients.iot.describe_endpoint("iot:Data-ATS").await?;
    let cred = clients
        .iot
        .describe_endpoint("iot:CredentialProvider")
        .await?;
    Ok((data, cred))
}

/// A thing: its name, type and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thing {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// The thing `name`, if it exists.
pub async fn thing(clients: &Clients, name: &str) -> Result<Option<Thing>, AwsError> {
    Ok(clients.iot.describe_thing(name).await?.map(|t| Thing {
        name: name.to_string(),
        thing_type: t.thing_type_name,
        attributes: t.attributes.into_iter().collect(),
    }))
}

/// A certificate AWS IoT issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issued {
    pub id: String,
    pub arn: String,
    #[serde(skip)]
    pub pem: String,
}

/// `CreateCertificateFromCsr`, active: AWS IoT's CA certifies the CSR's key.
pub async fn issue(clients: &Clients, csr: &str) -> Result<Issued, AwsError> {
    let out = clients.iot.create_certificate_from_csr(csr).await?;
    Ok(Issued {
        id: out.certificate_id,
        arn: out.certificate_arn,
        pem: out.certificate_pem,
    })
}

/// Register the node `thing` with certificate `cert_arn`: `CreateThing` in the stack's thing
/// type with `attributes`, `AttachPolicy` (the node policy to the certificate),
/// `AttachThingPrincipal`. Each is idempotent, so a re-run after a crash repeats them safely.
/// A thing of that name that exists with other attributes is refused by AWS
/// (`ResourceAlreadyExistsException`): accepted when its `batch` attribute is ours.
pub async fn register(
    clients: &Clients,
    names: &Names,
    thing: &str,
    attributes: &BTreeMap<String, String>,
    cert_arn: &str,
) -> Result<(), NodesError> {
    let created = clients
        .iot
        .create_thing(thing, &names.thing_type, attributes)
        .await;
    if let Err(e) = created {
        let ours = match e.is("ResourceAlreadyExistsException") {
            true => self::thing(clients, thing)
                .await?
                .is_some_and(|t| t.attributes.get("batch") == attributes.get("batch")),
            false => false,
        };
        if !ours {
            return Err(AwsError::from(e).into());
        }
    }
    attach(clients, names, thing, cert_arn).await
}

/// `AttachPolicy` (the node policy to certificate `cert_arn`) and `AttachThingPrincipal`.
pub async fn attach(
    clients: &Clients,
    names: &Names,
    thing: &str,
    cert_arn: &str,
) -> Result<(), NodesError> {
    clients
        .iot
        .attach_policy(&names.policy, cert_arn)
        .await
        .map_err(AwsError::from)?;
    clients
        .iot
        .attach_thing_principal(thing, cert_arn)
        .await
        .map_err(AwsError::from)?;
    Ok(())
}

/// A certificate as `ListCertificates` and `DescribeCertificate` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub id: String,
    pub arn: String,
    pub status: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// Certificates created at `since` (epoch seconds) or later, newest first: `ListCertificates`
/// in descending order, stopping at the first older one.
pub async fn certificates_since(
    clients: &Clients,
    since: i64,
) -> Result<Vec<Certificate>, AwsError> {
    let mut pages = clients.iot.list_certificates_newest_first();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let mut older = false;
        for c in Iot::certificates_of(&page?)? {
            let created_at = c.creation_date as i64;
            if created_at < since {
                older = true;
                continue;
            }
            found.push(Certificate {
                id: c.certificate_id,
                arn: c.certificate_arn,
                status: c.status,
                created_at,
            });
        }
        if older {
            break;
        }
    }
    Ok(found)
}

/// The PEM and status of certificate `id`.
pub async fn certificate(clients: &Clients, id: &str) -> Result<(Certificate, String), AwsError> {
    let d = clients.iot.describe_certificate(id).await?;
    let cert = Certificate {
        id: id.to_string(),
        arn: d.certificate_arn,
        status: d.status,
        created_at: d.creation_date as i64,
    };
    Ok((cert, d.certificate_pem))
}

/// The certificate id of a certificate ARN (`arn:...:cert/<id>`).
pub fn cert_id(arn: &str) -> &str {
    arn.rsplit_once("cert/").map_or(arn, |(_, id)| id)
}

/// The principals (certificate ARNs) attached to `thing`.
pub async fn principals(clients: &Clients, thing: &str) -> Result<Vec<String>, AwsError> {
    let mut pages = clients.iot.list_thing_principals(thing);
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page?;
        let principals = page.get("principals").and_then(|p| p.as_array());
        found.extend(
            principals
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_string)),
        );
    }
    Ok(found)
}

/// Detach certificate `arn` from `thing` and mark it `REVOKED`: it can no longer connect.
pub async fn revoke(clients: &Clients, thing: Option<&str>, arn: &str) -> Result<(), AwsError> {
    if let Some(thing) = thing {
        clients.iot.detach_thing_principal(thing, arn).await?;
    }
    clients
        .iot
        .update_certificate(cert_id(arn), "REVOKED")
        .await?;
    Ok(())
}

/// Every thing of the thing type.
pub async fn things(clients: &Clients, names: &Names) -> Result<Vec<Thing>, AwsError> {
    let mut pages = clients.iot.list_things(&names.thing_type);
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        found.extend(Iot::things_of(&page?)?.into_iter().map(|t| Thing {
            name: t.thing_name,
            thing_type: t.thing_type_name,
            attributes: t.attributes.into_iter().collect(),
        }));
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// What the nodes table knows of a node: the last connectivity event and reported firmware.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fw_version: Option<String>,
}

/// The status of `nodes` from the table `<stack>-nodes` (`BatchGetItem`, 100 a call); `None`
/// when the table does not exist (the stack is not deployed in this account and region).
pub async fn statuses(
    clients: &Clients,
    names: &Names,
    nodes: &[String],
) -> Result<Option<HashMap<String, NodeStatus>>, AwsError> {
    let mut found = HashMap::new();
    for chunk in nodes.chunks(100) {
        let mut pending: Option<KeysAndAttributes> = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|n| {
                            HashMap::from([("node_id".to_string(), AttributeValue::S(n.clone()))])
                        })
                        .collect(),
                ))
                .projection_expression("node_id, connected, fw_version")
                .build()
                .map_err(|e| AwsError::build("BatchGetItem", &e))?,
        );
        while let Some(keys) = pending.take() {
            let out = match clients
                .dynamodb
                .batch_get_item()
                .request_items(&names.nodes_table, keys)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(AwsError::call("BatchGetItem", &e)),
            };
            for item in out
                .responses()
                .and_then(|r| r.get(&names.nodes_table))
                .into_iter()
                .flatten()
            {
                let Some(id) = item.get("node_id").and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                found.insert(
                    id.clone(),
                    NodeStatus {
                        online: item
                            .get("connected")
                            .and_then(|v| v.as_bool().ok())
                            .copied(),
                        fw_version: item.get("fw_version").and_then(|v| v.as_s().ok()).cloned(),
                    },
                );
            }
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(&names.nodes_table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
        }
    }
    Ok(Some(found))
}

/// The users a node is mapped to (`<stack>-user_nodes`, index `by_node`); `None` when the
/// table does not exist.
pub async fn users(
    clients: &Clients,
    names: &Names,
    node: &str,
) -> Result<Option<Vec<String>>, AwsError> {
    let mut users = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let out = clients
            .dynamodb
            .query()
            .table_name(&names.user_nodes_table)
            .index_name("by_node")
            .key_condition_expression("node_id = :n")
            .expression_attribute_values(":n", AttributeValue::S(node.to_string()))
            .set_exclusive_start_key(start.take())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::call("Query", &e)),
        };
        users.extend(
            out.items()
                .iter()
                .filter_map(|i| i.get("user_id").and_then(|v| v.as_s().ok()).cloned()),
        );
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    Ok(Some(users))
}

/// Remove the mapping of `node` to `user`.
pub async fn unmap(
    clients: &Clients,
    names: &Names,
    user: &str,
    node: &str,
) -> Result<(), AwsError> {
    clients
        .dynamodb
        .delete_item()
        .table_name(&names.user_nodes_table)
        .key("user_id", AttributeValue::S(user.to_string()))
        .key("node_id", AttributeValue::S(node.to_string()))
        .send()
        .await
        .map_err(|e| AwsError::call("DeleteItem", &e))?;
    Ok(())
}
