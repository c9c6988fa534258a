//! Deterministic zips: entries sorted, a fixed timestamp (1980-01-01 00:00) and fixed modes, so
//! the same executable always gives the same bytes and the same SHA-256 key.

use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::ArtifactError;

/// A packaged artifact and its content address.
#[derive(Debug, Clone)]
pub struct Package {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl Package {
    /// The S3 key of the artifact: the function's name and the zip's SHA-256.
    pub fn key(&self, function: &str) -> String {
        format!("lambda/{function}/{}.zip", self.sha256)
    }
}

/// Zip `(name, contents, executable)` entries deterministically.
pub fn zip(
    label: &str,
    mut entries: Vec<(String, Vec<u8>, bool)>,
) -> Result<Package, ArtifactError> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let err = |e: &dyn std::fmt::Display| ArtifactError::Zip {
        path: label.to_string(),
        detail: e.to_string(),
    };
    let mut writer = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, contents, executable) in &entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(DateTime::default())
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        writer
            .start_file(name.as_str(), options)
            .map_err(|e| err(&e))?;
        writer.write_all(contents).map_err(|e| err(&e))?;
    }
    let bytes = writer.finish().map_err(|e| err(&e))?.into_inner();
    let sha256 = sha256_hex(&bytes);
    Ok(Package { bytes, sha256 })
}

/// The SHA-256 of some bytes in lower-case hex: the content address of artifacts and templates.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The zip of one Lambda `bootstrap` executable.
pub fn lambda_zip(label: &str, bootstrap: Vec<u8>) -> Result<Package, ArtifactError> {
    zip(label, vec![("bootstrap".to_string(), bootstrap, true)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_input_gives_the_same_bytes_and_key() {
        let a = zip(
            "t",
            vec![
                ("b".into(), b"two".to_vec(), false),
                ("a".into(), b"one".to_vec(), true),
            ],
        )
        .unwrap();
        let b = zip(
            "t",
            vec![
                ("a".into(), b"one".to_vec(), true),
                ("b".into(), b"two".to_vec(), false),
            ],
        )
        .unwrap();
        assert_eq!(a.bytes, b.bytes, "entry order must not matter");
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.key("params"), format!("lambda/params/{}.zip", a.sha256));
        let c = zip("t", vec![("a".into(), b"one!".to_vec(), true)]).unwrap();
        assert_ne!(a.sha256, c.sha256);
    }

    #[test]
    fn entries_carry_fixed_times_and_modes() {
        let p = lambda_zip("t", b"\x7fELF...".to_vec()).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(p.bytes)).unwrap();
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let t = entry.last_modified().unwrap();
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (1980, 1, 1, 0, 0)
        );
    }
}
