//! ESP32 application images: the `.bin` files ESP-IDF builds (`idf.py build`) and OTA writes
//! to an app partition, as `esptool image-info` reads them.
//!
//! [`parse`] checks an image the way esptool 5.6.0 (`esptool/bin_image.py`, `image-info`) does
//! and returns what an OTA release needs from it: the chip it is built for, its segments, and
//! the application descriptor (`esp_app_desc_t`: version, project name, ESP-IDF version).
//! Everything here is pure: no I/O, no terminal output, and [`parse`] never panics.
//!
//! # Layout
//!
//! All integers are little-endian.
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 1 | magic, [`MAGIC`] (0xE9) |
//! | 1 | 1 | segment count, at most [`MAX_SEGMENTS`] |
//! | 2 | 1 | SPI flash mode |
//! | 3 | 1 | SPI flash size (high nibble) and speed (low nibble) |
//! | 4 | 4 | entry point |
//! | 8 | 1 | WP pin |
//! | 9 | 3 | SPI pin drive strengths |
//! | 12 | 2 | chip id ([`chip_name`]) |
//! | 14 | 1 | minimum chip revision (legacy) |
//! | 15 | 2 | minimum chip revision, full (major × 100 + minor) |
//! | 17 | 2 | maximum chip revision, full |
//! | 19 | 4 | reserved |
//! | 23 | 1 | `hash_appended`, 0 or 1 |
//! | 24 | | segments: each an 8-byte header (load address u32, data length u32), then the data |
//! | | | zero padding, so that the checksum byte ends a 16-byte block |
//! | | 1 | checksum: 0xEF XOR every segment data byte |
//! | | 32 | when `hash_appended` is 1: SHA-256 of everything before it |
//!
//! The application descriptor ([`AppDesc`], magic [`APP_DESC_MAGIC`]) is the first 256 bytes
//! of the first segment's data, at file offset 0x20.
//!
//! # Rules, compared with esptool
//!
//! [`parse`] rejects what `esptool image-info` rejects or reports as invalid, and, with the
//! differences below, nothing else:
//!
//! * Not checked, as esptool does not check them: the padding bytes before the checksum
//!   (they need not be zero), segment lengths that are not a multiple of 4, segment load
//!   addresses, the entry point, the SPI fields, and data after the image (a partition read
//!   back from flash ends in 0xFF bytes; [`Image::size`] says where the image ends).
//! * Rules of rmdeploy that esptool does not have, as OTA needs an application image the
//!   device's bootloader accepts:
//!   - the chip id is read as the full u16 at offset 12 and must name a chip ([`chip_name`]),
//!     as the ESP-IDF bootloader compares it; esptool detects the chip from the low byte only
//!     and prints `Chip ID: 261 (Unknown ID)` without failing ([`Defect::UnknownChip`]);
//!   - the image must have an application descriptor at offset 0x20, complete (256 bytes) and
//!     with its magic; esptool just omits "Application Information" when the first DROM
//!     segment lacks it ([`Defect::NoSegments`], [`Defect::NoAppDescriptor`],
//!     [`Defect::AppDescriptorCut`]). esptool looks for the descriptor in the first segment
//!     whose load address is DROM, which is the first segment in every ESP-IDF app image;
//!     [`parse`] does not look at load addresses. esptool also zero-pads a segment to a
//!     multiple of 4 bytes before reading the descriptor, so it takes a 253-byte first
//!     segment; [`parse`] wants all 256 bytes in the file.
//! * Descriptor strings end at their first NUL and must be UTF-8 up to it
//!   ([`Defect::AppStringNotUtf8`]). esptool decodes the whole field as UTF-8, failing on
//!   invalid bytes even after the NUL, and drops the NULs rather than stopping at the first.
//! * When esptool fails on an image, [`parse`] fails too, but it may name a different defect:
//!   esptool reads all segments before it checks the segment count, for example, so for 17
//!   segment headers of which only two exist it reports "End of file reading segment" where
//!   [`parse`] reports [`Defect::TooManySegments`].

use sha2::{Digest, Sha256};

/// The first byte of every ESP32 (and ESP8266 v1) image.
pub const MAGIC: u8 = 0xE9;

/// The first u32 (little-endian) of the application descriptor, `esp_app_desc_t`.
pub const APP_DESC_MAGIC: u32 = 0xABCD5432;

/// The most segments an image can have (esptool: "Invalid segment count ... (max 16)").
pub const MAX_SEGMENTS: usize = 16;

/// Length of the image header (common 8 bytes plus the 16-byte extended header).
pub const HEADER_LEN: usize = 24;

/// Length of a segment header: load address and data length, u32 each.
pub const SEGMENT_HEADER_LEN: usize = 8;

/// File offset of the application descriptor: the first segment's data.
pub const APP_DESC_OFFSET: usize = HEADER_LEN + SEGMENT_HEADER_LEN;

/// Length of `esp_app_desc_t`.
pub const APP_DESC_LEN: usize = 256;

/// The value the image checksum starts from before the segment data is XORed in.
pub const CHECKSUM_SEED: u8 = 0xEF;

/// Length of the appended SHA-256.
const HASH_LEN: usize = 32;

/// Image chip ids and names, as esptool 5.6.0 knows them (`IMAGE_CHIP_ID` of its targets;
/// ESP-IDF's `esp_chip_id_t`).
const CHIPS: &[(u16, &str)] = &[
    (0, "esp32"),
    (2, "esp32s2"),
    (5, "esp32c3"),
    (9, "esp32s3"),
    (12, "esp32c2"),
    (13, "esp32c6"),
    (16, "esp32h2"),
    (18, "esp32p4"),
    (20, "esp32c61"),
    (23, "esp32c5"),
    (25, "esp32h21"),
    (28, "esp32h4"),
    (31, "esp32e22"),
    (32, "esp32s31"),
];

/// The chip name for an image chip id, as ESP-IDF and esptool spell it in lower case without
/// dashes: `"esp32"`, `"esp32s2"`, `"esp32c3"`, `"esp32s3"`, `"esp32c2"`, `"esp32c6"`,
/// `"esp32h2"`, `"esp32p4"`, `"esp32c5"` (and the newer chips esptool 5.6.0 knows:
/// `"esp32c61"`, `"esp32h21"`, `"esp32h4"`, `"esp32e22"`, `"esp32s31"`).
pub fn chip_name(id: u16) -> Option<&'static str> {
    CHIPS.iter().find(|(i, _)| *i == id).map(|(_, name)| *name)
}

/// The image chip id for a chip name; case and dashes are ignored, so `"esp32c3"`,
/// `"ESP32-C3"` and `"esp32-c3"` all give 5.
pub fn chip_id(name: &str) -> Option<u16> {
    let name: String = name
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    CHIPS.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
}

/// Every chip name [`chip_id`] knows, in the order of their chip ids.
pub fn chip_names() -> impl Iterator<Item = &'static str> {
    CHIPS.iter().map(|(_, name)| *name)
}

/// `"0 (esp32), 2 (esp32s2), ..."`, for messages.
fn known_chips() -> String {
    CHIPS
        .iter()
        .map(|(id, name)| format!("{id} ({name})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One segment of an image: where it loads, and where its data is in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The address the bootloader maps or copies the data to.
    pub load_address: u32,
    /// File offset of the segment's data (just after its 8-byte header).
    pub offset: usize,
    /// Length of the data, in bytes.
    pub length: usize,
}

/// The application descriptor (`esp_app_desc_t`) at the start of the first segment.
///
/// Strings end at their first NUL (or at the end of their field).
#[derive(Debug, Clone, PartialEq)]
pub struct AppDesc {
    /// Anti-rollback version (`CONFIG_BOOTLOADER_APP_SECURE_VERSION`).
    pub secure_version: u32,
    /// Application version (`PROJECT_VER`), e.g. `"1.2.0"`.
    pub version: String,
    /// Project name, e.g. `"light"`.
    pub project_name: String,
    /// Compile time, e.g. `"12:00:00"`.
    pub time: String,
    /// Compile date, e.g. `"Jan  1 2025"`.
    pub date: String,
    /// ESP-IDF version, e.g. `"v5.3"`.
    pub idf_ver: String,
}

/// A valid application image.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Chip id from the extended header; [`chip_name`] names it.
    pub chip_id: u16,
    /// Entry point address.
    pub entry: u32,
    /// Segments, in file order (at most [`MAX_SEGMENTS`]).
    pub segments: Vec<Segment>,
    /// The stored checksum byte (which matches the segment data).
    pub checksum: u8,
    /// Whether a SHA-256 follows the checksum.
    pub hash_appended: bool,
    /// The appended SHA-256 (which matches the image), when there is one.
    pub sha256: Option<[u8; 32]>,
    /// The application descriptor.
    pub app: AppDesc,
    /// Length of the image in bytes, through the checksum and the appended hash. Any bytes
    /// after it (such as a flash partition's 0xFF fill) are not part of the image.
    pub size: usize,
}

impl Image {
    /// The chip's name (see [`chip_name`]); always known for a parsed image.
    pub fn chip_name(&self) -> &'static str {
        chip_name(self.chip_id).unwrap_or("unknown")
    }
}

/// A part of the image that the file ends inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The 8-byte header of the segment with this index (from 0).
    SegmentHeader { index: usize },
    /// The checksum byte.
    Checksum,
    /// The 32-byte SHA-256 appended when `hash_appended` is 1.
    Hash,
}

impl Part {
    /// How many bytes the part takes.
    pub fn size(&self) -> usize {
        match self {
            Part::SegmentHeader { .. } => SEGMENT_HEADER_LEN,
            Part::Checksum => 1,
            Part::Hash => HASH_LEN,
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::SegmentHeader { index } => write!(f, "the 8-byte header of segment {index}"),
            Part::Checksum => f.write_str("the checksum byte"),
            Part::Hash => f.write_str("the 32-byte appended SHA-256"),
        }
    }
}

/// Why bytes are not a valid application image: the first defect found, in file order
/// (header, segments, checksum, hash, then the application descriptor). Offsets are file
/// offsets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Defect {
    /// The file is shorter than the 24-byte image header.
    #[error(
        "image too short: {len} bytes, but the image header alone is {HEADER_LEN} bytes \
         (magic 0xe9 at offset 0 through hash_appended at offset 0x17)"
    )]
    TooShort { len: usize },

    /// Byte 0 is not [`MAGIC`]: not an ESP image at all.
    #[error(
        "not an ESP32 application image: byte 0 is {found:#04x}, expected the image magic 0xe9"
    )]
    BadMagic { found: u8 },

    /// Byte 1 (segment count) is above [`MAX_SEGMENTS`].
    #[error(
        "invalid segment count {count} at offset 0x1: an image has at most {MAX_SEGMENTS} \
         segments (usually a linker script problem, or not an application image)"
    )]
    TooManySegments { count: usize },

    /// Byte 23 (`hash_appended`) is neither 0 nor 1.
    #[error("invalid hash_appended byte at offset 0x17: {found:#04x}, expected 0x00 or 0x01")]
    BadHashFlag { found: u8 },

    /// The chip id (u16 at offset 12) is not one [`chip_name`] knows.
    #[error(
        "unknown chip id {id} ({id:#06x}, u16 at offset 0xc); expected one of {}",
        known_chips()
    )]
    UnknownChip { id: u16 },

    /// The image has no segments, so no application descriptor.
    #[error(
        "the image has no segments (byte 1 is 0), so no app descriptor at offset 0x20; \
         expected at least one segment starting with esp_app_desc_t"
    )]
    NoSegments,

    /// The file ends inside a segment header, the checksum byte or the appended hash.
    #[error(
        "image truncated: {part} at offset {offset:#x} is cut off, the file ends at offset \
         {file_len:#x}"
    )]
    Truncated {
        part: Part,
        offset: usize,
        file_len: usize,
    },

    /// A segment's data (as long as its header says) runs past the end of the file.
    #[error(
        "segment {index} runs past the end of the file: its header says {length} bytes of \
         data from offset {offset:#x}, but the file ends at offset {file_len:#x}"
    )]
    SegmentOutOfBounds {
        index: usize,
        offset: usize,
        length: usize,
        file_len: usize,
    },

    /// The checksum byte does not match the segment data.
    #[error(
        "bad checksum at offset {offset:#x}: the image has {found:#04x}, but the segment \
         data gives {expected:#04x} (0xef XOR every data byte); the image is corrupt"
    )]
    BadChecksum {
        offset: usize,
        expected: u8,
        found: u8,
    },

    /// The appended SHA-256 does not match the image.
    #[error(
        "bad appended SHA-256 at offset {offset:#x}: the image has {}, but the SHA-256 of \
         its first {offset} bytes is {}; the image is corrupt",
        hex(.found),
        hex(.expected)
    )]
    BadHash {
        offset: usize,
        expected: [u8; 32],
        found: [u8; 32],
    },

    /// The first segment does not start with [`APP_DESC_MAGIC`].
    #[error(
        "no app descriptor: the u32 at offset 0x20 (the start of segment 0) is {found:#010x}, \
         expected the esp_app_desc_t magic 0xabcd5432; not an application image (a bootloader?)"
    )]
    NoAppDescriptor { found: u32 },

    /// The first segment is too short to hold the 256-byte application descriptor.
    #[error(
        "segment 0 at offset 0x20 is {length} bytes, too short for the {APP_DESC_LEN}-byte \
         app descriptor (esp_app_desc_t) it must start with"
    )]
    AppDescriptorCut { length: usize },

    /// A string of the application descriptor is not UTF-8 (up to its NUL).
    #[error("app descriptor field {field} at offset {offset:#x} is not valid UTF-8")]
    AppStringNotUtf8 { field: &'static str, offset: usize },
}

/// `len` bytes at `offset`, if the file has them all.
fn bytes_at(bytes: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    bytes.get(offset..offset.checked_add(len)?)
}

fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes_at(bytes, offset, 2)?.try_into().ok()?,
    ))
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes_at(bytes, offset, 4)?.try_into().ok()?,
    ))
}

/// Parse and validate an application image (see the [module docs](self) for the rules).
///
/// Data after the image is allowed; [`Image::size`] says where the image ends. Never
/// panics, and allocates nothing in proportion to counts or lengths read from the input.
pub fn parse(bytes: &[u8]) -> Result<Image, Defect> {
    let file_len = bytes.len();

    // Header.
    let Some(&magic) = bytes.first() else {
        return Err(Defect::TooShort { len: 0 });
    };
    if magic != MAGIC {
        return Err(Defect::BadMagic { found: magic });
    }
    if file_len < HEADER_LEN {
        return Err(Defect::TooShort { len: file_len });
    }
    let count = usize::from(bytes[1]);
    if count > MAX_SEGMENTS {
        return Err(Defect::TooManySegments { count });
    }
    let hash_appended = match bytes[23] {
        0 => false,
        1 => true,
        found => return Err(Defect::BadHashFlag { found }),
    };
    let entry = u32_at(bytes, 4).unwrap_or_default();
    let chip_id = u16_at(bytes, 12).unwrap_or_default();
    if chip_name(chip_id).is_none() {
        return Err(Defect::UnknownChip { id: chip_id });
    }
    if count == 0 {
        return Err(Defect::NoSegments);
    }

    // Segments; `count` is at most MAX_SEGMENTS, so this Vec is small.
    let mut segments = Vec::new();
    let mut pos = HEADER_LEN;
    for index in 0..count {
        let truncated = || Defect::Truncated {
            part: Part::SegmentHeader { index },
            offset: pos,
            file_len,
        };
        let load_address = u32_at(bytes, pos).ok_or_else(truncated)?;
        let length = u32_at(bytes, pos + 4).ok_or_else(truncated)?;
        // A u32 always fits the usize of the targets rmdeploy builds for; saturate otherwise.
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        let offset = pos + SEGMENT_HEADER_LEN;
        let end = offset
            .checked_add(length)
            .filter(|end| *end <= file_len)
            .ok_or(Defect::SegmentOutOfBounds {
                index,
                offset,
                length,
                file_len,
            })?;
        segments.push(Segment {
            load_address,
            offset,
            length,
        });
        pos = end;
    }

    // Checksum: the byte that ends the 16-byte block the segments end in (or the next one).
    let checksum_offset = pos + (15 - pos % 16);
    let Some(&checksum) = bytes.get(checksum_offset) else {
        return Err(Defect::Truncated {
            part: Part::Checksum,
            offset: checksum_offset,
            file_len,
        });
    };
    let expected = segments
        .iter()
        .flat_map(|s| &bytes[s.offset..s.offset + s.length])
        .fold(CHECKSUM_SEED, |acc, b| acc ^ b);
    if checksum != expected {
        return Err(Defect::BadChecksum {
            offset: checksum_offset,
            expected,
            found: checksum,
        });
    }
    let mut size = checksum_offset + 1;

    // Appended hash.
    let mut sha256 = None;
    if hash_appended {
        let found: [u8; 32] = bytes_at(bytes, size, HASH_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(Defect::Truncated {
                part: Part::Hash,
                offset: size,
                file_len,
            })?;
        let expected: [u8; 32] = Sha256::digest(&bytes[..size]).into();
        if found != expected {
            return Err(Defect::BadHash {
                offset: size,
                expected,
                found,
            });
        }
        sha256 = Some(found);
        size += HASH_LEN;
    }

    let app = app_desc(bytes, &segments[0])?;
    Ok(Image {
        chip_id,
        entry,
        segments,
        checksum,
        hash_appended,
        sha256,
        app,
        size,
    })
}

/// The application descriptor at the start of `first` (the first segment).
fn app_desc(bytes: &[u8], first: &Segment) -> Result<AppDesc, Defect> {
    let base = first.offset;
    if first.length >= 4 {
        let found = u32_at(bytes, base).unwrap_or_default();
        if found != APP_DESC_MAGIC {
            return Err(Defect::NoAppDescriptor { found });
        }
    }
    if first.length < APP_DESC_LEN {
        return Err(Defect::AppDescriptorCut {
            length: first.length,
        });
    }
    // The segment holds all 256 bytes, so every field below is in the file.
    let string = |field: &'static str, at: usize, len: usize| {
        let raw = &bytes[base + at..base + at + len];
        let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
        String::from_utf8(raw.to_vec()).map_err(|_| Defect::AppStringNotUtf8 {
            field,
            offset: base + at,
        })
    };
    Ok(AppDesc {
        secure_version: u32_at(bytes, base + 4).unwrap_or_default(),
        version: string("version", 16, 32)?,
        project_name: string("project_name", 48, 32)?,
        time: string("time", 80, 16)?,
        date: string("date", 96, 16)?,
        idf_ver: string("idf_ver", 112, 32)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_names_round_trip() {
        for (id, name) in [
            (0, "esp32"),
            (2, "esp32s2"),
            (5, "esp32c3"),
            (9, "esp32s3"),
            (12, "esp32c2"),
            (13, "esp32c6"),
            (16, "esp32h2"),
            (18, "esp32p4"),
            (23, "esp32c5"),
        ] {
            assert_eq!(chip_name(id), Some(name));
            assert_eq!(chip_id(name), Some(id));
        }
        for (id, name) in CHIPS {
            assert_eq!(chip_name(*id), Some(*name));
            assert_eq!(chip_id(name), Some(*id));
        }
    }

    #[test]
    fn chip_id_ignores_case_and_dashes() {
        for name in ["esp32c3", "ESP32-C3", "esp32-c3", "Esp32C3", "ESP32C3"] {
            assert_eq!(chip_id(name), Some(5), "{name}");
        }
        assert_eq!(chip_id("ESP32"), Some(0));
        assert_eq!(chip_id("ESP32-S3"), Some(9));
    }

    #[test]
    fn unknown_chips() {
        for id in [1, 3, 4, 99, 261, u16::MAX] {
            assert_eq!(chip_name(id), None, "{id}");
        }
        for name in ["", "esp8266", "esp32c4", "esp32 c3", "esp32_c3", "c3"] {
            assert_eq!(chip_id(name), None, "{name}");
        }
    }

    #[test]
    fn tiny_inputs() {
        assert_eq!(parse(&[]), Err(Defect::TooShort { len: 0 }));
        assert_eq!(parse(&[0x00]), Err(Defect::BadMagic { found: 0 }));
        assert_eq!(parse(&[MAGIC; 23]), Err(Defect::TooShort { len: 23 }));
    }

    #[test]
    fn unknown_chip_message_lists_known_chips() {
        let message = Defect::UnknownChip { id: 261 }.to_string();
        assert!(message.contains("261 (0x0105"), "{message}");
        assert!(message.contains("5 (esp32c3)"), "{message}");
    }
}
