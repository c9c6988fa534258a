//! `nodes ca create`: make (or reuse) a batch CA in a folder and register it with AWS IoT for
//! just-in-time provisioning, run as the stack's `NodeRegistrationRole`.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::super::Observer;
use crate::aws::Clients;
use crate::nodes::ca::{self, BatchCa, Registration};
use crate::nodes::registry::Names;
use crate::nodes::NodesError;

/// The stack output that names the role AWS IoT registers nodes as.
pub const ROLE_OUTPUT: &str = "NodeRegistrationRoleName";

/// A registered batch CA.
#[derive(Debug, Serialize)]
pub struct CaRegistered {
    pub dir: String,
    /// The CA was made by this run (else the folder's was reused).
    pub created: bool,
    pub certificate_id: String,
    pub certificate_arn: String,
    pub role_arn: String,
    pub thing_type: String,
    pub policy: String,
}

/// Make the CA in `dir` unless it holds one, and register it (again) for `stack`.
pub async fn create(
    clients: &Clients,
    stack: &str,
    dir: &Path,
    observer: &mut dyn Observer,
) -> Result<CaRegistered, NodesError> {
    let names = Names::of(stack);
    let role_arn = role_arn(clients, stack, dir).await?;
    let created = !BatchCa::exists(dir);
    let mut ca = match created {
        true => BatchCa::create(dir)?,
        false => BatchCa::open(dir)?,
    };
    observer.step(&format!(
        "{} batch CA {} in {}",
        if created { "made" } else { "reusing" },
        ca.fingerprint(),
        dir.display()
    ));
    let code = clients.iot.registration_code().await?;
    let verification = ca.verification(&code)?;
    let template = ca::provisioning_template(&names).to_string();
    let (certificate_id, certificate_arn) = clients
        .iot
        .register_ca(
            &ca.pem(),
            &verification,
            &template,
            &role_arn,
            &ca.fingerprint(),
        )
        .await?;
    ca.registered(Registration {
        certificate_id: certificate_id.clone(),
        certificate_arn: certificate_arn.clone(),
        stack: stack.to_string(),
        region: clients.region.clone(),
    })?;
    Ok(CaRegistered {
        dir: dir.display().to_string(),
        created,
        certificate_id,
        certificate_arn,
        role_arn,
        thing_type: names.thing_type,
        policy: names.policy,
    })
}

/// The ARN of the role the stack's `NodeRegistrationRoleName` output names, in the stack's
/// partition and account (read from its id).
async fn role_arn(clients: &Clients, stack: &str, dir: &Path) -> Result<String, NodesError> {
    let fail = |reason: String| {
        NodesError::Ca {
        dir: dir.to_path_buf(),
        reason,
        help: Some(format!(
            "deploy the stack first (`rmdeploy apply`): its {ROLE_OUTPUT} output is the role AWS IoT registers nodes as; check --profile and --region"
        )),
    }
    };
    let found = crate::deploy::stacks::describe(clients, stack)
        .await
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail(format!("stack {stack} does not exist")))?;
    let name = found
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(ROLE_OUTPUT))
        .and_then(|o| o.output_value())
        .ok_or_else(|| fail(format!("stack {stack} has no output {ROLE_OUTPUT}")))?;
    // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    let id: Vec<&str> = found.stack_id().unwrap_or_default().split(':').collect();
    match (id.get(1), id.get(4)) {
        (Some(partition), Some(account)) if !account.is_empty() => {
            Ok(format!("arn:{partition}:iam::{account}:role/{name}"))
        }
        _ => Err(fail(format!("stack {stack} has no readable id"))),
    }
}

impl fmt::Display for CaRegistered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Batch CA {} registered with AWS IoT ({}), just-in-time provisioning on",
            self.certificate_id,
            if self.created { "new" } else { "the folder's" }
        )?;
        writeln!(f, "  folder        {} (keep ca.key offline)", self.dir)?;
        writeln!(f, "  registers as  {}", self.role_arn)?;
        writeln!(
            f,
            "  first connect thing in {}, policy {}",
            self.thing_type, self.policy
        )?;
        writeln!(
            f,
            "  next          rmdeploy nodes provision --ca {} --count N --platform CHIP --project NAME",
            self.dir
        )
    }
}
