// Link with esp-hal's linker script (it includes memory.x, the chip's
// sections and the ESP-IDF app descriptor placement in .flash.appdesc).
fn main() {
    println!("cargo:rustc-link-arg=-Tlinkall.x");
}
