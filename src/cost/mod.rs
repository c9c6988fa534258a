//! The monthly cost of a stack, offline: what the rendered template deploys, under the profile's
//! capacity figures, at the region's list prices (`prices.yaml`). Every assumption is part of
//! the result. Nothing here knows about the terminal; [`Estimate`] is both `Display` and
//! `Serialize`.

pub mod prices;
mod report;

pub use report::money;
pub mod usage;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::profile::{Capacity, Resolved, Variant};
use crate::stack::traffic;
use prices::Book;

/// One priced line of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub feature: String,
    pub item: String,
    pub quantity: f64,
    /// At the auto-scaling maximum, for provisioned tables that scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity_max: Option<f64>,
    pub unit: String,
    /// The price key in `prices.yaml`.
    pub price: &'static str,
    /// Price per `per` units (the first tier of a tiered price).
    pub rate: f64,
    /// Billed in monthly volume tiers: `monthly` is this line's share of the tiered total.
    pub tiered: bool,
    pub per: f64,
    pub monthly: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_max: Option<f64>,
}

/// Where the prices came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceSource {
    /// The region whose prices were used.
    pub region: String,
    /// Whether the region has prices of its own in the table.
    pub listed: bool,
    /// Prices the region lacks (their keys), by where they were taken from instead.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub substituted: BTreeMap<String, Vec<String>>,
    /// The dates the prices were read.
    pub dates: Vec<String>,
}

/// The estimate against the profile's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetVerdict {
    pub monthly: f64,
    /// The figure compared: the estimate with auto-scaling tables at their maximum.
    pub estimate: f64,
    pub over: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub region: String,
    pub currency: &'static str,
    pub prices: PriceSource,
    pub devices: i64,
    /// The month's total (auto-scaling tables at their minimum).
    pub monthly: f64,
    /// With auto-scaling tables at their maximum (the same when there are none).
    pub monthly_max: f64,
    pub per_device_year: f64,
    pub by_service: BTreeMap<String, f64>,
    pub by_feature: BTreeMap<String, f64>,
    pub lines: Vec<Line>,
    /// Quantities with no price in the partition (the service is not offered there).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
    pub assumptions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetVerdict>,
}

impl Estimate {
    /// Whether the estimate is over the profile's `budget.monthly`.
    pub fn over_budget(&self) -> bool {
        self.budget.as_ref().is_some_and(|b| b.over)
    }

    /// What to tell the user when the estimate is over the budget.
    pub fn budget_message(&self) -> Option<String> {
        let b = self.budget.as_ref().filter(|b| b.over)?;
        Some(format!(
            "over budget: the estimate is {} a month, the profile's budget.monthly {}; lower the capacity figures or turn features off, raise the budget, or pass --ignore-budget",
            self.money(b.estimate),
            self.money(b.monthly)
        ))
    }
}

/// The estimate of the stack this template describes, for the profile's capacity and region.
pub fn estimate(resolved: &Resolved, template: &Value) -> Estimate {
    let p = &resolved.profile;
    price(
        &resolved.region,
        resolved.variant,
        &p.capacity,
        usage::derive(template, &p.stack_name, &p.capacity),
        p.budget.as_ref().map(|b| b.monthly),
    )
}

/// Price the usage lines at the region's prices. Tiered prices apply to each price's monthly
/// total; each line carries its share.
pub fn price(
    region: &str,
    variant: Variant,
    c: &Capacity,
    lines: Vec<usage::Usage>,
    budget: Option<f64>,
) -> Estimate {
    let mut book = Book::for_region(region, variant);
    let mut totals: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for u in &lines {
        let t = totals.entry(u.price).or_default();
        t.0 += u.quantity;
        t.1 += u.quantity_max.unwrap_or(u.quantity);
    }
    let mut out = Vec::new();
    let mut unpriced = Vec::new();
    let mut dates = Vec::new();
    for u in lines {
        let Some(price) = book.get(u.price) else {
            unpriced.push(format!(
                "{}: {} (no `{}` price in {region})",
                u.service, u.item, u.price
            ));
            continue;
        };
        if !dates.contains(&price.date) {
            dates.push(price.date.clone());
        }
        let (total, total_max) = totals[u.price];
        let price = &price;
        let share = |q: f64, all: f64| {
            if all > 0.0 {
                price.cost(all) * q / all
            } else {
                0.0
            }
        };
        out.push(Line {
            service: u.service,
            feature: u.feature,
            item: u.item,
            quantity: u.quantity,
            quantity_max: u.quantity_max,
            unit: price.unit.clone(),
            price: u.price,
            rate: price.rate(),
            tiered: !price.tiers.is_empty(),
            per: price.per,
            monthly: share(u.quantity, total),
            monthly_max: u.quantity_max.map(|q| share(q, total_max)),
        });
    }
    dates.sort();
    let monthly: f64 = out.iter().map(|l| l.monthly).sum();
    let monthly_max: f64 = out.iter().map(|l| l.monthly_max.unwrap_or(l.monthly)).sum();
    let mut by_service = BTreeMap::new();
    let mut by_feature = BTreeMap::new();
    for l in &out {
        *by_service.entry(l.service.to_string()).or_insert(0.0) += l.monthly;
        *by_feature.entry(l.feature.clone()).or_insert(0.0) += l.monthly;
    }
    Estimate {
        region: region.to_string(),
        currency: book.currency,
        prices: PriceSource {
            region: book.table_region.to_string(),
            listed: book.listed(),
            substituted: book.substituted.clone(),
            dates,
        },
        devices: c.devices,
        monthly,
        monthly_max,
        per_device_year: monthly * 12.0 / c.devices as f64,
        by_service,
        by_feature,
        lines: out,
        unpriced,
        assumptions: assumptions(c),
        budget: budget.map(|b| BudgetVerdict {
            monthly: b,
            estimate: monthly_max,
            over: monthly_max > b,
        }),
    }
}

/// The model's assumptions, in words, for every estimate.
pub fn assumptions(c: &Capacity) -> Vec<String> {
    let n = |v: f64| crate::output::thousands(v.round() as usize);
    vec![
        format!(
            "{} devices, connected all month, {} connection(s) a day each (capacity.*)",
            n(c.devices as f64),
            c.connections_per_device_per_day
        ),
        format!(
            "every daily message is a param report of at most {} bytes ({} a device a day); each connection adds a config, the initial params, an OTA fetch, two presence events and {} metered CONNECT/SUBSCRIBE messages",
            traffic::PARAMS_REPORT_BYTES,
            n(c.messages_per_device_per_day as f64),
            traffic::MESSAGES_PER_CONNECT
        ),
        format!(
            "{} app requests per device a day, one in ten setting params; {} monthly active app users (capacity.app_users)",
            c.api_requests_per_device_per_day,
            n(c.users() as f64)
        ),
        format!(
            "DynamoDB units per event as the bundled handlers spend them (params: 2 writes; presence and config: a write of the {} KB node item; OTA fetch: 2 read units for the node's session and its job, looked up by key, and once per device and update a count of the job's sessions, a read of its network's slots and three writes, {} updates a year)",
            traffic::NODE_ITEM_BYTES / 1024.0,
            c.ota_updates_per_year
        ),
        format!(
            "Lambda duration: {} ms of handler time (measured locally, bench/lambdas.py) plus {} ms per AWS call; the OAuth2 authorizer runs on every request (no cache hits)",
            usage::HANDLER_MS,
            usage::AWS_CALL_MS
        ),
        format!(
            "logs: {} bytes of Lambda platform lines per invocation plus the handler's at its level; IoT Core logs at INFO {} bytes per message, at DEBUG {}",
            usage::PLATFORM_LOG_BYTES,
            usage::iot_log_bytes("INFO"),
            usage::iot_log_bytes("DEBUG")
        ),
        format!(
            "OTA: {} MB images, {} kept, every device downloading {} update(s) a year",
            usage::FIRMWARE_MB,
            usage::FIRMWARE_IMAGES_KEPT,
            c.ota_updates_per_year
        ),
        "not counted: free tiers, alerts and push notifications, time-series messages, webhook deliveries, the deployment-artifacts bucket, taxes and support plans".into(),
        format!(
            "a month is {} hours; list prices, no savings plans or reserved capacity",
            usage::HOURS_PER_MONTH
        ),
    ]
}
