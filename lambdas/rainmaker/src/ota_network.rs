//! The network a node's OTA session counts against (seed 004: a maximum number of parallel OTA
//! sessions within a single network).
//!
//! A Thread node of ESP RainMaker (esp_rainmaker 1.7.4 and later, `CHANGELOG.md`) carries the
//! node attribute `network-id`, the partition id of its Thread network, in its `config`
//! (`"attributes": [{"name": "network-id", "value": "..."}]`, written by
//! `esp_rmaker_report_node_attributes` in `esp_rmaker_node_config.c`), and puts the same id in
//! `otafetch` and `otastatus` as `network_id` (`esp_rmaker_get_network_id()` in
//! `esp_rmaker_ota_using_topics.c`). A Wi-Fi node has neither.
//!
//! Which one counts, first found:
//! 1. the node's IoT thing attribute `network_id` ([`REGISTRY_ATTRIBUTE`]), set by whoever
//!    registers the node: the operator's word, which the node cannot change;
//! 2. the `network_id` of the node's `otafetch` (what it says now: a partition id changes when
//!    Thread partitions merge);
//! 3. the `network-id` attribute of its last `config` (kept as `network_id` on its nodes item).
//!
//! A node may lie about 2 and 3: it can only put its own session in another network's count (a
//! node holds one slot per job at most), or leave its network's count for the pool of nodes
//! without a network, which has the same limit. Pin the network in the registry where that
//! matters. An id is 1 to 64 letters, digits, `.`, `_`, `:` or `-`; a node that sends another
//! is refused.

/// The thing attribute that pins a node's network.
pub const REGISTRY_ATTRIBUTE: &str = "network_id";
/// The node attribute a Thread node reports in its `config`.
pub const CONFIG_ATTRIBUTE: &str = "network-id";
/// The field of `otafetch` (and of the nodes item that keeps the config's).
pub const FIELD: &str = "network_id";

/// The longest network id taken.
pub const MAX_LEN: usize = 64;

/// Whether `id` is a network id this cloud takes (it becomes part of an item's key).
pub fn check(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_LEN {
        return Err(format!(
            "network id `{id}` must be 1 to {MAX_LEN} characters"
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(format!(
            "network id `{id}` may hold only letters, digits, `.`, `_`, `:` and `-`"
        ));
    }
    Ok(())
}

/// The `network-id` attribute of a node's config, when it has one: `Err` when it is there but is
/// not a network id this cloud takes.
pub fn from_config(
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, String> {
    let Some(attributes) = config.get("attributes").and_then(|a| a.as_array()) else {
        return Ok(None);
    };
    let Some(attribute) = attributes
        .iter()
        .find(|a| a.get("name").and_then(|n| n.as_str()) == Some(CONFIG_ATTRIBUTE))
    else {
        return Ok(None);
    };
    match attribute.get("value").and_then(|v| v.as_str()) {
        Some(id) => check(id).map(|()| Some(id.to_string())),
        None => Err(format!(
            "the config's `{CONFIG_ATTRIBUTE}` attribute has no string value"
        )),
    }
}

/// Where a node's network came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Registry,
    Fetch,
    Config,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub source: Source,
}

/// The network a node counts against (see the module's comment); `None` for a node without one
/// (Wi-Fi), whose sessions count against the job's own limit. `Err` names a registry value this
/// cloud cannot take, and how to fix it.
pub fn resolve(
    registry: Option<&str>,
    fetch: Option<&str>,
    config: Option<&str>,
) -> Result<Option<Network>, String> {
    if let Some(id) = registry {
        check(id).map_err(|why| {
            format!("the node's thing attribute `{REGISTRY_ATTRIBUTE}`: {why}; correct it with `aws iot update-thing --attribute-payload`")
        })?;
        return Ok(Some(Network {
            id: id.to_string(),
            source: Source::Registry,
        }));
    }
    let found = [(fetch, Source::Fetch), (config, Source::Config)]
        .into_iter()
        .find_map(|(id, source)| id.map(|id| (id, source)));
    Ok(found.map(|(id, source)| Network {
        id: id.to_string(),
        source,
    }))
}

/// The group of slots a node's session takes: its network's (`net#<id>`), or the job's own for a
/// node without a network (`job`). A network id holds no `#`, so the two never meet.
pub fn slot_group(network: Option<&Network>) -> String {
    match network {
        Some(n) => format!("net#{}", n.id),
        None => "job".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_ids_are_checked() {
        for good in ["1234567890", "0xdeadbeef", "thread-home:1", "a.b_c"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in ["", "a#b", "a b", "ünï", "x/y", &"9".repeat(65)] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_thread_node_config_names_its_network() {
        let config = |attributes: serde_json::Value| {
            json!({"info": {}, "attributes": attributes})
                .as_object()
                .unwrap()
                .clone()
        };
        assert_eq!(
            from_config(&config(json!([{"name": "cmd-resp", "value": "1"},
                                       {"name": "network-id", "value": "1819624384"}]))),
            Ok(Some("1819624384".into()))
        );
        assert_eq!(
            from_config(&config(json!([{"name": "cmd-resp", "value": "1"}]))),
            Ok(None)
        );
        assert_eq!(
            from_config(&json!({"info": {}}).as_object().unwrap().clone()),
            Ok(None)
        );
        assert!(from_config(&config(json!([{"name": "network-id", "value": "a#b"}]))).is_err());
        assert!(from_config(&config(json!([{"name": "network-id", "value": 7}]))).is_err());
    }

    #[test]
    fn the_registry_wins_then_the_fetch_then_the_config() {
        let got = |r, f, c| resolve(r, f, c).unwrap().map(|n| (n.id, n.source));
        assert_eq!(
            got(Some("pinned"), Some("said"), Some("kept")),
            Some(("pinned".into(), Source::Registry))
        );
        assert_eq!(
            got(None, Some("said"), Some("kept")),
            Some(("said".into(), Source::Fetch))
        );
        assert_eq!(
            got(None, None, Some("kept")),
            Some(("kept".into(), Source::Config))
        );
        assert_eq!(got(None, None, None), None);
        let bad = resolve(Some("a#b"), None, None).unwrap_err();
        assert!(
            bad.contains("network_id") && bad.contains("update-thing"),
            "{bad}"
        );
        assert_eq!(slot_group(None), "job");
        assert_eq!(
            slot_group(Some(&Network {
                id: "42".into(),
                source: Source::Fetch
            })),
            "net#42"
        );
    }
}
