//! The embedded price table (`prices.yaml`): list prices per region, each with the page it was
//! read from and the date, and the lookup that says which region's prices stood in for a region
//! the table does not list.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::profile::Variant;

const TABLE: &str = include_str!("prices.yaml");

/// The reference region of each partition: it stands in for a region the table does not list,
/// and for a price a listed region lacks.
const REFERENCE_GLOBAL: &str = "us-east-1";
const REFERENCE_CHINA: &str = "cn-northwest-1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    exchange: Exchange,
    regions: BTreeMap<String, RegionPrices>,
}

/// The rate that converts a price of the other partition when neither the region nor its
/// partition's reference region lists it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    cny_per_usd: f64,
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    date: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    pub currency: String,
    pub prices: BTreeMap<String, Price>,
}

/// One price: flat or in monthly volume tiers, per `per` units.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
    pub per: f64,
    pub unit: String,
    pub source: String,
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A volume band: up to `up_to` units a month (cumulative), at `price` per `per` units.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<f64>,
    pub price: f64,
}

impl Price {
    /// What `quantity` units cost in a month, through the tiers.
    pub fn cost(&self, quantity: f64) -> f64 {
        if let Some(p) = self.price {
            return quantity / self.per * p;
        }
        let mut left = quantity;
        let mut floor = 0.0;
        let mut total = 0.0;
        for t in &self.tiers {
            let band = match t.up_to {
                Some(top) => (top - floor).max(0.0),
                None => f64::INFINITY,
            };
            let here = left.min(band);
            total += here / self.per * t.price;
            left -= here;
            if let Some(top) = t.up_to {
                floor = top;
            }
            if left <= 0.0 {
                break;
            }
        }
        total
    }

    /// The first band's price, for a line that shows one rate.
    pub fn rate(&self) -> f64 {
        self.price
            .or_else(|| self.tiers.first().map(|t| t.price))
            .unwrap_or(0.0)
    }
}

fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| serde_yaml::from_str(TABLE).expect("the embedded price table parses"))
}

/// The regions the table lists.
pub fn regions() -> Vec<&'static str> {
    table().regions.keys().map(String::as_str).collect()
}

/// Prices for a region: its own, else its partition's reference region's, else the other
/// partition's converted at the table's exchange rate. `substituted` says what came from where.
#[derive(Debug, Clone)]
pub struct Book {
    pub region: String,
    pub currency: &'static str,
    /// The region whose table was used (the region itself, or the reference region).
    pub table_region: &'static str,
    /// Price keys the region lacks, by where they came from instead.
    pub substituted: BTreeMap<String, Vec<String>>,
    own: Option<&'static RegionPrices>,
    reference: (&'static str, &'static RegionPrices),
    other: (&'static str, &'static RegionPrices),
    variant: Variant,
}

fn reference(variant: Variant) -> (&'static str, &'static RegionPrices) {
    let name = match variant {
        Variant::Global => REFERENCE_GLOBAL,
        Variant::China => REFERENCE_CHINA,
    };
    let prices = table()
        .regions
        .get(name)
        .expect("the price table lists the reference regions");
    (name, prices)
}

impl Book {
    pub fn for_region(region: &str, variant: Variant) -> Book {
        let own_ref = reference(variant);
        let other = reference(match variant {
            Variant::Global => Variant::China,
            Variant::China => Variant::Global,
        });
        let (key, own) = match table().regions.get_key_value(region) {
            Some((k, v)) => (k.as_str(), Some(v)),
            None => (own_ref.0, None),
        };
        Book {
            region: region.to_string(),
            currency: variant.currency(),
            table_region: key,
            substituted: BTreeMap::new(),
            own,
            reference: own_ref,
            other,
            variant,
        }
    }

    fn note(&mut self, key: &str, from: String) {
        let keys = self.substituted.entry(from).or_default();
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }

    /// The price of `key` in this book's currency; `None` when no region lists it.
    pub fn get(&mut self, key: &str) -> Option<Price> {
        if let Some(p) = self.own.and_then(|o| o.prices.get(key)) {
            return Some(p.clone());
        }
        if let Some(p) = self.reference.1.prices.get(key) {
            if self.own.is_some() {
                self.note(key, format!("from {}", self.reference.0));
            }
            return Some(p.clone());
        }
        let p = self.other.1.prices.get(key)?;
        let rate = table().exchange.cny_per_usd;
        let factor = match self.variant {
            Variant::China => rate,
            Variant::Global => 1.0 / rate,
        };
        self.note(
            key,
            format!(
                "converted from {} at {rate} CNY/USD (no {} list price in the table)",
                self.other.0,
                match self.variant {
                    Variant::Global => "global",
                    Variant::China => "AWS China",
                }
            ),
        );
        let mut p = p.clone();
        p.price = p.price.map(|v| v * factor);
        for t in &mut p.tiers {
            t.price *= factor;
        }
        Some(p)
    }

    /// Whether the region has a table of its own.
    pub fn listed(&self) -> bool {
        self.own.is_some()
    }
}
