//! `light`: minimal ESP32-C3 firmware built with esp-hal.
//! Blinks GPIO8 (on-board LED of many ESP32-C3 dev boards) at 1 Hz.
#![no_std]
#![no_main]

use esp_hal::{
    delay::Delay,
    gpio::{Level, Output, OutputConfig},
    main,
};

// ESP-IDF application descriptor (esp_app_desc_t) in the first DROM segment.
// Project name and version come from CARGO_PKG_NAME / CARGO_PKG_VERSION
// ("light" / "1.2.0"); build date/time honour SOURCE_DATE_EPOCH.
esp_bootloader_esp_idf::esp_app_desc!();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[main]
fn main() -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default());
    let mut led = Output::new(peripherals.GPIO8, Level::Low, OutputConfig::default());
    let delay = Delay::new();

    loop {
        led.toggle();
        delay.delay_millis(500);
    }
}
