//! Why an NVS image cannot be written ([`WriteError`]) or read ([`DecodeError`]).

use super::{MAX_KEY_LEN, MAX_NAMESPACES, MAX_STRING_LEN, MIN_PARTITION_SIZE, PAGE_SIZE};

/// Chunk indexes of a version-2 blob run from 0 to 127 (ESP-IDF's `VerOffset`).
pub(super) const MAX_CHUNKS: usize = 128;

/// Why entries cannot be written as an NVS image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum WriteError {
    #[error("NVS partition size {size:#x} is not a multiple of the 4096-byte page")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::size),
        help(
            "give the size of the partition table entry, a multiple of 0x1000 (0x6000 for fctry)"
        )
    )]
    SizeNotPageMultiple { size: usize },

    #[error("NVS partition size {size:#x} is below the minimum of {MIN_PARTITION_SIZE:#x}")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::size),
        help("a read-write NVS partition needs three pages (0x3000 bytes); use 0x6000 for fctry")
    )]
    SizeTooSmall { size: usize },

    #[error("NVS key `{namespace}:{key}` is {len} bytes long; keys are at most {MAX_KEY_LEN}")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::key),
        help("shorten the key to 15 bytes or fewer")
    )]
    KeyTooLong {
        namespace: String,
        key: String,
        len: usize,
    },

    #[error("NVS namespace `{namespace}` is {len} bytes long; names are at most {MAX_KEY_LEN}")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::namespace),
        help("shorten the namespace name to 15 bytes or fewer")
    )]
    NamespaceTooLong { namespace: String, len: usize },

    #[error("NVS name `{namespace}:{key}` is empty or holds a NUL byte")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::key),
        help("namespaces and keys are 1 to 15 bytes, none of them NUL")
    )]
    BadName { namespace: String, key: String },

    #[error("more than {MAX_NAMESPACES} NVS namespaces: `{namespace}` would be one too many")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::namespaces),
        help("an NVS partition holds at most 254 namespaces; put more keys in fewer namespaces")
    )]
    TooManyNamespaces { namespace: String },

    #[error(
        "NVS string `{namespace}:{key}` is {len} bytes with its NUL; at most {MAX_STRING_LEN}"
    )]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::string),
        help("store longer values as a blob")
    )]
    StringTooLong {
        namespace: String,
        key: String,
        len: usize,
    },

    #[error("NVS string `{namespace}:{key}` holds a NUL byte, where the device would cut it")]
    #[diagnostic(code(rmdeploy::nodes::nvs::string), help("store it as a blob"))]
    StringHasNul { namespace: String, key: String },

    #[error("NVS blob `{namespace}:{key}` ({len} bytes) needs more than {MAX_CHUNKS} chunks")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::blob),
        help("a version-2 blob spans at most 128 pages; split the value")
    )]
    BlobTooLarge {
        namespace: String,
        key: String,
        len: usize,
    },

    #[error("the NVS entries do not fit a {size:#x}-byte partition: `{namespace}:{key}` is past its end")]
    #[diagnostic(
        code(rmdeploy::nodes::nvs::full),
        help(
            "the last page stays free for NVS, so {size:#x} bytes hold {} pages of entries; \
             give a larger partition (a multiple of 0x1000) or smaller values",
            size / PAGE_SIZE - 1
        )
    )]
    DoesNotFit {
        namespace: String,
        key: String,
        size: usize,
    },
}

/// Why bytes are not a sound NVS image. Offsets are from the start of the image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[diagnostic(
    code(rmdeploy::nodes::nvs::decode),
    help("the image is corrupt or not an NVS partition: generate it again")
)]
pub enum DecodeError {
    #[error("an NVS image is whole 4096-byte pages, but this one is {len} bytes")]
    NotPageAligned { len: usize },
    #[error("page at {offset:#x}: state {state:#010x} is not empty, active or full")]
    BadPageState { offset: usize, state: u32 },
    #[error("page at {offset:#x} is marked empty but is not erased")]
    EmptyPageNotErased { offset: usize },
    #[error("page at {offset:#x}: header CRC mismatch")]
    BadPageCrc { offset: usize },
    #[error("page at {offset:#x}: format version byte {version:#04x} (0xfe or 0xff expected)")]
    BadVersion { offset: usize, version: u8 },
    #[error("two pages have sequence number {seq}")]
    DuplicateSequence { seq: u32 },
    #[error("entry at {offset:#x}: {problem}")]
    BadEntry {
        offset: usize,
        problem: &'static str,
    },
    #[error("entry at {offset:#x} (`{key}`): data CRC mismatch")]
    BadDataCrc { offset: usize, key: String },
    #[error("key `{key}` uses namespace index {index}, which no namespace entry defines")]
    UnknownNamespace { index: u8, key: String },
    #[error("namespace `{name}` or its index {index} is defined twice")]
    DuplicateNamespace { name: String, index: u8 },
    #[error("`{namespace}:{key}` is written twice")]
    DuplicateKey { namespace: String, key: String },
    #[error("blob `{namespace}:{key}`: chunk {chunk} is missing")]
    MissingChunk {
        namespace: String,
        key: String,
        chunk: u8,
    },
    #[error("blob `{namespace}:{key}`: its index says {expected} bytes, its chunks hold {found}")]
    BlobSizeMismatch {
        namespace: String,
        key: String,
        expected: usize,
        found: usize,
    },
    #[error("blob data `{key}` (namespace index {index}, chunk {chunk}) has no blob index")]
    OrphanChunk { index: u8, key: String, chunk: u8 },
}
