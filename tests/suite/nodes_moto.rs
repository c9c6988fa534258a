//! `rmdeploy nodes` against moto_server behind the test kit's proxy (which plays
//! `CreateCertificateFromCsr` as AWS does: it certifies the CSR's own key). The thing type and
//! node policy are made directly in moto, as the stack would; the profile is `dev`
//! (`rainmaker-dev`, us-east-1).
//!
//! * a batch of 200: things with their attributes, one ACTIVE certificate each whose public key
//!   is the node's key, every image decodable and byte-equal to the PyPI generator's image of
//!   the batch's own CSV; killed (SIGKILL) at a random point and re-run: 200, no duplicates, no
//!   certificate left unattached and active;
//! * a batch CA: registered for just-in-time provisioning with the stack's template and role; a
//!   batch it signs makes no thing or certificate in the account, and every node's certificate
//!   is the CA's, with the fields the template reads;
//! * rotate (new certificate attached, old one revoked and detached, new image) and revoke
//!   (certificate revoked and detached, user mappings removed), list and show.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use rmdeploy::nodes::identity::NodeKey;
use rmdeploy::nodes::nvs::decode;
use rmdeploy::nodes::FactoryCreds;
use serde_json::Value;

use crate::support::moto::Moto;
use crate::support::proxy::Proxy;

const REGION: &str = "us-east-1";
const STACK: &str = "rainmaker-dev";

struct Setup {
    moto: Moto,
    proxy: Proxy,
    rt: tokio::runtime::Runtime,
    iot: aws_sdk_iot::Client,
    clients: rmdeploy::aws::Clients,
}

fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clients = rt.block_on(moto.clients(REGION));
    // What the stack creates, and what the tests read back, through the SDK.
    let iot = aws_sdk_iot::Client::new(&clients.config);
    rt.block_on(async {
        iot.create_thing_type()
            .thing_type_name(format!("{STACK}-esp-node"))
            .send()
            .await
            .unwrap();
        iot.create_policy()
            .policy_name(format!("{STACK}-node"))
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
    });
    Setup {
        moto,
        proxy,
        rt,
        iot,
        clients,
    }
}

impl Setup {
    /// rmdeploy with the dev profile, through the proxy.
    fn rmdeploy(&self, args: &[&str]) -> Command {
        let mut cmd = self.moto.process();
        cmd.env("AWS_ENDPOINT_URL", &self.proxy.url)
            .args(args)
            .args(["-p", "dev"]);
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = self.rmdeploy(args).args(["-o", "json"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    /// Every certificate in moto: id → (status, ARN).
    fn certificates(&self) -> BTreeMap<String, (String, String)> {
        self.rt.block_on(async {
            let out = self.iot.list_certificates().send().await.unwrap();
            out.certificates()
                .iter()
                .map(|c| {
                    (
                        c.certificate_id().unwrap().to_string(),
                        (
                            c.status().unwrap().as_str().to_string(),
                            c.certificate_arn().unwrap().to_string(),
                        ),
                    )
                })
                .collect()
        })
    }

    /// Things of the stack's type: name → attributes.
    fn things(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.rt.block_on(async {
            let mut found = BTreeMap::new();
            let mut token = None;
            loop {
                let out = self
                    .iot
                    .list_things()
                    .thing_type_name(format!("{STACK}-esp-node"))
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap();
                for t in out.things() {
                    let attrs = t.attributes().cloned().unwrap_or_default();
                    found.insert(
                        t.thing_name().unwrap().to_string(),
                        attrs.into_iter().collect(),
                    );
                }
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    break found;
                }
            }
        })
    }

    fn principals(&self, thing: &str) -> Vec<String> {
        self.rt.block_on(async {
            self.iot
                .list_thing_principals()
                .thing_name(thing)
                .send()
                .await
                .unwrap()
                .principals()
                .to_vec()
        })
    }

    fn cert_pem(&self, arn: &str) -> String {
        let id = arn.rsplit_once("cert/").unwrap().1;
        self.rt.block_on(async {
            let out = self
                .iot
                .describe_certificate()
                .certificate_id(id)
                .send()
                .await
                .unwrap();
            out.certificate_description()
                .unwrap()
                .certificate_pem()
                .unwrap()
                .to_string()
        })
    }
}

/// node id → its folder under node_details/, from the batch's manifest.
fn batch_nodes(dir: &Path) -> BTreeMap<String, std::path::PathBuf> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("node_details")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let id = name.rsplit('-').next().unwrap().to_string();
        found.insert(id, path);
    }
    found
}

/// Checks the batch in `dir` against moto: `count` nodes, each a thing with the batch's
/// attributes and one ACTIVE certificate for its own key; every certificate in moto attached
/// and active, or revoked.
fn check_batch(s: &Setup, dir: &Path, count: usize) {
    let things = s.things();
    let nodes = batch_nodes(dir);
    assert_eq!(nodes.len(), count, "node folders");
    assert_eq!(
        things.len(),
        count,
        "things: {:?}",
        things.keys().take(5).collect::<Vec<_>>()
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), count + 1, "manifest rows");
    let batch_ids: BTreeSet<&str> = things.values().map(|a| a["batch"].as_str()).collect();
    assert_eq!(batch_ids.len(), 1, "one batch: {batch_ids:?}");
    let mut attached = BTreeSet::new();
    for (id, folder) in &nodes {
        let attrs = &things[id];
        assert_eq!(attrs["project_name"], "light", "{id}");
        assert_eq!(attrs["chip"], "esp32c3", "{id}");
        let principals = s.principals(id);
        assert_eq!(principals.len(), 1, "{id}: {principals:?}");
        let key = NodeKey::from_pem(
            id,
            &std::fs::read_to_string(folder.join("node.key")).unwrap(),
        )
        .unwrap();
        let pem = s.cert_pem(&principals[0]);
        assert!(
            key.certified_by(&pem),
            "{id}: the certificate is for another key"
        );
        assert_eq!(
            pem,
            std::fs::read_to_string(folder.join("node.crt")).unwrap(),
            "{id}"
        );
        assert!(manifest.contains(&format!(
            "{id},-,{}",
            rmdeploy::nodes::identity::fingerprint(&pem).unwrap()
        )));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(folder.join("node.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{id}: node.key mode");
        attached.insert(principals[0].clone());
    }
    let certs = s.certificates();
    for (id, (status, arn)) in &certs {
        let ok = (status == "ACTIVE" && attached.contains(arn)) || status == "REVOKED";
        assert!(
            ok,
            "certificate {id} is {status} and attached to no node: an orphan"
        );
    }
    let active = certs.values().filter(|(st, _)| st == "ACTIVE").count();
    assert_eq!(active, count, "active certificates");
}

/// Every image of the batch decodes to the node's credentials and equals the PyPI generator's
/// image of the batch's own CSV (`csv/`).
fn check_images(dir: &Path) {
    let theirs = tempfile::tempdir().unwrap();
    let script = "import glob, os, sys\nfrom types import SimpleNamespace\nfrom esp_idf_nvs_partition_gen import nvs_partition_gen\nfor csv in sorted(glob.glob(os.path.join(sys.argv[1], '*.csv'))):\n    name = os.path.basename(csv)[:-4] + '.bin'\n    nvs_partition_gen.generate(SimpleNamespace(input=csv, output=name, size='0x6000', outdir=sys.argv[2], version=2))\n";
    let python = crate::support::python_tool_set("rainmaker-cli").join("python");
    let out = Command::new(python)
        .args(["-c", script])
        .arg(dir.join("csv"))
        .arg(theirs.path())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let host = std::fs::read_to_string(dir.join("common/endpoint.txt")).unwrap();
    let cred = std::fs::read_to_string(dir.join("common/mqtt_cred_host.txt")).unwrap();
    let mut checked = 0;
    for (id, folder) in batch_nodes(dir) {
        let name = folder.file_name().unwrap().to_string_lossy().to_string();
        let ours = std::fs::read(dir.join("bin").join(format!("{name}.bin"))).unwrap();
        let pypi = std::fs::read(theirs.path().join(format!("{name}.bin"))).unwrap();
        let read = |f: &str| std::fs::read_to_string(folder.join(f)).unwrap();
        let random = read("random.txt");
        let creds = FactoryCreds {
            node_id: id.clone(),
            mqtt_host: host.clone(),
            mqtt_cred_host: cred.clone(),
            client_cert: read("node.crt"),
            client_key: read("node.key"),
            random: (0..64)
                .map(|i| u8::from_str_radix(&random[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap(),
        };
        assert_eq!(
            decode(&ours).expect("rmdeploy's image decodes"),
            creds.entries(),
            "{id}"
        );
        assert_eq!(
            decode(&pypi).expect("the PyPI image decodes"),
            creds.entries(),
            "{id}"
        );
        assert!(ours == pypi, "{id}: the images differ");
        let qr: Value = serde_json::from_str(&read("qrcode.txt")).unwrap();
        assert_eq!(qr["pop"], creds.pop(), "{id}");
        assert_eq!(
            qr["name"],
            format!("PROV_{}", &random[random.len() - 6..]),
            "{id}"
        );
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn a_batch_of_200_killed_at_a_random_point_completes_without_duplicates_or_orphans() {
    let s = setup();
    let seed: u64 = std::env::var("RMDEPLOY_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let delay = Duration::from_millis(300 + seed % 2500);
    eprintln!("RMDEPLOY_FAULT_SEED={seed}: killing after {delay:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("batch");
    let args = [
        "nodes",
        "provision",
        "--count",
        "200",
        "--platform",
        "ESP32-C3",
        "--project",
        "light",
        "--concurrency",
        "16",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut child = s
        .rmdeploy(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    let (code, run, stderr) = s.run(&args);
    let took = started.elapsed();
    assert_eq!(code, 0, "{stderr}\n{run}");
    eprintln!(
        "re-run: {took:?}; written before {}, completed {}, adopted {}, revoked {}",
        run["already_written"],
        run["completed"].as_array().unwrap().len(),
        run["adopted"].as_array().unwrap().len(),
        run["revoked"].as_array().unwrap().len()
    );
    assert_eq!(run["written"].as_array().unwrap().len(), 200);
    check_batch(&s, &out, 200);
    check_images(&out);
    // A third run finds nothing to do and changes nothing.
    let before = s.certificates();
    let (code, run, stderr) = s.run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(run["already_written"], 200);
    assert_eq!(s.certificates(), before);
    // The same folder for another batch is refused.
    let mut other = args.to_vec();
    other[3] = "201";
    let (code, _, stderr) = s.run(&other);
    assert_eq!(code, 1);
    assert!(stderr.contains("holds another batch"), "{stderr}");
}

#[test]
fn rotate_and_revoke_a_node_list_and_show() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("batch");
    let macs = dir.path().join("macs.txt");
    std::fs::write(
        &macs,
        "7c:df:a1:00:00:01\n# a comment\n7C-DF-A1-00-00-02\n\n",
    )
    .unwrap();
    let (code, run, stderr) = s.run(&[
        "nodes",
        "provision",
        "--macs",
        macs.to_str().unwrap(),
        "--platform",
        "esp32c3",
        "--project",
        "light",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(run["written"].as_array().unwrap().len(), 2);
    let things = s.things();
    assert_eq!(things["7CDFA1000001"]["mac"], "7CDFA1000001");
    let node = "7CDFA1000002";
    let old = s.principals(node);

    // A user mapping to remove on revoke.
    let users_table = format!("{STACK}-user_nodes");
    s.rt.block_on(async {
        let db = &s.clients.dynamodb;
        let key = |n: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .unwrap()
        };
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        db.create_table()
            .table_name(&users_table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("user_id"))
            .attribute_definitions(attr("node_id"))
            .key_schema(key("user_id", KeyType::Hash))
            .key_schema(key("node_id", KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by_node")
                    .key_schema(key("node_id", KeyType::Hash))
                    .key_schema(key("user_id", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        for user in ["alice", "bob"] {
            db.put_item()
                .table_name(&users_table)
                .item(
                    "user_id",
                    aws_sdk_dynamodb::types::AttributeValue::S(user.into()),
                )
                .item(
                    "node_id",
                    aws_sdk_dynamodb::types::AttributeValue::S(node.into()),
                )
                .send()
                .await
                .unwrap();
        }
    });

    let (code, list, stderr) = s.run(&["nodes", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["7CDFA1000001", "7CDFA1000002"]);
    assert_eq!(list["nodes"][0]["project"], "light");

    // Rotate: a new certificate for a new key, attached; the old one revoked and detached.
    let rot = dir.path().join("rot");
    let (code, run, stderr) = s.run(&["nodes", "rotate", node, "--out", rot.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}\n{run}");
    let new = s.principals(node);
    assert_eq!(new.len(), 1, "{new:?}");
    assert_ne!(new, old);
    let folder = batch_nodes(&rot)
        .remove(node)
        .expect("the rotation's node folder");
    let key = NodeKey::from_pem(
        node,
        &std::fs::read_to_string(folder.join("node.key")).unwrap(),
    )
    .unwrap();
    assert!(key.certified_by(&s.cert_pem(&new[0])));
    let certs = s.certificates();
    let old_id = old[0].rsplit_once("cert/").unwrap().1;
    assert_eq!(certs[old_id].0, "REVOKED");
    assert_eq!(run["revoked"], serde_json::json!([old_id]));
    check_images(&rot);
    assert_eq!(s.things()[node]["project_name"], "light", "attributes kept");

    let (code, shown, stderr) = s.run(&["nodes", "show", node]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(shown["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(shown["users"], serde_json::json!(["alice", "bob"]));

    // Revoke: no certificate left attached, it is REVOKED, the mappings are gone.
    let (code, revoked, stderr) = s.run(&["nodes", "revoke", node]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(revoked["unmapped"], serde_json::json!(["alice", "bob"]));
    assert!(s.principals(node).is_empty());
    let new_id = new[0].rsplit_once("cert/").unwrap().1;
    assert_eq!(s.certificates()[new_id].0, "REVOKED");
    let (_, shown, _) = s.run(&["nodes", "show", node]);
    assert_eq!(shown["users"], serde_json::json!([]));

    // Unknown nodes and bad input are named.
    let (code, _, stderr) = s.run(&["nodes", "show", "000000000000"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("not registered in thing type rainmaker-dev-esp-node"),
        "{stderr}"
    );
    std::fs::write(&macs, "7c:df:a1:00:00:01\n01:00:5e:00:00:01\n").unwrap();
    let (code, _, stderr) = s.run(&[
        "nodes",
        "provision",
        "--macs",
        macs.to_str().unwrap(),
        "--platform",
        "esp32c3",
        "--project",
        "light",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("line 2") && stderr.contains("multicast"),
        "{stderr}"
    );
}

/// The stack's registration role and its output, made in moto as the deployed stack has them
/// (the whole stack is `apply_moto`'s): `nodes ca create` reads them.
fn registration_role_stack(s: &Setup) -> String {
    let template = r#"{"Resources":{"NodeRegistrationRole":{"Type":"AWS::IAM::Role","Properties":{"AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}}}},"Outputs":{"NodeRegistrationRoleName":{"Value":{"Ref":"NodeRegistrationRole"}}}}"#;
    let cfn = aws_sdk_cloudformation::Client::new(&s.clients.config);
    s.rt.block_on(async {
        cfn.create_stack()
            .stack_name(STACK)
            .template_body(template)
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
            .send()
            .await
            .unwrap();
        let out = cfn
            .describe_stacks()
            .stack_name(STACK)
            .send()
            .await
            .unwrap();
        let name = out.stacks()[0].outputs()[0]
            .output_value()
            .unwrap()
            .to_string();
        format!("arn:aws:iam::123456789012:role/{name}")
    })
}

/// A batch CA: registered active with auto-registration, the stack's provisioning template and
/// registration role; a batch of 50 signed by it makes no thing and no certificate in the
/// account (AWS IoT registers each node on its first connection), and each node's image holds
/// its certificate, issued by the CA with the fields the template reads, then the CA's.
#[test]
fn a_batch_ca_signs_a_batch_without_a_call_a_node() {
    let s = setup();
    let role = registration_role_stack(&s);
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca_args = ["nodes", "ca", "create", "--dir", ca_dir.to_str().unwrap()];
    let (code, made, stderr) = s.run(&ca_args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(made["created"], true);
    assert_eq!(made["role_arn"], role.as_str());
    let ca_id = made["certificate_id"].as_str().unwrap().to_string();
    let described = s.rt.block_on(async {
        s.iot
            .describe_ca_certificate()
            .certificate_id(&ca_id)
            .send()
            .await
            .unwrap()
    });
    let desc = described.certificate_description().unwrap();
    assert_eq!(desc.status().unwrap().as_str(), "ACTIVE");
    let ca_pem = std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap();
    assert_eq!(desc.certificate_pem().unwrap(), ca_pem);
    let config = described.registration_config().unwrap();
    assert_eq!(config.role_arn(), Some(role.as_str()));
    let template: Value = serde_json::from_str(config.template_body().unwrap()).unwrap();
    let thing = &template["Resources"]["thing"]["Properties"];
    assert_eq!(thing["ThingTypeName"], format!("{STACK}-esp-node"));
    assert_eq!(
        thing["ThingName"]["Ref"],
        "AWS::IoT::Certificate::CommonName"
    );
    assert_eq!(
        template["Resources"]["policy"]["Properties"]["PolicyName"],
        format!("{STACK}-node")
    );
    // the key is secret and never printed
    let key = std::fs::read_to_string(ca_dir.join("ca.key")).unwrap();
    assert!(!stderr.contains(key.lines().nth(1).unwrap()));
    // registering again reuses the folder's CA
    let (code, again, stderr) = s.run(&ca_args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(again["created"], false);
    assert_eq!(again["certificate_id"], ca_id.as_str());

    let out = dir.path().join("batch");
    let args = [
        "nodes",
        "provision",
        "--count",
        "50",
        "--platform",
        "esp32c6",
        "--project",
        "light",
        "--ca",
        ca_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, run, stderr) = s.run(&args);
    assert_eq!(code, 0, "{stderr}\n{run}");
    assert_eq!(run["written"].as_array().unwrap().len(), 50);
    assert!(
        s.things().is_empty(),
        "no thing before the first connection"
    );
    assert!(
        s.certificates().is_empty(),
        "no certificate from the account"
    );
    let ca_der = rmdeploy::nodes::identity::pem_der(&ca_pem).unwrap();
    let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    let batch_id = run["batch_id"].as_str().unwrap();
    let nodes = batch_nodes(&out);
    assert_eq!(nodes.len(), 50);
    for (id, folder) in &nodes {
        let chain = std::fs::read_to_string(folder.join("node.crt")).unwrap();
        assert!(
            chain.ends_with(&ca_pem),
            "{id}: the CA follows the node's certificate"
        );
        let key = NodeKey::from_pem(
            id,
            &std::fs::read_to_string(folder.join("node.key")).unwrap(),
        )
        .unwrap();
        assert!(key.certified_by(&chain), "{id}");
        let der = rmdeploy::nodes::identity::pem_der(&chain).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.verify_signature(Some(ca_cert.public_key()))
            .unwrap_or_else(|e| panic!("{id}: not signed by the CA: {e}"));
        let subject = cert.subject();
        let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
            it.next().unwrap().as_str().unwrap().to_string()
        };
        assert_eq!(first(&mut subject.iter_common_name()), *id);
        assert_eq!(first(&mut subject.iter_organization()), "light");
        assert_eq!(first(&mut subject.iter_organizational_unit()), "esp32c6");
        let dnq = subject
            .iter_attributes()
            .find(|a| a.attr_type().to_id_string() == "2.5.4.46")
            .unwrap();
        assert_eq!(dnq.as_str().unwrap(), batch_id, "{id}");
    }
    check_images(&out);
    // the batch cannot be finished with another CA, nor without one
    let mut plain = args.to_vec();
    plain.drain(8..10);
    let (code, _, stderr) = s.run(&plain);
    assert_eq!(code, 1);
    assert!(stderr.contains("signed by the batch CA"), "{stderr}");
}
