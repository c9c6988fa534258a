//! Reading a YAML file (a profile, the firmware manifest) as text: UTF-8, with or without a byte
//! order mark. A file that is not UTF-8 is refused saying what it looks like (UTF-16, binary,
//! another encoding) and how to save it.

use std::path::Path;

/// Why a file's bytes are not UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotText {
    /// UTF-16: a UTF-16 byte order mark, or NUL in every other byte.
    Utf16,
    /// Not text at all: NUL or other control bytes.
    Binary,
    /// Text in another encoding: the first byte that is not UTF-8, at its line and column.
    Encoding {
        byte: u8,
        line: usize,
        column: usize,
    },
}

impl NotText {
    /// What the file is, for the message.
    pub fn reason(&self) -> String {
        match self {
            NotText::Utf16 => "it is UTF-16 text, not UTF-8".into(),
            NotText::Binary => {
                "it is not a text file: it holds NUL or other control bytes and is not UTF-8".into()
            }
            NotText::Encoding { byte, line, column } => {
                format!("byte 0x{byte:02x} at line {line}, column {column} is not UTF-8")
            }
        }
    }

    /// What to do; `what` names the file (`profile`, `firmware manifest`).
    pub fn help(&self, what: &str) -> String {
        match self {
            NotText::Utf16 => "save it as UTF-8: it looks like UTF-16 (Windows \"Unicode\"); in Notepad, File > Save As with Encoding UTF-8".into(),
            NotText::Binary => format!(
                "a {what} is YAML saved as UTF-8 text, and this file is not text: check that the path names your {what}, and save it as UTF-8 text"
            ),
            NotText::Encoding { .. } => "save it as UTF-8: it looks like text in another encoding (such as Latin-1 or Windows-1252)".into(),
        }
    }
}

/// Reading a file as text failed.
#[derive(Debug)]
pub enum ReadError {
    /// The file cannot be read (not found, no permission, a folder, ...).
    Io(std::io::Error),
    /// It was read, but it is not UTF-8 text.
    NotText(NotText),
}

/// Read a file as UTF-8 text, without a leading byte order mark.
pub fn read(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    decode(bytes).map_err(ReadError::NotText)
}

/// The UTF-8 text of a file's bytes, without a leading byte order mark (YAML allows one, and
/// line 1 counts its columns from the character after it).
pub fn decode(bytes: Vec<u8>) -> Result<String, NotText> {
    match String::from_utf8(bytes) {
        // ASCII saved as UTF-16 without a byte order mark is UTF-8 too: with NUL in every other
        // byte.
        Ok(text) if text.contains('\0') && looks_like_utf16(text.as_bytes()) => Err(NotText::Utf16),
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            Err(classify(e.as_bytes(), valid))
        }
    }
}

/// UTF-16 without a byte order mark: text that is mostly ASCII has NUL in every other byte.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let zeros = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .take(pairs)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    (even * 4 >= pairs * 3 && odd * 10 <= pairs) || (odd * 4 >= pairs * 3 && even * 10 <= pairs)
}

/// What bytes that are not UTF-8 look like; `valid` is the length of their UTF-8 start.
fn classify(bytes: &[u8], valid: usize) -> NotText {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return NotText::Utf16;
    }
    if looks_like_utf16(bytes) {
        return NotText::Utf16;
    }
    let head = &bytes[..bytes.len().min(1024)];
    let control = head
        .iter()
        .filter(|b| (**b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c)) || **b == 0x7f)
        .count();
    if head.contains(&0) || control * 10 > head.len() {
        return NotText::Binary;
    }
    // Text in another encoding: name the first byte that is not UTF-8.
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    NotText::Encoding {
        byte: bytes[valid],
        line,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(decode(b"\xef\xbb\xbfa: 1\n".to_vec()).unwrap(), "a: 1\n");
        assert_eq!(decode(b"a: 1\n".to_vec()).unwrap(), "a: 1\n");
        // Only a leading one.
        assert_eq!(
            decode("a: \u{feff}\n".as_bytes().to_vec()).unwrap(),
            "a: \u{feff}\n"
        );
    }

    #[test]
    fn utf16_is_recognised_with_or_without_a_byte_order_mark() {
        let utf16 = |bom: &[u8], text: &str| -> Vec<u8> {
            let mut out = bom.to_vec();
            out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            out
        };
        assert_eq!(decode(utf16(&[0xff, 0xfe], "a: 1\n")), Err(NotText::Utf16));
        assert_eq!(
            decode(utf16(&[], "stack_name: demo\n\u{e9}")),
            Err(NotText::Utf16)
        );
        assert_eq!(decode(utf16(&[], "a: 1\n")), Err(NotText::Utf16));
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain("a: 1\n".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(be), Err(NotText::Utf16));
    }

    #[test]
    fn binary_and_other_encodings_are_told_apart() {
        assert_eq!(
            decode(vec![0xe9, 0x02, 0x02, 0x2f, 0x80, 0x00, 0x38, 0x40]),
            Err(NotText::Binary)
        );
        assert_eq!(
            decode(b"a: 1\nname: caf\xe9\n".to_vec()),
            Err(NotText::Encoding {
                byte: 0xe9,
                line: 2,
                column: 10
            })
        );
        let help = NotText::Binary.help("profile");
        assert!(help.contains("UTF-8") && help.contains("save"), "{help}");
    }
}
