#!/usr/bin/env python3
"""Write the bad firmware images of the corpus (tests/corpus/images/) from the shipped sample.

Every file here is the known-good sample device-fw/sample-light-esp32c3.bin (2000 bytes, made by
device-fw/make-sample.py) with one realistic defect. The files are committed so that the tests
need no Python; this script is how they were made and how to review or regenerate them:

    python3 tests/corpus/make-images.py           # (re)writes tests/corpus/images/*.bin
    python3 tests/corpus/make-images.py --check   # exit 1 when a stored file differs

The output is deterministic. Each image's expected error is in tests/corpus/expected.yaml.

Layout of the sample (see device-fw/make-sample.py; all integers little-endian):
  0x000  24-byte header: magic 0xE9, segment count 2, ..., chip id (u16 at 0xC) = 5 (ESP32-C3),
         hash_appended (byte 0x17) = 1
  0x018  segment 0 header (load address, length 384)
  0x020  segment 0 data: the 256-byte esp_app_desc_t (magic 0xABCD5432 at 0x20, version at
         0x30, project_name at 0x50), then read-only strings
  0x1A0  segment 1 header (load address, length 1536)
  0x1A8  segment 1 data
  0x7A8  zero padding, then the checksum byte at 0x7AF
  0x7B0  the SHA-256 of bytes 0..0x7B0
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "device-fw", "sample-light-esp32c3.bin")
OUT = os.path.join(HERE, "images")

HEADER_LEN = 24
APP_DESC = 0x20
CHECKSUM_AT = 0x7AF
HASH_AT = 0x7B0


def segments(image):
    """(header offset, data offset, length) of each segment of an image whose structure holds."""
    out = []
    pos = HEADER_LEN
    for _ in range(image[1]):
        length = struct.unpack_from("<I", image, pos + 4)[0]
        out.append((pos, pos + 8, length))
        pos += 8 + length
    return out


def reseal(image):
    """Recompute the checksum and the appended SHA-256 after an edit, so that the edit is the
    image's only defect."""
    image = bytearray(image)
    checksum = 0xEF
    end = HEADER_LEN
    for _, data, length in segments(image):
        for b in image[data : data + length]:
            checksum ^= b
        end = data + length
    at = end + (15 - end % 16)
    image[at] = checksum
    if image[23] == 1:
        image[at + 1 : at + 33] = hashlib.sha256(bytes(image[: at + 1])).digest()
    return bytes(image)


def assemble(header, segs):
    """An image from a 24-byte header and (load address, data) segments, checksum and hash
    included (as device-fw/make-sample.py does)."""
    image = bytearray(header)
    image[1] = len(segs)
    checksum = 0xEF
    for addr, data in segs:
        image += struct.pack("<II", addr, len(data)) + data
        for b in data:
            checksum ^= b
    image += b"\0" * (15 - len(image) % 16)
    image.append(checksum)
    if image[23] == 1:
        image += hashlib.sha256(bytes(image)).digest()
    return bytes(image)


def edit(image, offset, new):
    image = bytearray(image)
    image[offset : offset + len(new)] = new
    return bytes(image)


def flip(image, offset, mask=0x01):
    image = bytearray(image)
    image[offset] ^= mask
    return bytes(image)


def cases(s):
    seg0, seg1 = segments(s)
    seg0_data = s[seg0[1] : seg0[1] + seg0[2]]
    seg1_data = s[seg1[1] : seg1[1] + seg1[2]]
    return {
        # An empty file: an interrupted download or a build that wrote nothing.
        "empty.bin": b"",
        # Only the first 20 bytes: shorter than the 24-byte header.
        "header-cut-at-20-bytes.bin": s[:20],
        # A corrupted first byte.
        "bad-magic.bin": edit(s, 0, b"\xe8"),
        # The ELF from build/ given instead of the .bin (only its first 64 bytes matter).
        "elf-instead-of-bin.bin": b"\x7fELF\x01\x01\x01" + b"\0" * 9
        + struct.pack("<HHI", 2, 0xF3, 1) + b"\0" * 40,
        # An Intel HEX export saved with a .bin name.
        "intel-hex-text.bin": b":10000000E9020220800038400EE0000050003C00C7\n:00000001FF\n",
        # Segment count 17, above the limit of 16.
        "too-many-segments.bin": edit(s, 1, b"\x11"),
        # Segment count 0: no segment, so no app descriptor.
        "no-segments.bin": edit(s, 1, b"\x00"),
        # hash_appended is 2.
        "bad-hash-appended-flag.bin": edit(s, 23, b"\x02"),
        # Chip id 261 (0x0105): an unknown chip, resealed so the header is its only defect.
        "unknown-chip-id.bin": reseal(edit(s, 12, struct.pack("<H", 0x0105))),
        # Cut inside the first segment header.
        "cut-in-segment-header.bin": s[:28],
        # Cut in the middle of segment 1's data (an interrupted copy).
        "cut-in-segment-data.bin": s[:1000],
        # Segment 1 says it is 0xFFFFFFF0 bytes long.
        "segment-length-past-end.bin": edit(s, seg1[0] + 4, struct.pack("<I", 0xFFFFFFF0)),
        # Cut just before the checksum byte.
        "cut-before-checksum.bin": s[:CHECKSUM_AT],
        # Cut inside the appended SHA-256.
        "cut-in-hash.bin": s[: HASH_AT + 10],
        # The checksum byte flipped.
        "flipped-checksum.bin": flip(s, CHECKSUM_AT, 0xFF),
        # One bit of segment 1's data flipped (bit rot): the checksum no longer matches.
        "flipped-data-bit.bin": flip(s, seg1[1] + 100, 0x04),
        # The same bit flipped in two data bytes: the XOR checksum still matches, the hash not.
        "two-flipped-data-bits.bin": flip(flip(s, seg1[1] + 100, 0x04), seg1[1] + 200, 0x04),
        # One bit of the appended SHA-256 flipped.
        "flipped-hash.bin": flip(s, HASH_AT + 31, 0x80),
        # No esp_app_desc_t magic at 0x20 (a bootloader or a raw partition dump), resealed.
        "no-app-descriptor.bin": reseal(edit(s, APP_DESC, b"\0\0\0\0")),
        # A first segment of 128 bytes: too short for the 256-byte app descriptor.
        "app-descriptor-cut.bin": assemble(
            s[:HEADER_LEN], [(0x3C000020, seg0_data[:128]), (0x40380000, seg1_data)]
        ),
        # The version string is Latin-1 ("1.2.0-\xe9"), not UTF-8; resealed.
        "non-utf8-version.bin": reseal(edit(s, APP_DESC + 16, b"1.2.0-\xe9\0")),
        # A valid image, but for an ESP32-S3 (chip id 9): refused against a manifest that says
        # esp32c3 (tests/corpus/manifests/image-chip-mismatch.yaml).
        "wrong-chip-esp32s3.bin": reseal(edit(s, 12, struct.pack("<H", 9))),
    }


def main():
    check = "--check" in sys.argv[1:]
    with open(SAMPLE, "rb") as f:
        sample = f.read()
    assert len(sample) == 2000 and sample[0] == 0xE9, "unexpected sample image"
    assert reseal(sample) == sample, "reseal must not change the sample"
    os.makedirs(OUT, exist_ok=True)
    stale = []
    for name, data in sorted(cases(sample).items()):
        path = os.path.join(OUT, name)
        if check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(name)
            continue
        with open(path, "wb") as f:
            f.write(data)
        print(f"wrote {os.path.relpath(path, ROOT)} ({len(data)} bytes)")
    if stale:
        print("differ from make-images.py: " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
