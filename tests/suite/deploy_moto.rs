//! The deploy engine against a real AWS API emulator (moto_server) through the real binary.

use crate::support::moto::Moto;
use predicates::prelude::*;

#[test]
fn bootstrap_is_created_once_then_reused_in_global_and_china_regions() {
    let moto = Moto::start();
    for region in ["us-east-1", "cn-north-1"] {
        let first = crate::support::json_of(moto.rmdeploy().args([
            "bootstrap",
            "--region",
            region,
            "-o",
            "json",
        ]));
        assert_eq!(first["action"], "created", "{first}");
        assert_eq!(first["status"], "CREATE_COMPLETE");
        let bucket = first["bucket"].as_str().unwrap().to_string();
        assert!(
            bucket.starts_with("rmdeploy-bootstrap-artifactsbucket"),
            "{bucket}"
        );

        let again = crate::support::json_of(moto.rmdeploy().args([
            "bootstrap",
            "--region",
            region,
            "-o",
            "json",
        ]));
        assert_eq!(again["action"], "unchanged");
        assert_eq!(again["bucket"], bucket.as_str());

        let (stacks, open_change_sets) = moto.leftovers(region);
        assert_eq!(
            stacks,
            vec![(
                "rmdeploy-bootstrap".to_string(),
                "CREATE_COMPLETE".to_string()
            )]
        );
        assert_eq!(open_change_sets, 0, "a change set was left behind");
    }
}

#[test]
fn human_output_names_the_bucket_and_progress_goes_to_stderr() {
    let moto = Moto::start();
    moto.rmdeploy()
        .args(["bootstrap", "-p", "dev"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Bootstrap stack rmdeploy-bootstrap in us-east-1: created (CREATE_COMPLETE)",
        ))
        .stdout(predicate::str::contains(
            "Artifacts bucket: rmdeploy-bootstrap-artifactsbucket",
        ))
        .stderr(predicate::str::contains("checking the bootstrap stack"));
}

#[test]
fn without_credentials_nothing_is_called_and_the_fix_is_named() {
    let moto = Moto::start();
    let mut cmd = moto.rmdeploy();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.args(["bootstrap"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no AWS credentials"))
        .stderr(predicate::str::contains("--aws-profile"));
    let (stacks, _) = moto.leftovers("us-east-1");
    assert!(stacks.is_empty(), "{stacks:?}");
}

#[test]
fn an_unreachable_endpoint_is_an_error_that_says_so() {
    let moto = Moto::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = moto.rmdeploy();
    cmd.env("AWS_MAX_ATTEMPTS", "1");
    cmd.args([
        "bootstrap",
        "--endpoint-url",
        &format!("http://127.0.0.1:{closed}"),
    ])
    .timeout(std::time::Duration::from_secs(120))
    .assert()
    .code(1)
    .stderr(predicate::str::contains("DescribeStacks failed"))
    .stderr(predicate::str::contains("could not be reached"));
}
