//! `rmdeploy build` through the real binary: cargo-lambda builds the bundled functions for the
//! profile's architecture, each `bootstrap` is checked and zipped under its SHA-256.

use std::io::Read;

use rmdeploy::artifacts::elf;
use rmdeploy::profile::Architecture;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn build(profile: &str, path: &str) -> Value {
    let target =
        rmdeploy::artifacts::build::target_dir(None).expect("a private Lambda build folder");
    crate::support::json_of(
        crate::support::rmdeploy()
            .env("PATH", path)
            .args(["build", "-p", profile, "-o", "json", "--target-dir"])
            .arg(&target)
            .timeout(std::time::Duration::from_secs(1800)),
    )
}

#[test]
fn bundled_functions_build_for_each_architecture() {
    // One build at a time in the shared Lambda target folder, whichever test starts it.
    let _build = crate::support::building::build_lock();
    let path = crate::support::lambda_build_path();
    for (profile, arch) in [
        ("dev", Architecture::Arm64),
        ("china", Architecture::X86_64),
    ] {
        let result = build(profile, &path);
        assert_eq!(result["architecture"], arch.as_str());
        let built = result["built"].as_array().unwrap();
        let params = built
            .iter()
            .find(|b| b["function"] == "params")
            .expect("params is bundled");
        assert_eq!(params["parameter"], "ParamsCodeKey");
        let sha = params["sha256"].as_str().unwrap();
        assert_eq!(params["key"], format!("lambda/params/{sha}.zip"));
        let glibc = params["glibc"].as_str().unwrap();
        let (major, minor) = glibc.split_once('.').unwrap();
        assert!(
            (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap()) <= elf::RUNTIME_GLIBC,
            "{glibc}"
        );
        assert!(result["not_bundled_yet"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f != "params"));

        // the same build gives the same content key
        let again = build(profile, &path);
        let again = again["built"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["function"] == "params")
            .unwrap()
            .clone();
        assert_eq!(again["sha256"], sha);

        // the zip the key names holds a bootstrap for the right CPU
        let target =
            rmdeploy::artifacts::build::target_dir(None).expect("a private Lambda build folder");
        let bootstrap = std::fs::read(
            rmdeploy::artifacts::build::lambda_dir(&target, arch).join("params/bootstrap"),
        )
        .unwrap();
        assert_eq!(
            elf::inspect("bootstrap", &bootstrap).unwrap().architecture,
            arch
        );
        let zip = rmdeploy::artifacts::package::lambda_zip("bootstrap", bootstrap).unwrap();
        assert_eq!(zip.sha256, sha);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.bytes)).unwrap();
        let mut entry = archive.by_name("bootstrap").unwrap();
        let mut inside = Vec::new();
        entry.read_to_end(&mut inside).unwrap();
        assert_eq!(format!("{:x}", Sha256::digest(&inside)).len(), 64);
    }
}
