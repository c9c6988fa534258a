//! The nodes table's index of online nodes (see `node_config`) and the names it is keyed
//! by: what `node-config` writes and `ota-fetch` reads, with no AWS call of its own.

/// The nodes table's sparse index of online nodes: hash `online_key`, range `fw_version`.
pub const ONLINE_INDEX: &str = "online";

/// Chip names compare without case and dashes: `ESP32-C3` is `esp32c3`.
pub fn chip_name(chip: &str) -> String {
    chip.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The key of a node's project and chip in [`ONLINE_INDEX`].
pub fn node_key(project: &str, chip: &str) -> String {
    format!("{project}#{}", chip_name(chip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chips_are_named_alike_whatever_their_spelling() {
        assert_eq!(node_key("light", "ESP32-C3"), node_key("light", "esp32c3"));
        assert_eq!(node_key("light", "esp32_s3"), "light#esp32s3");
    }
}
