//! Lambda artifacts: executables built here by gcc are checked as a real `bootstrap` would be,
//! and content-addressed uploads go to a real S3 emulator (moto_server).

use std::process::Command;

use rmdeploy::artifacts::{elf, package, store, ArtifactError};
use rmdeploy::aws::Clients;
use rmdeploy::profile::Architecture;

/// Compile a C program with the machine's gcc and return the executable's bytes.
fn compile(source: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (c, exe) = (dir.path().join("main.c"), dir.path().join("bootstrap"));
    std::fs::write(&c, source).unwrap();
    let status = Command::new("gcc")
        .arg("-O2")
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    std::fs::read(exe).unwrap()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn executables_are_checked_for_architecture_and_glibc() {
    let plain = compile("int main(void) { return 0; }\n");
    let facts = elf::check("plain", &plain, Architecture::X86_64)
        .expect("a plain program runs on provided.al2023");
    assert!(
        facts.glibc.is_some_and(|v| v <= elf::RUNTIME_GLIBC),
        "{facts:?}"
    );

    let err = elf::check("plain", &plain, Architecture::Arm64).unwrap_err();
    assert!(matches!(err, ArtifactError::WrongArchitecture { .. }));
    assert_eq!(
        err.to_string(),
        "plain is built for x86_64, but the function runs on arm64"
    );

    // arc4random arrived in glibc 2.36, newer than the runtime's 2.34
    let newer =
        compile("#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n");
    let err = elf::check("newer", &newer, Architecture::X86_64).unwrap_err();
    assert_eq!(
        err.to_string(),
        "newer needs glibc 2.36 (symbol version GLIBC_2.36), but the provided.al2023 runtime has 2.34"
    );
}

fn moto_clients(moto: &crate::support::moto::Moto) -> (tokio::runtime::Runtime, Clients) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clients = rt.block_on(moto.clients("eu-west-1"));
    (rt, clients)
}

#[test]
fn unchanged_artifacts_are_never_uploaded_twice() {
    let moto = crate::support::moto::Moto::start();
    let (rt, clients) = moto_clients(&moto);
    rt.block_on(async {
        clients
            .s3
            .create_bucket()
            .bucket("artifacts")
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let zips: Vec<(String, Vec<u8>)> = (0..6)
            .map(|i| {
                let p = package::lambda_zip("f", format!("function {i}").into_bytes()).unwrap();
                (p.key(&format!("f{i}")), p.bytes)
            })
            .collect();
        let first = store::put_all(&clients, "artifacts", zips.clone())
            .await
            .unwrap();
        assert!(first.iter().all(|s| s.uploaded), "{first:?}");
        assert_eq!(
            first.iter().map(|s| s.key.clone()).collect::<Vec<_>>(),
            zips.iter().map(|z| z.0.clone()).collect::<Vec<_>>()
        );
        let second = store::put_all(&clients, "artifacts", zips.clone())
            .await
            .unwrap();
        assert!(second.iter().all(|s| !s.uploaded), "{second:?}");

        let listed = clients
            .s3
            .list_objects_v2()
            .bucket("artifacts")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.key_count(), Some(6));
        let body = clients
            .s3
            .get_object()
            .bucket("artifacts")
            .key(&zips[2].0)
            .send()
            .await
            .unwrap();
        assert_eq!(
            body.body.collect().await.unwrap().into_bytes().to_vec(),
            zips[2].1
        );

        // an AWS failure is returned, not swallowed
        let err = store::put_all(&clients, "no-such-bucket", zips[..1].to_vec())
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("HeadObject failed")
                || err.to_string().starts_with("PutObject failed"),
            "{err}"
        );
    });
}
