//! NVS partition images (`rmdeploy::nodes::nvs`) against the real generator,
//! `esp-idf-nvs-partition-gen` 0.3.0 (PyPI, pinned in scripts/rainmaker-cli.in):
//!
//! * factory images of generated credentials, the CSV and the generator's image made by
//!   `esp-rainmaker-cli claim`'s own functions (tests/fixtures/nvs/cli_factory_images.py):
//!   short and long certificate chains, RSA 2048 and EC P-256 keys, and a sweep of certificate
//!   lengths across the end of the first page;
//! * the generator's `generate` command over a CSV of every number type, strings and blobs.
//!
//! Both images of each case must decode (with every CRC checked), to the same entries, and
//! must be byte for byte equal. No PyPI package parses NVS images (ESP-IDF's `nvs_tool.py` is
//! not published there), so the decoder is the Rust one, written from ESP-IDF's format.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rmdeploy::nodes::nvs::{self, decode, Entry, FactoryCreds, Value, PAGE_SIZE};
use serde_json::json;

fn python() -> PathBuf {
    crate::support::python_tool_set("rainmaker-cli").join("python")
}

/// Runs `python args...` in `dir` (also its HOME), with `stdin`; panics with its stderr.
fn run_python(dir: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(python())
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rainmaker-cli virtualenv's python runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Case {
    name: String,
    node_id: &'static str,
    mqtt_host: &'static str,
    key: &'static str,
    certs: usize,
    cert_len: Option<usize>,
}

fn case(name: &str, node_id: &'static str, mqtt_host: &'static str, key: &'static str) -> Case {
    Case {
        name: name.into(),
        node_id,
        mqtt_host,
        key,
        certs: 1,
        cert_len: None,
    }
}

const GLOBAL_HOST: &str = "a3k7odshaiipe8-ats.iot.us-east-1.amazonaws.com";
const CHINA_HOST: &str = "a1b2c3d4e5f6g7.ats.iot.cn-north-1.amazonaws.com.cn";

/// Makes each case's claim files and image with the CLI's functions, under `root/<name>/`.
fn cli_images(root: &Path, cases: &[Case]) {
    let list: Vec<_> = cases
        .iter()
        .map(|c| {
            let dir = root.join(&c.name);
            std::fs::create_dir_all(&dir).unwrap();
            let cred_host = c.mqtt_host.replace("ats.iot", "credentials.iot");
            json!({"dir": dir, "node_id": c.node_id, "mqtt_host": c.mqtt_host,
                   "mqtt_cred_host": cred_host, "key": c.key, "certs": c.certs,
                   "cert_len": c.cert_len})
        })
        .collect();
    let script = crate::support::root().join("tests/fixtures/nvs/cli_factory_images.py");
    run_python(root, &[script.to_str().unwrap()], &json!(list).to_string());
}

fn unhex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The credentials in a case's claim files, as the CLI wrote them.
fn creds_of(dir: &Path) -> FactoryCreds {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    FactoryCreds {
        node_id: read("node.info"),
        mqtt_host: read("endpoint.info"),
        mqtt_cred_host: read("mqtt_cred_host.info"),
        client_cert: read("node.crt"),
        client_key: read("node.key"),
        random: unhex(&read("random.info")).try_into().expect("64 bytes"),
    }
}

/// Pages of an image in use (not erased).
fn pages_used(image: &[u8]) -> usize {
    image
        .chunks(PAGE_SIZE)
        .filter(|p| p.iter().any(|b| *b != 0xFF))
        .count()
}

/// Decodes both images, checks their entries are `expected`, and says whether the bytes agree
/// (where they first differ, never what they hold: the keys are secret).
fn compare(name: &str, ours: &[u8], theirs: &[u8], expected: &[Entry]) -> Option<usize> {
    let theirs_decoded = decode(theirs)
        .unwrap_or_else(|e| panic!("{name}: the PyPI generator's image does not decode: {e}"));
    let ours_decoded =
        decode(ours).unwrap_or_else(|e| panic!("{name}: rmdeploy's image does not decode: {e}"));
    assert_eq!(theirs_decoded, expected, "{name}: the PyPI image's entries");
    assert_eq!(ours_decoded, expected, "{name}: rmdeploy's image's entries");
    assert_eq!(ours.len(), theirs.len(), "{name}: image sizes");
    ours.iter().zip(theirs).position(|(a, b)| a != b)
}

fn check_factory_cases(root: &Path, cases: &[Case]) -> Vec<usize> {
    cli_images(root, cases);
    cases
        .iter()
        .map(|c| {
            let dir = root.join(&c.name);
            let creds = creds_of(&dir);
            assert_eq!(creds.node_id, c.node_id);
            let theirs = std::fs::read(dir.join("node.bin")).unwrap();
            assert_eq!(theirs.len(), nvs::FACTORY_PARTITION_SIZE, "{}", c.name);
            let ours = creds.image().expect("the credentials fit the partition");
            let entries = creds.entries();
            if let Some(at) = compare(&c.name, &ours, &theirs, &entries) {
                panic!("{}: the images differ first at byte {at:#x}", c.name);
            }
            pages_used(&theirs)
        })
        .collect()
}

#[test]
fn factory_images_equal_the_clis_for_rsa_and_ec_keys_short_and_long_chains() {
    let root = tempfile::tempdir().unwrap();
    let mut cases = vec![
        case("ec-short", "kXv4mYQzU3cJTbSn6pfWRa", GLOBAL_HOST, "ec"),
        case("rsa-short", "Hn2Ck7PqWsL9dEf4Gh6JmB", GLOBAL_HOST, "rsa"),
        case("rsa-china", "Zx8Vb3Nm5Qw1Er7Ty9Ui0O", CHINA_HOST, "rsa"),
        case("rsa-chain-4", "P0oI9uY8tR7eW6qA5sD4fG", GLOBAL_HOST, "rsa"),
        case("ec-chain-12", "L1kJ2hG3fD4sA5pO6iU7yT", CHINA_HOST, "ec"),
    ];
    cases[3].certs = 4;
    cases[4].certs = 12;
    let pages = check_factory_cases(root.path(), &cases);
    // The short chains fit the first page; the long ones span two or more.
    assert_eq!(pages[0], 1, "ec-short pages");
    assert!(
        pages[3] >= 2 && pages[4] >= 2,
        "long chains span pages: {pages:?}"
    );
}

/// Certificate lengths 3,480 to 3,680 bytes move the end of the certificate and the start of
/// the key over the last entries of page 0: a key chunk of 0 bytes, an index pushed to the next
/// page, a certificate split in two.
#[test]
fn factory_images_equal_the_clis_across_the_first_page_boundary() {
    let root = tempfile::tempdir().unwrap();
    let cases: Vec<Case> = (3480..=3680)
        .map(|len| Case {
            cert_len: Some(len),
            ..case(
                &format!("cert-{len}"),
                "Hn2Ck7PqWsL9dEf4Gh6JmB",
                GLOBAL_HOST,
                "rsa",
            )
        })
        .collect();
    let pages = check_factory_cases(root.path(), &cases);
    assert!(pages.iter().all(|p| *p == 2), "{pages:?}");
}

#[test]
fn generic_images_equal_the_generators_for_every_type() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let motto: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let big: Vec<u8> = (0..9000u32).map(|i| (i * 31 % 256) as u8).collect();
    // After the namespace entry, 3,950 bytes and a NUL would end on the page's last entry: the
    // generator keeps that entry free and starts a new page.
    let edge = "e".repeat(3950);
    std::fs::write(dir.join("edge.txt"), &edge).unwrap();
    std::fs::write(dir.join("motto.txt"), &motto).unwrap();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let csv = "key,type,encoding,value\n\
        numbers,namespace,,\n\
        page_end,file,string,edge.txt\n\
        u8min,data,u8,0\nu8max,data,u8,255\ni8min,data,i8,-128\ni8max,data,i8,127\n\
        u16max,data,u16,65535\ni16min,data,i16,-32768\nu32max,data,u32,4294967295\n\
        i32min,data,i32,-2147483648\nu64max,data,u64,18446744073709551615\n\
        i64min,data,i64,-9223372036854775808\ngreeting,data,string,Hello NVS\n\
        texts,namespace,,\n\
        empty,data,string,\nmotto,file,string,motto.txt\nhexed,data,hex2bin,00ff10ab\n\
        b64,data,base64,SGVsbG8=\nbig,file,binary,big.bin\nlast,data,u32,42\n";
    std::fs::write(dir.join("all.csv"), csv).unwrap();
    let args = [
        "-m",
        "esp_idf_nvs_partition_gen",
        "generate",
        "all.csv",
        "all.bin",
        "0x7000",
    ];
    run_python(dir, &args, "");
    let n = |key: &str, value| Entry::new("numbers", key, value);
    let t = |key: &str, value| Entry::new("texts", key, value);
    let expected = vec![
        n("page_end", Value::Str(edge)),
        n("u8min", Value::U8(0)),
        n("u8max", Value::U8(255)),
        n("i8min", Value::I8(-128)),
        n("i8max", Value::I8(127)),
        n("u16max", Value::U16(65535)),
        n("i16min", Value::I16(-32768)),
        n("u32max", Value::U32(u32::MAX)),
        n("i32min", Value::I32(i32::MIN)),
        n("u64max", Value::U64(u64::MAX)),
        n("i64min", Value::I64(i64::MIN)),
        n("greeting", Value::Str("Hello NVS".into())),
        t("empty", Value::Str(String::new())),
        t("motto", Value::Str(motto)),
        t("hexed", Value::Blob(vec![0x00, 0xff, 0x10, 0xab])),
        t("b64", Value::Blob(b"Hello".to_vec())),
        t("big", Value::Blob(big)),
        t("last", Value::U32(42)),
    ];
    let theirs = std::fs::read(dir.join("all.bin")).unwrap();
    let ours = nvs::image(&expected, 0x7000).unwrap();
    assert_eq!(compare("every type", &ours, &theirs, &expected), None);
    assert!(
        pages_used(&theirs) >= 4,
        "the string fills a page, the blob spans pages"
    );
}
