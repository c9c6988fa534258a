#!/usr/bin/env bash
# Build the `light` ESP32-C3 firmware from scratch and convert it into an
# ESP-IDF app image (device-fw/light-esp32c3.bin) for rmdeploy's OTA publishing.
#
# Needs: rustup (the toolchain and target come from rust-toolchain.toml) and
# esptool >= 4 ($ESPTOOL, default `esptool` on PATH).
# Reproducible: same sources + Cargo.lock + toolchain + SOURCE_DATE_EPOCH
# give a byte-identical image, whatever the checkout path.
set -euo pipefail

cd "$(dirname "$0")"
HERE="$(pwd -P)"
ESPTOOL="${ESPTOOL:-esptool}"
OUT="${OUT:-../light-esp32c3.bin}"
ELF=target/riscv32imc-unknown-none-elf/release/light

# Build date/time written into esp_app_desc_t (esp-bootloader-esp-idf honours
# SOURCE_DATE_EPOCH); fixed default = 2026-01-01 00:00:00 UTC.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1767225600}"

# Keep host paths out of the ELF (its SHA-256 goes into the image).
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="--remap-path-prefix=$HERE=/build/light --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

command -v "$ESPTOOL" >/dev/null || { echo "esptool not found: set ESPTOOL" >&2; exit 1; }

# rust-toolchain.toml pins the toolchain; make sure it and the target are present.
TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup run "$TOOLCHAIN" rustc -V >/dev/null 2>&1; then
  rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
rustup target add --toolchain "$TOOLCHAIN" riscv32imc-unknown-none-elf

cargo clean
cargo build --release --locked

# esp-hal 1.x puts the app descriptor first in DROM (.flash.appdesc at
# 0x3c000020); elf2image keeps it as segment 0 as the bootloader expects.
# Flash settings match ESP32-C3 dev-kit defaults (only informative for an
# app image: the second-stage bootloader's header governs flash access).
# 0xb0 = 0x20 (image + first segment header) + 0x90 (app_elf_sha256 field
# offset in esp_app_desc_t), as ESP-IDF does.
"$ESPTOOL" --chip esp32c3 elf2image \
  --flash-mode dio --flash-freq 80m --flash-size 4MB \
  --elf-sha256-offset 0xb0 \
  --output "$OUT" "$ELF"

"$ESPTOOL" image-info "$OUT"
sha256sum "$OUT"
