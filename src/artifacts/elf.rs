//! Checks a `bootstrap` executable before it is uploaded: a 64-bit Linux ELF for the function's
//! architecture that needs no newer glibc than the runtime has.

use object::elf::{FileHeader64, EM_AARCH64, EM_X86_64};
use object::read::elf::FileHeader;
use object::Endianness;

use super::ArtifactError;
use crate::profile::Architecture;

/// glibc of the `provided.al2023` Lambda runtime.
pub const RUNTIME_GLIBC: (u32, u32) = (2, 34);

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    pub architecture: Architecture,
    /// The newest `GLIBC_x.y` symbol version required, if it links glibc at all.
    pub glibc: Option<(u32, u32)>,
}

/// Read the facts of an ELF image.
pub fn inspect(path: &str, data: &[u8]) -> Result<ElfFacts, ArtifactError> {
    let not_elf = |detail: String| ArtifactError::NotElf {
        path: path.to_string(),
        detail,
    };
    let header = FileHeader64::<Endianness>::parse(data).map_err(|e| not_elf(e.to_string()))?;
    let endian = header.endian().map_err(|e| not_elf(e.to_string()))?;
    let architecture = match header.e_machine(endian) {
        EM_AARCH64 => Architecture::Arm64,
        EM_X86_64 => Architecture::X86_64,
        other => {
            return Err(not_elf(format!(
                "machine type {other} is neither x86_64 nor arm64"
            )))
        }
    };
    let sections = header
        .sections(endian, data)
        .map_err(|e| not_elf(e.to_string()))?;
    let mut glibc: Option<(u32, u32)> = None;
    if let Some((mut needs, link)) = sections
        .gnu_verneed(endian, data)
        .map_err(|e| not_elf(e.to_string()))?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(|e| not_elf(e.to_string()))?;
        while let Some((_, mut aux)) = needs.next().map_err(|e| not_elf(e.to_string()))? {
            while let Some(vernaux) = aux.next().map_err(|e| not_elf(e.to_string()))? {
                let name = vernaux
                    .name(endian, strings)
                    .map_err(|e| not_elf(e.to_string()))?;
                if let Some(version) = glibc_version(name) {
                    glibc = glibc.max(Some(version));
                }
            }
        }
    }
    Ok(ElfFacts {
        architecture,
        glibc,
    })
}

/// `GLIBC_2.34` → (2, 34); other version names → None.
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Refuse an executable Lambda could not run.
pub fn check(path: &str, data: &[u8], expected: Architecture) -> Result<ElfFacts, ArtifactError> {
    let facts = inspect(path, data)?;
    if facts.architecture != expected {
        return Err(ArtifactError::WrongArchitecture {
            path: path.to_string(),
            found: facts.architecture.as_str().to_string(),
            expected: expected.as_str().to_string(),
        });
    }
    if let Some(needed) = facts.glibc {
        if needed > RUNTIME_GLIBC {
            return Err(ArtifactError::GlibcTooNew {
                path: path.to_string(),
                needed: format!("{}.{}", needed.0, needed.1),
                available: format!("{}.{}", RUNTIME_GLIBC.0, RUNTIME_GLIBC.1),
            });
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_names_parse() {
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version(b"GCC_3.0"), None);
        assert!(Some((2, 36)) > Some(RUNTIME_GLIBC) && Some((2, 17)) < Some(RUNTIME_GLIBC));
    }

    #[test]
    fn text_is_not_an_executable() {
        let err = inspect("bootstrap", b"#!/bin/sh\necho hi\n").unwrap_err();
        assert!(matches!(err, ArtifactError::NotElf { .. }), "{err}");
    }
}
