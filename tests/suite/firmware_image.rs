//! The ESP32 application image parser (`rmdeploy::firmware::image`): the generated sample in
//! device-fw/, a table of corrupted variants with the defect each must report, agreement with
//! `esptool image-info` (esptool 5.6.0 from scripts/python-tools) on all of them, and a short
//! fuzz run.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use rmdeploy::firmware::image::{
    self, chip_name, parse, AppDesc, Defect, Image, Part, Segment, MAGIC, MAX_SEGMENTS,
};
use sha2::{Digest, Sha256};

const SAMPLE: &str = "device-fw/sample-light-esp32c3.bin";
/// The real firmware: device-fw/light/ built by its build.sh.
const FIRMWARE: &str = "device-fw/light-esp32c3.bin";

fn sample() -> Vec<u8> {
    std::fs::read(crate::support::root().join(SAMPLE)).expect("the sample image is in device-fw/")
}

fn sample_image() -> Image {
    parse(&sample()).expect("the sample parses")
}

/// The 24-byte header and the segments (load address, data) of an image that parses.
fn parts(bytes: &[u8]) -> ([u8; 24], Vec<(u32, Vec<u8>)>) {
    let img = parse(bytes).expect("image parses");
    let header = bytes[..24].try_into().unwrap();
    let segments = img
        .segments
        .iter()
        .map(|s| {
            (
                s.load_address,
                bytes[s.offset..s.offset + s.length].to_vec(),
            )
        })
        .collect();
    (header, segments)
}

/// An image from a header and segments: the count in the header is set from `segments`, then
/// padding, the right checksum and, when the header's byte 23 is 1, the right SHA-256.
fn assemble(header: [u8; 24], segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = header.to_vec();
    out[1] = u8::try_from(segments.len()).unwrap();
    let mut checksum = 0xEF;
    for (address, data) in segments {
        out.extend(address.to_le_bytes());
        out.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
        out.extend(data);
        checksum = data.iter().fold(checksum, |acc, b| acc ^ b);
    }
    out.resize(out.len() + 15 - out.len() % 16, 0);
    out.push(checksum);
    if out[23] == 1 {
        let hash = Sha256::digest(&out);
        out.extend(hash);
    }
    out
}

/// Recompute the checksum and the appended hash of an image whose structure (header and
/// segment headers) is intact, after editing its bytes: the edit is then its only defect.
/// `None` when the structure does not hold.
fn try_reseal(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    let mut pos = 24;
    let mut checksum = 0xEF;
    for _ in 0..*bytes.get(1)? {
        let len = u32::from_le_bytes(bytes.get(pos + 4..pos + 8)?.try_into().ok()?);
        pos += 8;
        let data = bytes.get(pos..pos.checked_add(usize::try_from(len).ok()?)?)?;
        checksum = data.iter().fold(checksum, |acc, b| acc ^ b);
        pos += data.len();
    }
    let checksum_offset = pos + 15 - pos % 16;
    *bytes.get_mut(checksum_offset)? = checksum;
    if bytes[23] == 1 {
        let end = checksum_offset + 1;
        let hash = Sha256::digest(&bytes[..end]);
        bytes.get_mut(end..end + 32)?.copy_from_slice(&hash);
    }
    Some(bytes)
}

fn reseal(bytes: Vec<u8>) -> Vec<u8> {
    try_reseal(bytes).expect("the edited image keeps its structure")
}

fn edited(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    edit(&mut bytes);
    bytes
}

fn put_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn sample_parses() {
    let bytes = sample();
    let img = parse(&bytes).unwrap_or_else(|e| panic!("{SAMPLE}: {e}"));
    assert_eq!(img.chip_id, 5);
    assert_eq!(chip_name(img.chip_id), Some("esp32c3"));
    assert_eq!(img.chip_name(), "esp32c3");
    assert_eq!(img.entry, 0x4038_0080);
    assert_eq!(
        img.segments,
        [
            Segment {
                load_address: 0x3C00_0020,
                offset: 0x20,
                length: 0x180
            },
            Segment {
                load_address: 0x4038_0000,
                offset: 0x1A8,
                length: 0x600
            },
        ]
    );
    let entry_segment = &img.segments[1];
    assert!(
        (entry_segment.load_address..entry_segment.load_address + entry_segment.length as u32)
            .contains(&img.entry)
    );
    assert!(img.hash_appended);
    assert_eq!(
        img.sha256.unwrap().as_slice(),
        &bytes[bytes.len() - 32..],
        "the stored hash"
    );
    assert_eq!(img.checksum, bytes[bytes.len() - 33]);
    assert_eq!(img.size, bytes.len());
    assert_eq!(
        img.app,
        AppDesc {
            secure_version: 0,
            version: "1.2.0".into(),
            project_name: "light".into(),
            time: "12:00:00".into(),
            date: "Jan  1 2025".into(),
            idf_ver: "v5.3".into(),
        }
    );
}

/// device-fw/make-sample.py reproduces the committed sample byte for byte.
#[test]
fn sample_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.bin");
    let run = Command::new(crate::support::python_tools().join("python"))
        .arg(crate::support::root().join("device-fw/make-sample.py"))
        .arg(&out)
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "make-sample.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == sample(),
        "device-fw/make-sample.py writes different bytes from {SAMPLE}: run it and keep its output"
    );
}

/// A variant of the sample and what `parse` must say about it.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// `Ok(())` when the image is valid, else the exact defect.
    expect: Result<(), Defect>,
    /// Text the defect's message must contain (offsets and values).
    mentions: Vec<String>,
}

fn ok(name: &'static str, bytes: Vec<u8>) -> Case {
    Case {
        name,
        bytes,
        expect: Ok(()),
        mentions: vec![],
    }
}

fn bad(name: &'static str, bytes: Vec<u8>, defect: Defect, mentions: &[&str]) -> Case {
    Case {
        name,
        bytes,
        expect: Err(defect),
        mentions: mentions.iter().map(|s| s.to_string()).collect(),
    }
}

/// The sample and its variants. Offsets are the sample's: header 0..0x18, segment 0 header at
/// 0x18 and data 0x20..0x1a0 (the app descriptor first), segment 1 header at 0x1a0 and data
/// 0x1a8..0x7a8, padding, checksum at 0x7af, SHA-256 at 0x7b0..0x7d0 (2000 bytes).
fn cases() -> Vec<Case> {
    let s = sample();
    let img = sample_image();
    let len = s.len();
    let checksum_at = img.size - 33;
    let hash_at = img.size - 32;
    assert_eq!((checksum_at, hash_at, len), (0x7AF, 0x7B0, 2000));
    let (header, segments) = parts(&s);
    let cut = |n: usize| s[..n].to_vec();
    let truncated = |part, offset, file_len| Defect::Truncated {
        part,
        offset,
        file_len,
    };

    let mut cases = vec![
        ok("sample", s.clone()),
        // Truncations, from nothing to the last byte of the hash.
        bad(
            "empty",
            vec![],
            Defect::TooShort { len: 0 },
            &["0 bytes", "24"],
        ),
        bad(
            "cut at 10",
            cut(10),
            Defect::TooShort { len: 10 },
            &["10 bytes", "24 bytes"],
        ),
        bad(
            "cut after the header",
            cut(24),
            truncated(Part::SegmentHeader { index: 0 }, 0x18, 24),
            &[
                "8-byte header of segment 0",
                "offset 0x18",
                "ends at offset 0x18",
            ],
        ),
        bad(
            "cut in segment 0 header",
            cut(30),
            truncated(Part::SegmentHeader { index: 0 }, 0x18, 30),
            &[
                "8-byte header of segment 0",
                "offset 0x18",
                "ends at offset 0x1e",
            ],
        ),
        bad(
            "cut in segment 0 data",
            cut(100),
            Defect::SegmentOutOfBounds {
                index: 0,
                offset: 0x20,
                length: 0x180,
                file_len: 100,
            },
            &[
                "segment 0",
                "384 bytes",
                "offset 0x20",
                "ends at offset 0x64",
            ],
        ),
        bad(
            "cut in segment 1 header",
            cut(0x1A4),
            truncated(Part::SegmentHeader { index: 1 }, 0x1A0, 0x1A4),
            &[
                "8-byte header of segment 1",
                "offset 0x1a0",
                "ends at offset 0x1a4",
            ],
        ),
        bad(
            "cut in segment 1 data",
            cut(1000),
            Defect::SegmentOutOfBounds {
                index: 1,
                offset: 0x1A8,
                length: 0x600,
                file_len: 1000,
            },
            &[
                "segment 1",
                "1536 bytes",
                "offset 0x1a8",
                "ends at offset 0x3e8",
            ],
        ),
        bad(
            "cut after the segments",
            cut(0x7A8),
            truncated(Part::Checksum, checksum_at, 0x7A8),
            &["checksum byte", "offset 0x7af", "ends at offset 0x7a8"],
        ),
        bad(
            "cut before the checksum",
            cut(checksum_at),
            truncated(Part::Checksum, checksum_at, checksum_at),
            &["checksum byte", "offset 0x7af", "ends at offset 0x7af"],
        ),
        bad(
            "cut in the hash",
            cut(len - 10),
            truncated(Part::Hash, hash_at, len - 10),
            &[
                "32-byte appended SHA-256",
                "offset 0x7b0",
                "ends at offset 0x7c6",
            ],
        ),
        bad(
            "cut before the last byte",
            cut(len - 1),
            truncated(Part::Hash, hash_at, len - 1),
            &[
                "32-byte appended SHA-256",
                "offset 0x7b0",
                "ends at offset 0x7cf",
            ],
        ),
        // A flipped data byte breaks both the checksum and the hash (nothing is recomputed):
        // the checksum, earlier in the file, is the defect reported.
        bad(
            "flipped byte in segment 1",
            edited(&s, |b| b[0x300] ^= 0x01),
            Defect::BadChecksum {
                offset: checksum_at,
                expected: img.checksum ^ 0x01,
                found: img.checksum,
            },
            &[
                "bad checksum",
                "offset 0x7af",
                &format!("{:#04x}", img.checksum),
                &format!("{:#04x}", img.checksum ^ 0x01),
            ],
        ),
        // Also in the app descriptor's magic: the checksum is checked before the descriptor.
        bad(
            "flipped byte in the app descriptor magic",
            edited(&s, |b| b[0x20] ^= 0xFF),
            Defect::BadChecksum {
                offset: checksum_at,
                expected: img.checksum ^ 0xFF,
                found: img.checksum,
            },
            &["bad checksum", "offset 0x7af"],
        ),
        bad(
            "bad magic",
            edited(&s, |b| b[0] = 0xE8),
            Defect::BadMagic { found: 0xE8 },
            &["byte 0 is 0xe8", "0xe9"],
        ),
        bad(
            "flipped byte of the appended hash",
            edited(&s, |b| b[len - 5] ^= 0xFF),
            Defect::BadHash {
                offset: hash_at,
                expected: img.sha256.unwrap(),
                found: edited(&s, |b| b[len - 5] ^= 0xFF)[hash_at..]
                    .try_into()
                    .unwrap(),
            },
            &[
                "bad appended SHA-256",
                "offset 0x7b0",
                "first 1968 bytes",
                &hex(&img.sha256.unwrap()),
            ],
        ),
        bad(
            "segment count 17",
            edited(&s, |b| b[1] = 17),
            Defect::TooManySegments { count: 17 },
            &["segment count 17", "offset 0x1", "at most 16"],
        ),
        bad(
            "segment count 255",
            edited(&s, |b| b[1] = 255),
            Defect::TooManySegments { count: 255 },
            &["segment count 255", "at most 16"],
        ),
        bad(
            "segment 1 length past the end",
            edited(&s, |b| put_u32(b, 0x1A4, 0x10000)),
            Defect::SegmentOutOfBounds {
                index: 1,
                offset: 0x1A8,
                length: 0x10000,
                file_len: len,
            },
            &[
                "segment 1",
                "65536 bytes",
                "offset 0x1a8",
                "ends at offset 0x7d0",
            ],
        ),
        bad(
            "segment 0 length u32::MAX",
            edited(&s, |b| put_u32(b, 0x1C, u32::MAX)),
            Defect::SegmentOutOfBounds {
                index: 0,
                offset: 0x20,
                length: u32::MAX as usize,
                file_len: len,
            },
            &["segment 0", "4294967295 bytes", "offset 0x20"],
        ),
        bad(
            "no app descriptor magic (checksum and hash recomputed)",
            reseal(edited(&s, |b| put_u32(b, 0x20, 0xDEADBEEF))),
            Defect::NoAppDescriptor { found: 0xDEADBEEF },
            &["offset 0x20", "0xdeadbeef", "0xabcd5432"],
        ),
        bad(
            "unknown chip id 99",
            edited(&s, |b| b[12] = 99),
            Defect::UnknownChip { id: 99 },
            &["chip id 99", "offset 0xc", "5 (esp32c3)"],
        ),
        // esptool detects the chip from the low byte (5) and prints "Chip ID: 261 (Unknown ID)";
        // the bootloader compares the whole u16, and so does `parse`.
        bad(
            "unknown chip id 0x0105 (hash recomputed)",
            reseal(edited(&s, |b| b[13] = 1)),
            Defect::UnknownChip { id: 0x0105 },
            &["chip id 261", "0x0105", "offset 0xc"],
        ),
        bad(
            "hash_appended 2",
            edited(&s, |b| b[23] = 2),
            Defect::BadHashFlag { found: 2 },
            &["offset 0x17", "0x02", "0x00 or 0x01"],
        ),
        bad(
            "version not UTF-8 (checksum and hash recomputed)",
            reseal(edited(&s, |b| b[0x30] = 0xFF)),
            Defect::AppStringNotUtf8 {
                field: "version",
                offset: 0x30,
            },
            &["version", "offset 0x30", "UTF-8"],
        ),
        // Built from the sample's parts, with the right checksum and hash.
        bad(
            "17 segments",
            assemble(
                header,
                &[segments.clone(), vec![(0x3FC8_0000, vec![0; 4]); 15]].concat(),
            ),
            Defect::TooManySegments { count: 17 },
            &["segment count 17"],
        ),
        bad(
            "no segments",
            assemble(header, &[]),
            Defect::NoSegments,
            &["no segments", "offset 0x20"],
        ),
        bad(
            "segment 0 shorter than the app descriptor",
            assemble(header, &[(segments[0].0, segments[0].1[..200].to_vec())]),
            Defect::AppDescriptorCut { length: 200 },
            &["200 bytes", "offset 0x20", "256-byte"],
        ),
        // Valid variants: what esptool does not check, `parse` does not either.
        ok("trailing data", [s.clone(), vec![0xFF; 100]].concat()),
        ok(
            "segment length not a multiple of 4",
            assemble(
                header,
                &[
                    segments[0].clone(),
                    (segments[1].0, segments[1].1[..0x5FF].to_vec()),
                ],
            ),
        ),
        ok(
            "non-zero padding (checksum and hash recomputed)",
            reseal(edited(&s, |b| b[0x7A8..checksum_at].fill(0xA5))),
        ),
        ok("no hash appended", {
            let mut h = header;
            h[23] = 0;
            assemble(h, &segments)
        }),
        ok(
            "16 segments",
            assemble(
                header,
                &[segments.clone(), vec![(0x3FC8_0000, vec![1, 2, 3, 4]); 14]].concat(),
            ),
        ),
    ];
    // The sample's hash is part of it; a reseal of the sample changes nothing.
    assert_eq!(reseal(s.clone()), s);
    cases.extend(esp_hal_cases());
    cases
}

/// The real esp-hal firmware (device-fw/light/), as built, and damaged where a transfer or a bad
/// build would damage it: a flipped byte in its code (IROM) segment, a cut in the hash.
fn esp_hal_cases() -> Vec<Case> {
    let fw = std::fs::read(crate::support::root().join(FIRMWARE))
        .expect("the firmware is in device-fw/");
    let img = parse(&fw).unwrap_or_else(|e| panic!("{FIRMWARE}: {e}"));
    let checksum_at = img.size - 33;
    let code = img.segments.last().expect("segments").offset + 0x100;
    let mut flipped = fw.clone();
    flipped[code] ^= 0xFF;
    let len = fw.len();
    vec![
        ok("esp-hal firmware", fw.clone()),
        bad(
            "esp-hal firmware, flipped code byte",
            flipped,
            Defect::BadChecksum {
                offset: checksum_at,
                expected: fw[checksum_at] ^ 0xFF,
                found: fw[checksum_at],
            },
            &["checksum"],
        ),
        bad(
            "esp-hal firmware, hash cut",
            fw[..len - 5].to_vec(),
            Defect::Truncated {
                part: Part::Hash,
                offset: len - 32,
                file_len: len - 5,
            },
            &["SHA-256"],
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn corrupted_images_report_their_defect() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = parse(&case.bytes);
        match (&case.expect, &got) {
            (Ok(()), Ok(img)) => {
                if img.size > case.bytes.len() {
                    failures.push(format!("{}: size {} past the end", case.name, img.size));
                }
            }
            (Err(want), Err(defect)) if want == defect => {
                let message = defect.to_string();
                for text in &case.mentions {
                    if !message.contains(text.as_str()) {
                        failures.push(format!(
                            "{}: message does not mention {text:?}: {message}",
                            case.name
                        ));
                    }
                }
            }
            _ => failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.expect, got
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// What `esptool image-info` makes of a file.
struct EsptoolReport {
    /// A valid application image: esptool exits 0 without an error; the checksum is valid; the
    /// appended hash, when there is one, is valid; the chip id is known (not "Unknown ID"); and
    /// it found the application descriptor ("Application Information").
    valid: bool,
    output: String,
}

impl EsptoolReport {
    /// The value of a `Key: value` line.
    fn field(&self, key: &str) -> Option<&str> {
        self.output
            .lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    }
}

fn esptool_image_info(esptool: &Path, file: &Path) -> EsptoolReport {
    let out = Command::new(esptool)
        .arg("image-info")
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .expect("esptool runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = EsptoolReport {
        valid: false,
        output,
    };
    let checksum_valid = report
        .field("Checksum")
        .is_some_and(|v| v.ends_with("(valid)"));
    let hash_valid = report
        .field("Validation hash")
        .is_none_or(|v| v.ends_with("(valid)"));
    let chip_known = report
        .field("Chip ID")
        .is_some_and(|v| !v.contains("Unknown"));
    let app_desc = report
        .output
        .lines()
        .any(|l| l.trim() == "Application Information");
    let failed = report.output.contains("ERROR") || report.output.contains("Traceback");
    report.valid =
        out.status.success() && !failed && checksum_valid && hash_valid && chip_known && app_desc;
    report
}

/// `parse` accepts exactly the variants esptool judges valid, and reads the same values.
#[test]
fn agrees_with_esptool() {
    let esptool = crate::support::python_tools().join("esptool");
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    // One esptool per case, in parallel (each takes a few hundred milliseconds).
    let reports: Vec<EsptoolReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let file = dir.path().join(format!("case-{i}.bin"));
                std::fs::write(&file, &case.bytes).unwrap();
                let esptool = &esptool;
                scope.spawn(move || esptool_image_info(esptool, &file))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut failures = Vec::new();
    for (case, report) in cases.iter().zip(&reports) {
        let parsed = parse(&case.bytes);
        if parsed.is_ok() != report.valid {
            failures.push(format!(
                "{}: parse says {:?}, esptool says {}:\n{}",
                case.name,
                parsed.as_ref().map(|_| "valid").map_err(|e| e.to_string()),
                if report.valid { "valid" } else { "invalid" },
                report.output
            ));
            continue;
        }
        let Ok(img) = parsed else { continue };
        let want = [
            ("Project name", img.app.project_name.clone()),
            ("App version", img.app.version.clone()),
            ("ESP-IDF", img.app.idf_ver.clone()),
            ("Compile time", format!("{} {}", img.app.date, img.app.time)),
            ("Segments", img.segments.len().to_string()),
            ("Secure version", img.app.secure_version.to_string()),
            (
                "Chip ID",
                format!("{} ({})", img.chip_id, esptool_chip_name(img.chip_name())),
            ),
        ];
        for (key, value) in want {
            if report.field(key) != Some(value.as_str()) {
                failures.push(format!(
                    "{}: esptool's {key:?} is {:?}, parse read {value:?}",
                    case.name,
                    report.field(key)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// esptool's spelling of a chip name: "esp32c3" is "ESP32-C3", "esp32" is "ESP32".
fn esptool_chip_name(name: &str) -> String {
    match name.to_uppercase().strip_prefix("ESP32") {
        Some("") => "ESP32".to_string(),
        Some(variant) => format!("ESP32-{variant}"),
        None => name.to_uppercase(),
    }
}

/// What must hold of any image `parse` accepts.
fn check_sane(bytes: &[u8]) {
    match parse(bytes) {
        Ok(img) => {
            assert!(
                img.size <= bytes.len(),
                "size {} > {}",
                img.size,
                bytes.len()
            );
            assert_eq!(
                img.size % 16,
                0,
                "the checksum (and hash) end a 16-byte block"
            );
            assert!((1..=MAX_SEGMENTS).contains(&img.segments.len()));
            let mut end = 24;
            for s in &img.segments {
                assert_eq!(s.offset, end + 8, "segments follow each other");
                end = s.offset.checked_add(s.length).expect("no overflow");
                assert!(end < img.size, "segment data inside the image");
            }
            assert!(chip_name(img.chip_id).is_some());
            assert_eq!(img.sha256.is_some(), img.hash_appended);
            assert!(img.segments[0].length >= image::APP_DESC_LEN);
            assert_eq!(
                parse(&bytes[..img.size]).as_ref(),
                Ok(&img),
                "data after the image does not matter"
            );
        }
        Err(defect) => {
            assert!(!defect.to_string().is_empty());
        }
    }
}

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // No proptest-regressions/ files in the repository.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes that get past the header checks: the magic, a segment count up to 17, a known chip
/// id, a valid hash_appended byte, then anything.
fn header_shaped() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..=17,
        prop::sample::select(vec![0u16, 2, 5, 9, 12, 13, 16, 18, 23]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..1024),
    )
        .prop_map(|(count, chip, hash, rest)| {
            let mut bytes = vec![0; 24];
            bytes[0] = MAGIC;
            bytes[1] = count;
            bytes[12..14].copy_from_slice(&chip.to_le_bytes());
            bytes[23] = u8::from(hash);
            bytes.extend(rest);
            bytes
        })
}

proptest! {
    #![proptest_config(fuzz_config(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        check_sane(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_sample(
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
        reseal_it in any::<bool>(),
    ) {
        let mut bytes = sample();
        for (at, value) in mutations {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if reseal_it {
            // Fix the checksum and hash when the structure survived, to get past them.
            if let Some(resealed) = try_reseal(bytes.clone()) {
                bytes = resealed;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check_sane(&bytes);
    }
}

/// Well-formed images of up to 17 segments (small, at random addresses), often starting with
/// the sample's app descriptor segment, for a known chip; then sometimes a random byte
/// changed and a random cut: these reach the segment, checksum, hash and descriptor checks.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    let address = prop_oneof![Just(0u32), Just(0x3C00_0020), any::<u32>()];
    (
        any::<bool>(),
        prop::collection::vec((address, prop::collection::vec(any::<u8>(), 0..48)), 0..=17),
        prop::sample::select(vec![0u16, 2, 5, 9, 12, 13, 16, 18, 23]),
        any::<bool>(),
        prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(app_desc, mut segments, chip, hash, change, cut)| {
            let (mut header, sample_segments) = parts(&sample());
            if app_desc {
                segments.insert(0, sample_segments[0].clone());
                segments.truncate(17);
            }
            header[12..14].copy_from_slice(&chip.to_le_bytes());
            header[23] = u8::from(hash);
            let mut bytes = assemble(header, &segments);
            if let Some((at, value)) = change {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(fuzz_config(1000))]

    #[test]
    fn parse_never_panics_on_header_shaped_bytes(bytes in header_shaped()) {
        check_sane(&bytes);
    }

    #[test]
    fn parse_never_panics_on_structured_images(bytes in structured()) {
        check_sane(&bytes);
    }
}
