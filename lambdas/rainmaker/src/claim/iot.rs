//! The AWS IoT registry calls that give a claimed node its identity, SigV4-signed over ureq (see
//! [`crate::sigv4`]): the functions do not link the IoT control-plane SDK. Each is named where it
//! is called (`iot::create_certificate_from_csr(`), which is how the role is checked to allow
//! exactly these actions (tests/suite/support/code_calls.rs).

use lambda_runtime::Error;
use serde_json::{json, Value};

use crate::presign::percent_encode;
use crate::sigv4::send;

/// A certificate AWS IoT issued for a node's CSR: the key stays with the node.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub arn: String,
    pub id: String,
    pub pem: String,
}

fn answer(reply: Option<(u16, String)>, what: &str) -> Result<Value, Error> {
    match reply {
        Some((_, body)) if body.trim().is_empty() => Ok(Value::Null),
        Some((_, body)) => Ok(serde_json::from_str(&body)?),
        None => Err(format!("{what}: not found").into()),
    }
}

/// `CreateCertificateFromCsr`, active at once.
pub async fn create_certificate_from_csr(
    config: &aws_config::SdkConfig,
    csr: &str,
) -> Result<Issued, Error> {
    let body = json!({ "certificateSigningRequest": csr }).to_string();
    let reply = send(
        config,
        "iot",
        "POST",
        "/certificates?setAsActive=true",
        &[],
        body.into_bytes(),
    )
    .await?;
    let out = answer(reply, "CreateCertificateFromCsr")?;
    let field = |k: &str| {
        out[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("CreateCertificateFromCsr answered without `{k}`"))
    };
    Ok(Issued {
        arn: field("certificateArn")?,
        id: field("certificateId")?,
        pem: field("certificatePem")?,
    })
}

/// `CreateThing` in the stack's thing type with `attributes`; `UpdateThing` (attributes merged)
/// when the thing exists already.
pub async fn put_thing(
    config: &aws_config::SdkConfig,
    thing: &str,
    thing_type: &str,
    attributes: &serde_json::Map<String, Value>,
    exists: bool,
) -> Result<(), Error> {
    let path = format!("/things/{}", percent_encode(thing));
    if exists {
        let body = json!({"thingTypeName": thing_type,
            "attributePayload": {"attributes": attributes, "merge": true}});
        send(
            config,
            "iot",
            "PATCH",
            &path,
            &[],
            body.to_string().into_bytes(),
        )
        .await?;
    } else {
        let body = json!({"thingTypeName": thing_type,
            "attributePayload": {"attributes": attributes}});
        send(
            config,
            "iot",
            "POST",
            &path,
            &[],
            body.to_string().into_bytes(),
        )
        .await?;
    }
    Ok(())
}

/// `AttachPolicy`: the node policy to a certificate.
pub async fn attach_policy(
    config: &aws_config::SdkConfig,
    policy: &str,
    certificate_arn: &str,
) -> Result<(), Error> {
    let path = format!("/target-policies/{}", percent_encode(policy));
    let body = json!({ "target": certificate_arn }).to_string();
    send(config, "iot", "PUT", &path, &[], body.into_bytes()).await?;
    Ok(())
}

/// `AttachThingPrincipal`: the certificate to the node's thing.
pub async fn attach_thing_principal(
    config: &aws_config::SdkConfig,
    thing: &str,
    certificate_arn: &str,
) -> Result<(), Error> {
    thing_principal(config, "PUT", thing, certificate_arn).await
}

/// `DetachThingPrincipal`: a replaced certificate off the node's thing.
pub async fn detach_thing_principal(
    config: &aws_config::SdkConfig,
    thing: &str,
    certificate_arn: &str,
) -> Result<(), Error> {
    thing_principal(config, "DELETE", thing, certificate_arn).await
}

/// `PUT` (attach) or `DELETE` (detach) a thing's principal.
async fn thing_principal(
    config: &aws_config::SdkConfig,
    method: &'static str,
    thing: &str,
    certificate_arn: &str,
) -> Result<(), Error> {
    let path = format!("/things/{}/principals", percent_encode(thing));
    let principal = [("x-amzn-principal", certificate_arn)];
    send(config, "iot", method, &path, &principal, Vec::new()).await?;
    Ok(())
}

/// `UpdateCertificate` to `REVOKED`: a replaced (or half-registered) certificate connects no more.
pub async fn revoke_certificate(config: &aws_config::SdkConfig, id: &str) -> Result<(), Error> {
    let path = format!("/certificates/{}?newStatus=REVOKED", percent_encode(id));
    send(config, "iot", "PUT", &path, &[], Vec::new()).await?;
    Ok(())
}

/// `ListThingPrincipals` of a thing (one page of 250: a node has one or two certificates).
pub async fn thing_principals(
    config: &aws_config::SdkConfig,
    thing: &str,
) -> Result<Vec<String>, Error> {
    let path = format!(
        "/things/{}/principals?maxResults=250",
        percent_encode(thing)
    );
    let Some((_, body)) = send(config, "iot", "GET", &path, &[], Vec::new()).await? else {
        return Ok(Vec::new());
    };
    let page: Value = serde_json::from_str(&body)?;
    Ok(page["principals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect())
}

/// `DescribeEndpoint` of `iot:CredentialProvider`: the host camera nodes exchange their
/// certificate at for AWS credentials (`mqtt_cred_host`).
pub async fn credential_endpoint(config: &aws_config::SdkConfig) -> Result<String, Error> {
    let reply = send(
        config,
        "iot",
        "GET",
        "/endpoint?endpointType=iot%3ACredentialProvider",
        &[],
        Vec::new(),
    )
    .await?;
    let out = answer(reply, "DescribeEndpoint")?;
    out["endpointAddress"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "DescribeEndpoint answered without an endpoint address".into())
}
