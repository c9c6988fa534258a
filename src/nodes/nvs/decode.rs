//! Reading an NVS partition image back into its entries, checking it on the way.
//!
//! Strict where ESP-IDF would repair or drop something, as an image made for a factory must not
//! need repairs: every page and entry CRC must match, an empty page or entry must be erased
//! (0xFF), every written entry must be consistent (span, data size), every namespace index
//! defined, every blob complete, no chunk without its index and no key written twice.

use std::collections::BTreeMap;

use super::{
    crc32, entry_crc, le_u32, DecodeError, Entry, Value, CHUNK_ANY, ENTRIES_PER_PAGE, ENTRY_SIZE,
    FIRST_ENTRY, PAGE_SIZE, STATE_ACTIVE, STATE_EMPTY, STATE_FULL, TYPE_BLOB_DATA, TYPE_BLOB_INDEX,
    TYPE_BLOB_V1, TYPE_STRING, VERSION_1, VERSION_2,
};

/// What a written entry holds, before namespaces and chunks are resolved.
enum Item {
    Value(u8, String, Value),
    BlobIndex {
        ns: u8,
        key: String,
        size: usize,
        chunks: u8,
        start: u8,
    },
}

#[derive(Default)]
struct Found {
    namespaces: BTreeMap<u8, String>,
    items: Vec<Item>,
    chunks: BTreeMap<(u8, String, u8), Vec<u8>>,
}

/// The entries of an NVS image, in the order they were written (a blob where its index is).
pub fn decode(image: &[u8]) -> Result<Vec<Entry>, DecodeError> {
    if image.len() % PAGE_SIZE != 0 {
        return Err(DecodeError::NotPageAligned { len: image.len() });
    }
    let mut pages = Vec::new();
    for (i, page) in image.chunks(PAGE_SIZE).enumerate() {
        if let Some(seq) = page_header(page, i * PAGE_SIZE)? {
            if pages.iter().any(|(s, _, _)| *s == seq) {
                return Err(DecodeError::DuplicateSequence { seq });
            }
            pages.push((seq, i * PAGE_SIZE, page));
        }
    }
    pages.sort_by_key(|(seq, _, _)| *seq);
    let mut found = Found::default();
    for (_, offset, page) in pages {
        read_page(page, offset, &mut found)?;
    }
    resolve(found)
}

/// The sequence number of a page in use; `None` for an erased page.
fn page_header(page: &[u8], offset: usize) -> Result<Option<u32>, DecodeError> {
    match le_u32(page) {
        STATE_EMPTY if page.iter().all(|b| *b == 0xFF) => return Ok(None),
        STATE_EMPTY => return Err(DecodeError::EmptyPageNotErased { offset }),
        STATE_ACTIVE | STATE_FULL => {}
        state => return Err(DecodeError::BadPageState { offset, state }),
    }
    if le_u32(&page[28..]) != crc32(&page[4..28]) {
        return Err(DecodeError::BadPageCrc { offset });
    }
    if ![VERSION_1, VERSION_2].contains(&page[8]) {
        let version = page[8];
        return Err(DecodeError::BadVersion { offset, version });
    }
    Ok(Some(le_u32(&page[4..])))
}

fn read_page(page: &[u8], page_offset: usize, found: &mut Found) -> Result<(), DecodeError> {
    let state = |i: usize| (page[ENTRY_SIZE + i / 4] >> ((i % 4) * 2)) & 0b11;
    let entry = |i: usize| &page[FIRST_ENTRY + i * ENTRY_SIZE..FIRST_ENTRY + (i + 1) * ENTRY_SIZE];
    let mut i = 0;
    while i < ENTRIES_PER_PAGE {
        let offset = page_offset + FIRST_ENTRY + i * ENTRY_SIZE;
        let bad = |problem| Err(DecodeError::BadEntry { offset, problem });
        match state(i) {
            0b11 if entry(i).iter().all(|b| *b == 0xFF) => i += 1,
            0b11 => return bad("marked empty but not erased"),
            0b00 => i += 1,
            0b01 => return bad("invalid entry state 0b01 in the bitmap"),
            _ => {
                let h = entry(i);
                if le_u32(&h[4..]) != entry_crc(h) {
                    return bad("header CRC mismatch");
                }
                let span = usize::from(h[2]);
                if span == 0 || i + span > ENTRIES_PER_PAGE {
                    return bad("span runs past the page");
                }
                if (i + 1..i + span).any(|j| state(j) != 0b10) {
                    return bad("its data entries are not all marked written");
                }
                let data = &page[FIRST_ENTRY + (i + 1) * ENTRY_SIZE..][..(span - 1) * ENTRY_SIZE];
                read_entry(h, data, offset, found)?;
                i += span;
            }
        }
    }
    Ok(())
}

fn read_entry(h: &[u8], data: &[u8], offset: usize, found: &mut Found) -> Result<(), DecodeError> {
    let bad = |problem| Err(DecodeError::BadEntry { offset, problem });
    let (ns, code, span, chunk) = (h[0], h[1], usize::from(h[2]), h[3]);
    let Some(key) = h[8..24]
        .iter()
        .position(|b| *b == 0)
        .and_then(|n| String::from_utf8(h[8..8 + n].to_vec()).ok())
        .filter(|k| !k.is_empty())
    else {
        return bad("key is not 1 to 15 bytes of UTF-8 ending in NUL");
    };
    if ns == CHUNK_ANY {
        return bad("namespace index 255");
    }
    if let Some(value) = Value::from_primitive(code, &h[24..]) {
        if span != 1 || chunk != CHUNK_ANY {
            return bad("a number with a span or chunk index");
        }
        if ns != 0 {
            found.items.push(Item::Value(ns, key, value));
            return Ok(());
        }
        let index = h[24];
        if code != 0x01 || index == 0 || index == CHUNK_ANY {
            return bad("a namespace definition is a u8 from 1 to 254");
        }
        if found.namespaces.contains_key(&index) || found.namespaces.values().any(|n| *n == key) {
            return Err(DecodeError::DuplicateNamespace { name: key, index });
        }
        found.namespaces.insert(index, key);
        return Ok(());
    }
    if ns == 0 {
        return bad("namespace 0 holds only namespace definitions");
    }
    if code == TYPE_BLOB_INDEX {
        if span != 1 || chunk != CHUNK_ANY {
            return bad("a blob index with a span or chunk index");
        }
        let (size, chunks, start) = (le_u32(&h[24..]) as usize, h[28], h[29]);
        found.items.push(Item::BlobIndex {
            ns,
            key,
            size,
            chunks,
            start,
        });
        return Ok(());
    }
    if ![TYPE_STRING, TYPE_BLOB_V1, TYPE_BLOB_DATA].contains(&code) {
        return bad("unknown type");
    }
    let size = usize::from(u16::from_le_bytes([h[24], h[25]]));
    if size.div_ceil(ENTRY_SIZE) + 1 != span {
        return bad("data size and span disagree");
    }
    let bytes = data[..size].to_vec();
    if crc32(&bytes) != le_u32(&h[28..]) {
        return Err(DecodeError::BadDataCrc { offset, key });
    }
    match code {
        TYPE_STRING => match bytes.split_last() {
            Some((0, text)) if !text.contains(&0) => match String::from_utf8(text.to_vec()) {
                Ok(s) => found.items.push(Item::Value(ns, key, Value::Str(s))),
                Err(_) => return bad("string is not UTF-8"),
            },
            _ => return bad("string does not end in its only NUL"),
        },
        TYPE_BLOB_V1 => found.items.push(Item::Value(ns, key, Value::Blob(bytes))),
        _ => {
            if found.chunks.insert((ns, key, chunk), bytes).is_some() {
                return bad("blob chunk written twice");
            }
        }
    }
    Ok(())
}

/// Namespaces named, blobs put together from their chunks, and nothing left over.
fn resolve(mut found: Found) -> Result<Vec<Entry>, DecodeError> {
    let mut out: Vec<Entry> = Vec::new();
    for item in std::mem::take(&mut found.items) {
        let (ns, key, value) = match item {
            Item::Value(ns, key, value) => (ns, key, value),
            Item::BlobIndex {
                ns,
                key,
                size,
                chunks,
                start,
            } => {
                let namespace = namespace(&found, ns, &key)?;
                let mut bytes = Vec::with_capacity(size);
                for c in (0..chunks).map(|c| start.wrapping_add(c)) {
                    let Some(part) = found.chunks.remove(&(ns, key.clone(), c)) else {
                        return Err(DecodeError::MissingChunk {
                            namespace,
                            key,
                            chunk: c,
                        });
                    };
                    bytes.extend(part);
                }
                if bytes.len() != size {
                    let found = bytes.len();
                    return Err(DecodeError::BlobSizeMismatch {
                        namespace,
                        key,
                        expected: size,
                        found,
                    });
                }
                (ns, key, Value::Blob(bytes))
            }
        };
        let namespace = namespace(&found, ns, &key)?;
        if out.iter().any(|e| e.namespace == namespace && e.key == key) {
            return Err(DecodeError::DuplicateKey { namespace, key });
        }
        out.push(Entry {
            namespace,
            key,
            value,
        });
    }
    if let Some(((index, key, chunk), _)) = found.chunks.pop_first() {
        return Err(DecodeError::OrphanChunk { index, key, chunk });
    }
    Ok(out)
}

fn namespace(found: &Found, index: u8, key: &str) -> Result<String, DecodeError> {
    found
        .namespaces
        .get(&index)
        .cloned()
        .ok_or_else(|| DecodeError::UnknownNamespace {
            index,
            key: key.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::super::image;
    use super::*;

    fn sample() -> (Vec<Entry>, Vec<u8>) {
        let entries = vec![
            Entry::new("ns", "n", Value::I16(-3)),
            Entry::new("ns", "s", Value::Str("hello".into())),
            Entry::new("ns", "b", Value::Blob(vec![7; 5000])),
        ];
        let img = image(&entries, 0x4000).unwrap();
        (entries, img)
    }

    #[test]
    fn a_sound_image_decodes_to_its_entries() {
        let (entries, img) = sample();
        assert_eq!(decode(&img).unwrap(), entries);
    }

    #[test]
    fn corruption_is_found() {
        let (_, img) = sample();
        let corrupt = |at: usize, byte: u8| {
            let mut bad = img.clone();
            bad[at] = byte;
            decode(&bad).unwrap_err()
        };
        // Namespace entry 0, number entry 1, string header entry 2 and its data entry 3.
        let entry = |i: usize| FIRST_ENTRY + i * ENTRY_SIZE;
        assert_eq!(corrupt(9, 0x00), DecodeError::BadPageCrc { offset: 0 });
        assert!(matches!(
            corrupt(entry(1) + 24, 0),
            DecodeError::BadEntry {
                problem: "header CRC mismatch",
                ..
            }
        ));
        assert!(matches!(
            corrupt(entry(3), b'j'),
            DecodeError::BadDataCrc { .. }
        ));
        assert!(matches!(
            corrupt(0x3000 + 100, 0),
            DecodeError::EmptyPageNotErased { offset: 0x3000 }
        ));
        assert!(matches!(
            corrupt(PAGE_SIZE + entry(100) + 1, 0),
            DecodeError::BadEntry {
                problem: "marked empty but not erased",
                ..
            }
        ));
        assert_eq!(
            decode(&img[..100]),
            Err(DecodeError::NotPageAligned { len: 100 })
        );
    }

    #[test]
    fn a_blob_missing_a_chunk_or_its_index_is_refused() {
        let (_, img) = sample();
        // Page 1 starts with the blob's second chunk, its index right after it.
        let span = usize::from(img[PAGE_SIZE + FIRST_ENTRY + 2]);
        let erase = |entries: std::ops::Range<usize>| {
            let mut bad = img.clone();
            for i in entries {
                bad[PAGE_SIZE + ENTRY_SIZE + i / 4] &= !(0b11 << ((i % 4) * 2));
            }
            decode(&bad).unwrap_err()
        };
        assert!(matches!(
            erase(0..span),
            DecodeError::MissingChunk { chunk: 1, .. }
        ));
        assert!(matches!(
            erase(span..span + 1),
            DecodeError::OrphanChunk { chunk: 0, .. }
        ));
    }
}
