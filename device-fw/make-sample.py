#!/usr/bin/env python3
"""Write device-fw/sample-light-esp32c3.bin, a small generated ESP32-C3 application image.

This is NOT a real firmware build: nothing in it runs on a device. It is a structurally valid
ESP-IDF application image (the format `esptool image-info` reads and the second-stage
bootloader checks) made from fixed bytes, so that rmdeploy's image parser and the OTA
publishing tests have a known-good sample without an ESP-IDF toolchain.

    python3 device-fw/make-sample.py           # writes device-fw/sample-light-esp32c3.bin
    python3 device-fw/make-sample.py OUT.bin   # writes OUT.bin instead (tests compare them)

The output is deterministic: running the script again writes byte-identical output.
Check it with `esptool image-info device-fw/sample-light-esp32c3.bin`.

Layout (all integers little-endian):
  * 24-byte header: magic 0xE9, segment count, SPI mode (DIO), SPI size/speed (4MB, 80m),
    entry point, then the extended header (wp pin disabled, chip id 5 = ESP32-C3,
    chip revisions v0.3..v1.99, hash appended = 1);
  * segment 0, DROM at 0x3C000020: the 256-byte esp_app_desc_t (magic 0xABCD5432,
    version "1.2.0", project "light", ESP-IDF "v5.3", fixed compile time and date)
    followed by some read-only strings;
  * segment 1, IRAM at 0x40380000: deterministic filler bytes (the entry point is inside);
  * zero padding, then the checksum byte (0xEF XOR every segment data byte) ending a
    16-byte block;
  * the SHA-256 of everything before it.
"""

import hashlib
import os
import struct
import sys

CHIP_ID_ESP32C3 = 5
IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
CHECKSUM_SEED = 0xEF

DROM_ADDR = 0x3C000020
IRAM_ADDR = 0x40380000
ENTRY = IRAM_ADDR + 0x80

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample-light-esp32c3.bin")


def cstr(text, size):
    """A NUL-padded fixed-size C string field."""
    raw = text.encode("utf-8")
    assert len(raw) < size, text
    return raw.ljust(size, b"\0")


def pad4(data):
    return data + b"\0" * (-len(data) % 4)


def app_desc():
    """esp_app_desc_t, 256 bytes."""
    desc = struct.pack("<II", APP_DESC_MAGIC, 0)  # magic_word, secure_version
    desc += b"\0" * 8  # reserv1
    desc += cstr("1.2.0", 32)  # version
    desc += cstr("light", 32)  # project_name
    desc += cstr("12:00:00", 16)  # time
    desc += cstr("Jan  1 2025", 16)  # date
    desc += cstr("v5.3", 32)  # idf_ver
    desc += hashlib.sha256(b"rmdeploy sample light firmware").digest()  # app_elf_sha256
    # min/max eFuse block revision (v0.0..v0.99), MMU page size log2 (64 KB), reserv3, reserv2
    desc += struct.pack("<HHB", 0, 99, 16) + b"\0" * 3 + b"\0" * 72
    assert len(desc) == 256
    return desc


def filler(length):
    """Deterministic pseudo-random bytes (a SHA-256 counter stream)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(b"light iram %d" % counter).digest()
        counter += 1
    return out[:length]


def main():
    rodata = b"".join(
        cstr(s, 32) for s in ("light: on", "light: off", "brightness", "rainmaker")
    )
    segments = [
        (DROM_ADDR, pad4(app_desc() + rodata)),
        (IRAM_ADDR, filler(0x600)),
    ]

    image = struct.pack("<BBBBI", IMAGE_MAGIC, len(segments), 2, 0x2F, ENTRY)
    # wp_pin (disabled), 3 bytes of SPI pin drive, chip id, min_rev, min_rev_full,
    # max_rev_full, 4 reserved bytes, hash_appended
    image += struct.pack("<BBBBHBHH", 0xEE, 0, 0, 0, CHIP_ID_ESP32C3, 3, 3, 199)
    image += b"\0" * 4 + bytes([1])
    assert len(image) == 24

    checksum = CHECKSUM_SEED
    for addr, data in segments:
        assert len(data) % 4 == 0
        image += struct.pack("<II", addr, len(data)) + data
        for b in data:
            checksum ^= b
    # Pad so that the checksum byte ends a 16-byte block.
    image += b"\0" * (15 - len(image) % 16)
    image += bytes([checksum])
    image += hashlib.sha256(image).digest()

    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    with open(out, "wb") as f:
        f.write(image)
    print(f"wrote {out} ({len(image)} bytes)")


if __name__ == "__main__":
    main()
