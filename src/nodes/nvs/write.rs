//! Writing an NVS partition image, with the page layout of `esp-idf-nvs-partition-gen`.
//!
//! Where the generator puts an entry, [`image`] puts it too: a number goes on the current page
//! while it has a free entry; a string goes on the current page only if it leaves at least one
//! entry free after it (the generator's `>=`), else on a new page; a blob fills what is left of
//! the current page but one entry (a chunk of 0 bytes when only one entry is left), then takes
//! new pages, a chunk each, and its index entry follows the last chunk (on a new page when the
//! last chunk fills its page). The one difference: a string needing a whole page (3969 to 4000
//! bytes with its NUL) goes on a fresh page, where the generator fails.

use super::error::MAX_CHUNKS;
use super::{
    crc32, entry_crc, Entry, Value, WriteError, CHUNK_ANY, ENTRIES_PER_PAGE, ENTRY_SIZE,
    FIRST_ENTRY, MAX_KEY_LEN, MAX_NAMESPACES, MAX_STRING_LEN, MIN_PARTITION_SIZE, PAGE_SIZE,
    STATE_ACTIVE, STATE_FULL, TYPE_BLOB_DATA, TYPE_BLOB_INDEX, TYPE_STRING, VERSION_2,
};

/// The NVS image (format version 2, unencrypted) of `entries`, `size` bytes long.
///
/// Namespaces get their index in the order they first appear, with their definition written
/// just before their first key. Keys are written in the order given.
pub fn image(entries: &[Entry], size: usize) -> Result<Vec<u8>, WriteError> {
    if size % PAGE_SIZE != 0 {
        return Err(WriteError::SizeNotPageMultiple { size });
    }
    if size < MIN_PARTITION_SIZE {
        return Err(WriteError::SizeTooSmall { size });
    }
    let mut w = Writer::new(size);
    let mut namespaces: Vec<&str> = Vec::new();
    for entry in entries {
        check_names(entry)?;
        let index = match namespaces.iter().position(|n| *n == entry.namespace) {
            Some(i) => i + 1,
            None => {
                if namespaces.len() == MAX_NAMESPACES {
                    return Err(WriteError::TooManyNamespaces {
                        namespace: entry.namespace.clone(),
                    });
                }
                namespaces.push(&entry.namespace);
                let index = namespaces.len() as u8;
                let (code, data) = Value::U8(index).primitive().expect("a number");
                w.number(entry, 0, &entry.namespace, code, data)?;
                usize::from(index)
            }
        } as u8;
        match &entry.value {
            Value::Str(s) => w.string(entry, index, s)?,
            Value::Blob(b) => w.blob(entry, index, b)?,
            number => {
                let (code, data) = number.primitive().expect("a number");
                w.number(entry, index, &entry.key, code, data)?;
            }
        }
    }
    Ok(w.finish())
}

fn check_names(entry: &Entry) -> Result<(), WriteError> {
    let (ns, key) = (&entry.namespace, &entry.key);
    if [ns, key].iter().any(|n| n.is_empty() || n.contains('\0')) {
        return Err(WriteError::BadName {
            namespace: ns.clone(),
            key: key.clone(),
        });
    }
    if ns.len() > MAX_KEY_LEN {
        return Err(WriteError::NamespaceTooLong {
            namespace: ns.clone(),
            len: ns.len(),
        });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(WriteError::KeyTooLong {
            namespace: ns.clone(),
            key: key.clone(),
            len: key.len(),
        });
    }
    Ok(())
}

/// The pages written so far; the last one is the current page, `next` its first free entry.
struct Writer {
    pages: Vec<Vec<u8>>,
    next: usize,
    size: usize,
}

impl Writer {
    fn new(size: usize) -> Writer {
        Writer {
            pages: vec![fresh_page(0)],
            next: 0,
            size,
        }
    }

    /// Marks the current page full and starts the next one; the partition's last page stays
    /// erased.
    fn new_page(&mut self, at: &Entry) -> Result<(), WriteError> {
        if self.pages.len() == self.size / PAGE_SIZE - 1 {
            return Err(WriteError::DoesNotFit {
                namespace: at.namespace.clone(),
                key: at.key.clone(),
                size: self.size,
            });
        }
        let current = self.pages.last_mut().expect("a page");
        current[..4].copy_from_slice(&STATE_FULL.to_le_bytes());
        self.pages.push(fresh_page(self.pages.len() as u32));
        self.next = 0;
        Ok(())
    }

    /// Writes `bytes` (padded with 0xFF to whole entries) from the first free entry and marks
    /// those entries written.
    fn put(&mut self, bytes: &[u8]) {
        let page = self.pages.last_mut().expect("a page");
        let start = FIRST_ENTRY + self.next * ENTRY_SIZE;
        page[start..start + bytes.len()].copy_from_slice(bytes);
        let count = bytes.len().div_ceil(ENTRY_SIZE);
        for i in self.next..self.next + count {
            page[ENTRY_SIZE + i / 4] &= !(1 << ((i % 4) * 2));
        }
        self.next += count;
    }

    fn number(
        &mut self,
        at: &Entry,
        ns: u8,
        key: &str,
        code: u8,
        data: [u8; 8],
    ) -> Result<(), WriteError> {
        if self.next >= ENTRIES_PER_PAGE {
            self.new_page(at)?;
        }
        let mut h = header(ns, code, 1, CHUNK_ANY, key);
        h[24..].copy_from_slice(&data);
        self.put(&seal(h));
        Ok(())
    }

    fn string(&mut self, at: &Entry, ns: u8, s: &str) -> Result<(), WriteError> {
        let (namespace, key) = (at.namespace.clone(), at.key.clone());
        if s.contains('\0') {
            return Err(WriteError::StringHasNul { namespace, key });
        }
        let data = [s.as_bytes(), b"\0"].concat();
        if data.len() > MAX_STRING_LEN {
            let len = data.len();
            return Err(WriteError::StringTooLong {
                namespace,
                key,
                len,
            });
        }
        let span = data.len().div_ceil(ENTRY_SIZE) + 1;
        if self.next > 0 && self.next + span >= ENTRIES_PER_PAGE {
            self.new_page(at)?;
        }
        let mut h = header(ns, TYPE_STRING, span as u8, CHUNK_ANY, &at.key);
        h[24..26].copy_from_slice(&(data.len() as u16).to_le_bytes());
        h[28..].copy_from_slice(&crc32(&data).to_le_bytes());
        self.put(&seal(h));
        self.put(&data);
        Ok(())
    }

    fn blob(&mut self, at: &Entry, ns: u8, data: &[u8]) -> Result<(), WriteError> {
        if self.next >= ENTRIES_PER_PAGE {
            self.new_page(at)?;
        }
        let (mut offset, mut chunks) = (0, 0);
        loop {
            if chunks == MAX_CHUNKS {
                return Err(WriteError::BlobTooLarge {
                    namespace: at.namespace.clone(),
                    key: at.key.clone(),
                    len: data.len(),
                });
            }
            let room = (ENTRIES_PER_PAGE - self.next - 1) * ENTRY_SIZE;
            let chunk = &data[offset..data.len().min(offset + room)];
            let span = chunk.len().div_ceil(ENTRY_SIZE) + 1;
            let mut h = header(ns, TYPE_BLOB_DATA, span as u8, chunks as u8, &at.key);
            h[24..26].copy_from_slice(&(chunk.len() as u16).to_le_bytes());
            h[28..].copy_from_slice(&crc32(chunk).to_le_bytes());
            self.put(&seal(h));
            self.put(chunk);
            chunks += 1;
            offset += chunk.len();
            if offset < data.len() || room - chunk.len() < ENTRY_SIZE {
                self.new_page(at)?;
            }
            if offset == data.len() {
                break;
            }
        }
        let mut h = header(ns, TYPE_BLOB_INDEX, 1, CHUNK_ANY, &at.key);
        h[24..28].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[28] = chunks as u8;
        h[29] = 0;
        self.put(&seal(h));
        Ok(())
    }

    /// The image: the pages written, then erased pages up to the partition's size.
    fn finish(self) -> Vec<u8> {
        let mut out = self.pages.concat();
        out.resize(self.size, 0xFF);
        out
    }
}

/// An active page with sequence number `seq`, its entries all empty.
fn fresh_page(seq: u32) -> Vec<u8> {
    let mut page = vec![0xFF; PAGE_SIZE];
    page[..4].copy_from_slice(&STATE_ACTIVE.to_le_bytes());
    page[4..8].copy_from_slice(&seq.to_le_bytes());
    page[8] = VERSION_2;
    let crc = crc32(&page[4..28]);
    page[28..32].copy_from_slice(&crc.to_le_bytes());
    page
}

/// An entry header without its data field (0xFF) and CRC.
fn header(ns: u8, code: u8, span: u8, chunk: u8, key: &str) -> [u8; ENTRY_SIZE] {
    let mut h = [0xFF; ENTRY_SIZE];
    h[..4].copy_from_slice(&[ns, code, span, chunk]);
    h[8..24].fill(0);
    h[8..8 + key.len()].copy_from_slice(key.as_bytes());
    h
}

fn seal(mut h: [u8; ENTRY_SIZE]) -> [u8; ENTRY_SIZE] {
    let crc = entry_crc(&h);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::*;

    fn blob(key: &str, len: usize) -> Entry {
        let bytes = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        Entry::new("ns", key, Value::Blob(bytes))
    }

    #[test]
    fn a_blob_larger_than_a_page_is_chunked_and_reads_back_whole() {
        let entries = vec![
            Entry::new("ns", "first", Value::U32(7)),
            blob("big", 9_000),
            Entry::new("ns", "after", Value::Str("tail".into())),
        ];
        let img = image(&entries, 0x6000).unwrap();
        assert_eq!(img.len(), 0x6000);
        assert_eq!(decode(&img).unwrap(), entries);
        // Three chunks: pages 0, 1 and 2 are used, 0 and 1 full, 2 active, the rest erased.
        let state = |p: usize| super::super::le_u32(&img[p * PAGE_SIZE..]);
        assert_eq!(
            (0..6).map(state).collect::<Vec<_>>(),
            [STATE_FULL, STATE_FULL, STATE_ACTIVE, !0, !0, !0]
        );
        assert!(img[3 * PAGE_SIZE..].iter().all(|b| *b == 0xFF));
    }

    #[test]
    fn every_type_reads_back_as_written() {
        let entries = vec![
            Entry::new("a", "u8", Value::U8(255)),
            Entry::new("a", "i8", Value::I8(-1)),
            Entry::new("b", "u16", Value::U16(65535)),
            Entry::new("b", "i16", Value::I16(i16::MIN)),
            Entry::new("a", "u32", Value::U32(1)),
            Entry::new("a", "i32", Value::I32(-5)),
            Entry::new("a", "u64", Value::U64(u64::MAX)),
            Entry::new("a", "i64", Value::I64(i64::MIN)),
            Entry::new("a", "empty", Value::Str(String::new())),
            Entry::new("a", "long", Value::Str("x".repeat(3999))),
            Entry::new("b", "none", Value::Blob(Vec::new())),
        ];
        // The 4000-byte string fills a page of its own.
        let img = image(&entries, 0x4000).unwrap();
        assert_eq!(decode(&img).unwrap(), entries);
    }

    #[test]
    fn bad_sizes_are_refused() {
        let e = [Entry::new("ns", "k", Value::U8(1))];
        assert_eq!(
            image(&e, 0x6001),
            Err(WriteError::SizeNotPageMultiple { size: 0x6001 })
        );
        assert_eq!(
            image(&e, 0x2000),
            Err(WriteError::SizeTooSmall { size: 0x2000 })
        );
    }

    #[test]
    fn bad_names_are_refused() {
        let e = |ns: &str, key: &str| image(&[Entry::new(ns, key, Value::U8(1))], 0x3000);
        assert!(e("ns", "fifteen_bytes_k").is_ok());
        assert!(matches!(
            e("ns", "sixteen_bytes_ke"),
            Err(WriteError::KeyTooLong { len: 16, .. })
        ));
        assert!(matches!(
            e("namespace_is_16b", "k"),
            Err(WriteError::NamespaceTooLong { len: 16, .. })
        ));
        assert!(matches!(e("ns", ""), Err(WriteError::BadName { .. })));
        assert!(matches!(e("n\0s", "k"), Err(WriteError::BadName { .. })));
    }

    #[test]
    fn too_many_namespaces_are_refused() {
        let mut entries: Vec<Entry> = (0..MAX_NAMESPACES)
            .map(|i| Entry::new(format!("ns{i}"), "k", Value::U8(1)))
            .collect();
        assert!(image(&entries, 0x10000).is_ok());
        entries.push(Entry::new("one_more", "k", Value::U8(1)));
        assert_eq!(
            image(&entries, 0x10000),
            Err(WriteError::TooManyNamespaces {
                namespace: "one_more".into()
            })
        );
    }

    #[test]
    fn bad_strings_are_refused() {
        let s = |v: &str| image(&[Entry::new("ns", "k", Value::Str(v.into()))], 0x3000);
        assert!(s(&"x".repeat(MAX_STRING_LEN - 1)).is_ok());
        assert!(matches!(
            s(&"x".repeat(MAX_STRING_LEN)),
            Err(WriteError::StringTooLong { len: 4001, .. })
        ));
        assert!(matches!(s("a\0b"), Err(WriteError::StringHasNul { .. })));
    }

    #[test]
    fn data_past_the_partition_is_refused_naming_the_key() {
        // 0x3000 holds two pages of entries: about 7,900 bytes of blob.
        assert!(image(&[blob("fits", 7_800)], 0x3000).is_ok());
        let err = image(&[blob("fits", 4_000), blob("too_much", 4_000)], 0x3000).unwrap_err();
        assert_eq!(
            err,
            WriteError::DoesNotFit {
                namespace: "ns".into(),
                key: "too_much".into(),
                size: 0x3000
            }
        );
        assert!(err.to_string().contains("`ns:too_much`"), "{err}");
    }

    #[test]
    fn a_blob_of_more_than_128_chunks_is_refused() {
        let err = image(&[blob("huge", 130 * 4000)], 140 * PAGE_SIZE).unwrap_err();
        assert!(matches!(err, WriteError::BlobTooLarge { .. }), "{err:?}");
    }
}
