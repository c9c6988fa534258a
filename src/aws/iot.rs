//! AWS IoT's control plane, the calls rmdeploy makes (endpoints, things, certificates, thing
//! groups, jobs), over [`Rest`]. Paths and shapes are the IoT API reference's (REST-JSON).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::rest::{encode, Call, Failure, Pages, Rest};

/// The IoT control plane of one account and region.
#[derive(Debug, Clone)]
pub struct Iot {
    pub rest: Rest,
}

/// `DescribeThing`, `ListThings`: a thing's name, type and attributes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingInfo {
    #[serde(default)]
    pub thing_name: String,
    pub thing_type_name: Option<String>,
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// A certificate as `ListCertificates` and `DescribeCertificate` show it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    #[serde(default)]
    pub certificate_id: String,
    #[serde(default)]
    pub certificate_arn: String,
    #[serde(default)]
    pub status: String,
    /// Epoch seconds (with a fraction).
    #[serde(default)]
    pub creation_date: f64,
    /// Only in `DescribeCertificate`.
    #[serde(default)]
    pub certificate_pem: String,
}

/// `CreateCertificateFromCsr`'s answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    #[serde(default)]
    pub certificate_id: String,
    #[serde(default)]
    pub certificate_arn: String,
    #[serde(default)]
    pub certificate_pem: String,
}

/// An answer's JSON read as `T`, or a failure naming the operation.
fn parse<T: for<'de> Deserialize<'de>>(operation: &'static str, v: Value) -> Result<T, Failure> {
    serde_json::from_value(v).map_err(|e| Failure {
        operation,
        status: None,
        code: String::new(),
        message: format!("unexpected answer: {e}"),
    })
}

/// The string field `key` of an answer.
fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Iot {
    /// `DescribeEndpoint` of `kind` (`iot:Data-ATS`, `iot:CredentialProvider`).
    pub async fn describe_endpoint(&self, kind: &str) -> Result<String, Failure> {
        let call =
            Call::new("DescribeEndpoint", "GET", "/endpoint".into()).query("endpointType", kind);
        Ok(text(&self.rest.send(&call).await?, "endpointAddress"))
    }

    /// `DescribeThing`; `None` when there is no such thing.
    pub async fn describe_thing(&self, name: &str) -> Result<Option<ThingInfo>, Failure> {
        let call = Call::new("DescribeThing", "GET", format!("/things/{}", encode(name)));
        match self.rest.send(&call).await {
            Ok(v) => parse("DescribeThing", v).map(Some),
            Err(f) if f.is("ResourceNotFoundException") => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// `CreateThing` in `thing_type` with `attributes`.
    pub async fn create_thing(
        &self,
        name: &str,
        thing_type: &str,
        attributes: &impl serde::Serialize,
    ) -> Result<(), Failure> {
        let call = Call::new("CreateThing", "POST", format!("/things/{}", encode(name))).json(
            json!({"thingTypeName": thing_type, "attributePayload": {"attributes": attributes}}),
        );
        self.rest.send(&call).await.map(drop)
    }

    /// `ListThings` of `thing_type`, page by page (`things`).
    pub fn list_things(&self, thing_type: &str) -> Pages {
        let call = Call::new("ListThings", "GET", "/things".into())
            .query("thingTypeName", thing_type)
            .query("maxResults", "250");
        self.rest.pages(call, "nextToken", "nextToken")
    }

    /// The things of a `ListThings` page.
    pub fn things_of(page: &Value) -> Result<Vec<ThingInfo>, Failure> {
        parse(
            "ListThings",
            page.get("things").cloned().unwrap_or(json!([])),
        )
    }

    /// `CreateCertificateFromCsr`, active.
    pub async fn create_certificate_from_csr(&self, csr: &str) -> Result<Created, Failure> {
        let call = Call::new("CreateCertificateFromCsr", "POST", "/certificates".into())
            .query("setAsActive", "true")
            .json(json!({"certificateSigningRequest": csr}));
        parse("CreateCertificateFromCsr", self.rest.send(&call).await?)
    }

    /// `ListCertificates`, newest first, page by page (`certificates`).
    pub fn list_certificates_newest_first(&self) -> Pages {
        let call = Call::new("ListCertificates", "GET", "/certificates".into())
            .query("isAscendingOrder", "false")
            .query("pageSize", "250");
        self.rest.pages(call, "marker", "nextMarker")
    }

    /// The certificates of a `ListCertificates` page.
    pub fn certificates_of(page: &Value) -> Result<Vec<CertificateInfo>, Failure> {
        parse(
            "ListCertificates",
            page.get("certificates").cloned().unwrap_or(json!([])),
        )
    }

    /// `DescribeCertificate`.
    pub async fn describe_certificate(&self, id: &str) -> Result<CertificateInfo, Failure> {
        let call = Call::new(
            "DescribeCertificate",
            "GET",
            format!("/certificates/{}", encode(id)),
        );
        let v = self.rest.send(&call).await?;
        parse(
            "DescribeCertificate",
            v.get("certificateDescription").cloned().unwrap_or_default(),
        )
    }

    /// `UpdateCertificate` to `status` (`REVOKED`, `INACTIVE`).
    pub async fn update_certificate(&self, id: &str, status: &str) -> Result<(), Failure> {
        let call = Call::new(
            "UpdateCertificate",
            "PUT",
            format!("/certificates/{}", encode(id)),
        )
        .query("newStatus", status);
        self.rest.send(&call).await.map(drop)
    }

    /// `AttachPolicy` of `policy` to `target` (a certificate ARN).
    pub async fn attach_policy(&self, policy: &str, target: &str) -> Result<(), Failure> {
        let call = Call::new(
            "AttachPolicy",
            "PUT",
            format!("/target-policies/{}", encode(policy)),
        )
        .json(json!({ "target": target }));
        self.rest.send(&call).await.map(drop)
    }

    /// `AttachThingPrincipal`.
    pub async fn attach_thing_principal(
        &self,
        thing: &str,
        principal: &str,
    ) -> Result<(), Failure> {
        let call = Call::new(
            "AttachThingPrincipal",
            "PUT",
            format!("/things/{}/principals", encode(thing)),
        )
        .header("x-amzn-principal", principal);
        self.rest.send(&call).await.map(drop)
    }

    /// `DetachThingPrincipal`.
    pub async fn detach_thing_principal(
        &self,
        thing: &str,
        principal: &str,
    ) -> Result<(), Failure> {
        let call = Call::new(
            "DetachThingPrincipal",
            "DELETE",
            format!("/things/{}/principals", encode(thing)),
        )
        .header("x-amzn-principal", principal);
        self.rest.send(&call).await.map(drop)
    }

    /// `ListThingPrincipals`, page by page (`principals`).
    pub fn list_thing_principals(&self, thing: &str) -> Pages {
        let call = Call::new(
            "ListThingPrincipals",
            "GET",
            format!("/things/{}/principals", encode(thing)),
        );
        self.rest.pages(call, "nextToken", "nextToken")
    }

    /// `CreateThingGroup`, or the existing group's ARN (`DescribeThingGroup`).
    pub async fn ensure_thing_group(&self, name: &str) -> Result<String, Failure> {
        let path = format!("/thing-groups/{}", encode(name));
        let created = Call::new("CreateThingGroup", "POST", path.clone()).json(json!({}));
        match self.rest.send(&created).await {
            Ok(v) => Ok(text(&v, "thingGroupArn")),
            Err(f) if f.is("ResourceAlreadyExistsException") => {
                let described = Call::new("DescribeThingGroup", "GET", path);
                Ok(text(&self.rest.send(&described).await?, "thingGroupArn"))
            }
            Err(f) => Err(f),
        }
    }

    /// `CreateJob` `id` with the request body `job` (targets, document, rollout, ...); `false`
    /// when a job of that id exists already.
    pub async fn create_job(&self, id: &str, job: Value) -> Result<bool, Failure> {
        let call = Call::new("CreateJob", "PUT", format!("/jobs/{}", encode(id))).json(job);
        match self.rest.send(&call).await {
            Ok(_) => Ok(true),
            Err(f) if f.is("ResourceAlreadyExistsException") => Ok(false),
            Err(f) => Err(f),
        }
    }

    /// `DescribeJob`'s status (`IN_PROGRESS`, `CANCELED`, ...); `None` when there is no such job.
    pub async fn job_status(&self, id: &str) -> Result<Option<String>, Failure> {
        let call = Call::new("DescribeJob", "GET", format!("/jobs/{}", encode(id)));
        match self.rest.send(&call).await {
            Ok(v) => Ok(Some(
                v.get("job").map(|j| text(j, "status")).unwrap_or_default(),
            )),
            Err(f) if f.is("ResourceNotFoundException") => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// `GetRegistrationCode`: the CN a CA's verification certificate must have.
    pub async fn registration_code(&self) -> Result<String, Failure> {
        let call = Call::new("GetRegistrationCode", "GET", "/registrationcode".into());
        Ok(text(&self.rest.send(&call).await?, "registrationCode"))
    }

    /// `RegisterCACertificate`, active, with auto-registration and the provisioning template
    /// `template` run as `role_arn` (JITP); a CA registered already gets the template and role
    /// (`UpdateCACertificate`). Returns the CA certificate's id and ARN.
    pub async fn register_ca(
        &self,
        ca_pem: &str,
        verification_pem: &str,
        template: &str,
        role_arn: &str,
        ca_id: &str,
    ) -> Result<(String, String), Failure> {
        let config = json!({"templateBody": template, "roleArn": role_arn});
        let call = Call::new("RegisterCACertificate", "POST", "/cacertificate".into())
            .query("setAsActive", "true")
            .query("allowAutoRegistration", "true")
            .json(json!({
                "caCertificate": ca_pem,
                "verificationCertificate": verification_pem,
                "registrationConfig": config,
            }));
        match self.rest.send(&call).await {
            Ok(v) => Ok((text(&v, "certificateId"), text(&v, "certificateArn"))),
            Err(f) if f.is("ResourceAlreadyExistsException") => {
                let update = Call::new(
                    "UpdateCACertificate",
                    "PUT",
                    format!("/cacertificate/{}", encode(ca_id)),
                )
                .query("newStatus", "ACTIVE")
                .query("newAutoRegistrationStatus", "ENABLE")
                .json(json!({ "registrationConfig": config }));
                self.rest.send(&update).await?;
                let (info, _) = self.describe_ca(ca_id).await?;
                Ok((ca_id.to_string(), info.certificate_arn))
            }
            Err(f) => Err(f),
        }
    }

    /// `DescribeCACertificate`: the CA certificate and its registration config (`templateBody`,
    /// `roleArn`).
    pub async fn describe_ca(&self, id: &str) -> Result<(CertificateInfo, Value), Failure> {
        let call = Call::new(
            "DescribeCACertificate",
            "GET",
            format!("/cacertificate/{}", encode(id)),
        );
        let v = self.rest.send(&call).await?;
        let info = parse(
            "DescribeCACertificate",
            v.get("certificateDescription").cloned().unwrap_or_default(),
        )?;
        Ok((
            info,
            v.get("registrationConfig").cloned().unwrap_or_default(),
        ))
    }
}
