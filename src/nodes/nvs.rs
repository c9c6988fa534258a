//! NVS partition images (ESP-IDF non-volatile storage, format version 2): writing them
//! ([`image`]), reading them back ([`decode`]) and the factory partition of an ESP RainMaker
//! node ([`FactoryCreds`]).
//!
//! [`image`] lays entries out exactly as `esp-idf-nvs-partition-gen` 0.3.0 does
//! (`nvs_partition_gen.py generate ... --version 2`, unencrypted), so that for the same entries
//! the two images are byte for byte equal (`tests/suite/nvs.rs` checks it against the PyPI
//! tool). [`decode`] was written from ESP-IDF's format (`nvs_flash/src/nvs_page.cpp`,
//! `nvs_types.hpp`, `nvs_partition_tool/nvs_parser.py`), not from the generator, and checks
//! every CRC, so it is an independent check of both.
//!
//! # Layout
//!
//! All integers are little-endian. A partition is a run of 4096-byte pages; the last page is
//! left erased (0xFF) for NVS to use when it moves entries. A page:
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 4 | state: 0xFFFFFFFF empty, 0xFFFFFFFE active, 0xFFFFFFFC full |
//! | 4 | 4 | sequence number (0, 1, 2 ... in the order the pages were filled) |
//! | 8 | 1 | format version: 0xFE is version 2 (multi-page blobs), 0xFF version 1 |
//! | 9 | 19 | reserved, 0xFF |
//! | 28 | 4 | CRC-32 of bytes 4..28 |
//! | 32 | 32 | entry state bitmap: 2 bits an entry, 0b11 empty, 0b10 written, 0b00 erased |
//! | 64 | 126 × 32 | entries |
//!
//! An entry (item header):
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 1 | namespace index (0 for a namespace definition) |
//! | 1 | 1 | type: u8 0x01, i8 0x11, u16 0x02, i16 0x12, u32 0x04, i32 0x14, u64 0x08, i64 0x18, string 0x21, blob (v1) 0x41, blob data 0x42, blob index 0x48 |
//! | 2 | 1 | span: entries used, this one included |
//! | 3 | 1 | chunk index (blob data), else 0xFF |
//! | 4 | 4 | CRC-32 of bytes 0..4 and 8..32 |
//! | 8 | 16 | key, NUL-terminated (at most 15 bytes) |
//! | 24 | 8 | a number, padded with 0xFF; or, for strings and blob data, size u16, 0xFFFF, CRC-32 of the data; or, for a blob index, total size u32, chunk count u8, first chunk index u8, 0xFFFF |
//!
//! Strings (with their NUL) and blob data follow their header in the next `span - 1` entries,
//! the last one padded with 0xFF. A namespace is an entry in namespace 0 of type u8 whose key
//! is its name and whose value its index (1 to 254). A version-2 blob is split into
//! `BLOB_DATA` chunks, one a page at most, followed by a `BLOB_IDX` entry. CRC-32 is zlib's
//! `crc32(data, 0xFFFFFFFF)` (ESP-IDF's `esp_rom_crc32_le(0xFFFFFFFF, ...)`).

mod decode;
mod error;
mod factory;
mod write;

use std::fmt;

use sha2::{Digest, Sha256};

pub use decode::decode;
pub use error::{DecodeError, WriteError};
pub use factory::{
    FactoryCreds, FACTORY_NAMESPACE, FACTORY_PARTITION, FACTORY_PARTITION_SIZE, RANDOM_LEN,
};
pub use write::image;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;
/// Bytes in an entry.
pub const ENTRY_SIZE: usize = 32;
/// Entries in a page, after its header and entry state bitmap.
pub const ENTRIES_PER_PAGE: usize = 126;
/// The longest key or namespace name, in bytes (16 with the NUL).
pub const MAX_KEY_LEN: usize = 15;
/// Namespace indexes run from 1 to 254 (255 means "any" in ESP-IDF).
pub const MAX_NAMESPACES: usize = 254;
/// The longest string, in bytes with its NUL: one page of data entries (125 × 32).
pub const MAX_STRING_LEN: usize = 4000;
/// The smallest read-write partition: two pages of data and the page NVS keeps free.
pub const MIN_PARTITION_SIZE: usize = 3 * PAGE_SIZE;

const FIRST_ENTRY: usize = 64;
const VERSION_2: u8 = 0xFE;
const VERSION_1: u8 = 0xFF;
const STATE_EMPTY: u32 = 0xFFFF_FFFF;
const STATE_ACTIVE: u32 = 0xFFFF_FFFE;
const STATE_FULL: u32 = 0xFFFF_FFFC;
const CHUNK_ANY: u8 = 0xFF;
const TYPE_STRING: u8 = 0x21;
const TYPE_BLOB_V1: u8 = 0x41;
const TYPE_BLOB_DATA: u8 = 0x42;
const TYPE_BLOB_INDEX: u8 = 0x48;

/// A value of an NVS entry.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    /// Stored with a NUL, which it must not contain (`nvs_get_str`).
    Str(String),
    /// Stored as is (`nvs_get_blob`).
    Blob(Vec<u8>),
}

impl Value {
    /// The type's name, as the generator's CSV spells the primitive ones.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::I8(_) => "i8",
            Value::U16(_) => "u16",
            Value::I16(_) => "i16",
            Value::U32(_) => "u32",
            Value::I32(_) => "i32",
            Value::U64(_) => "u64",
            Value::I64(_) => "i64",
            Value::Str(_) => "string",
            Value::Blob(_) => "blob",
        }
    }

    /// A number's type code and its 8 data bytes (little-endian, padded with 0xFF).
    fn primitive(&self) -> Option<(u8, [u8; 8])> {
        let (code, bytes): (u8, Vec<u8>) = match self {
            Value::U8(v) => (0x01, v.to_le_bytes().to_vec()),
            Value::I8(v) => (0x11, v.to_le_bytes().to_vec()),
            Value::U16(v) => (0x02, v.to_le_bytes().to_vec()),
            Value::I16(v) => (0x12, v.to_le_bytes().to_vec()),
            Value::U32(v) => (0x04, v.to_le_bytes().to_vec()),
            Value::I32(v) => (0x14, v.to_le_bytes().to_vec()),
            Value::U64(v) => (0x08, v.to_le_bytes().to_vec()),
            Value::I64(v) => (0x18, v.to_le_bytes().to_vec()),
            Value::Str(_) | Value::Blob(_) => return None,
        };
        let mut data = [0xFF; 8];
        data[..bytes.len()].copy_from_slice(&bytes);
        Some((code, data))
    }

    /// The number of type `code` in `data`, for the primitive types.
    fn from_primitive(code: u8, data: &[u8]) -> Option<Value> {
        let le = |n: usize| {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&data[..n]);
            u64::from_le_bytes(b)
        };
        Some(match code {
            0x01 => Value::U8(data[0]),
            0x11 => Value::I8(data[0] as i8),
            0x02 => Value::U16(le(2) as u16),
            0x12 => Value::I16(le(2) as u16 as i16),
            0x04 => Value::U32(le(4) as u32),
            0x14 => Value::I32(le(4) as u32 as i32),
            0x08 => Value::U64(le(8)),
            0x18 => Value::I64(le(8) as i64),
            _ => return None,
        })
    }
}

/// Blobs hold keys and certificates: shown by length and digest, never by content.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Blob(b) => {
                let digest: String = Sha256::digest(b)[..8]
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect();
                write!(f, "Blob({} bytes, sha256 {digest}…)", b.len())
            }
            Value::Str(s) => write!(f, "Str({s:?})"),
            Value::U8(v) => write!(f, "U8({v})"),
            Value::I8(v) => write!(f, "I8({v})"),
            Value::U16(v) => write!(f, "U16({v})"),
            Value::I16(v) => write!(f, "I16({v})"),
            Value::U32(v) => write!(f, "U32({v})"),
            Value::I32(v) => write!(f, "I32({v})"),
            Value::U64(v) => write!(f, "U64({v})"),
            Value::I64(v) => write!(f, "I64({v})"),
        }
    }
}

/// One key of a namespace and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub namespace: String,
    pub key: String,
    pub value: Value,
}

impl Entry {
    pub fn new(namespace: impl Into<String>, key: impl Into<String>, value: Value) -> Entry {
        Entry {
            namespace: namespace.into(),
            key: key.into(),
            value,
        }
    }
}

/// CRC-32 as NVS computes it: zlib's `crc32(data, 0xFFFFFFFF)`.
fn crc32(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The CRC of an entry header: over bytes 0..4 and 8..32.
fn entry_crc(entry: &[u8]) -> u32 {
    let mut covered = [0u8; 28];
    covered[..4].copy_from_slice(&entry[..4]);
    covered[4..].copy_from_slice(&entry[8..32]);
    crc32(&covered)
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs_with_the_nvs_seed() {
        // python3 -c "import zlib; print(hex(zlib.crc32(b'123456789', 0xFFFFFFFF)))"
        assert_eq!(crc32(b"123456789"), 0xd202_d277);
        assert_eq!(crc32(b""), 0xFFFF_FFFF);
    }

    #[test]
    fn numbers_round_trip_through_their_entry_bytes() {
        for v in [
            Value::U8(0xAB),
            Value::I8(-128),
            Value::U16(0xBEEF),
            Value::I16(-2),
            Value::U32(u32::MAX),
            Value::I32(i32::MIN),
            Value::U64(u64::MAX - 1),
            Value::I64(i64::MIN),
        ] {
            let (code, data) = v.primitive().unwrap();
            assert_eq!(Value::from_primitive(code, &data), Some(v));
        }
        assert_eq!(Value::U8(1).primitive().unwrap().1[1..], [0xFF; 7]);
    }

    #[test]
    fn debug_never_shows_blob_content() {
        let shown = format!("{:?}", Value::Blob(b"-----BEGIN PRIVATE KEY-----".to_vec()));
        assert!(shown.starts_with("Blob(27 bytes, sha256 "), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}
