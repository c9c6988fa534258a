//! The estimate in words: the total, by service, by feature, the lines, the assumptions.

use std::fmt;

use super::Estimate;

/// `12345.6` in USD → `$12,346`; small amounts keep their cents.
pub fn money(currency: &str, v: f64) -> String {
    let symbol = match currency {
        "USD" => "$",
        "CNY" => "¥",
        other => return format!("{v:.2} {other}"),
    };
    if v.abs() >= 1000.0 {
        format!("{symbol}{}", crate::output::thousands(v.round() as usize))
    } else {
        format!("{symbol}{v:.2}")
    }
}

impl Estimate {
    pub fn money(&self, v: f64) -> String {
        money(self.currency, v)
    }

    /// One line: the month's total and the figure per device and year.
    pub fn headline(&self) -> String {
        let range = if self.monthly_max > self.monthly + 0.005 {
            format!(" to {}", self.money(self.monthly_max))
        } else {
            String::new()
        };
        format!(
            "{}{range} a month, {} per device a year",
            self.money(self.monthly),
            self.money(self.per_device_year)
        )
    }

    /// Where the prices came from, in one line.
    pub fn source_line(&self) -> String {
        let dates = self.prices.dates.join(", ");
        if self.prices.listed {
            let mut s = format!(
                "list prices of {} ({}), read {dates}",
                self.prices.region, self.currency
            );
            if !self.prices.substituted.is_empty() {
                for (from, keys) in &self.prices.substituted {
                    s.push_str(&format!("\n  {from}: {}", keys.join(", ")));
                }
            }
            s
        } else {
            format!(
                "{} has no prices of its own in rmdeploy's table: {} list prices ({}) used instead, read {dates}",
                self.region, self.prices.region, self.currency
            )
        }
    }

    fn rows(
        &self,
        f: &mut fmt::Formatter<'_>,
        title: &str,
        map: &std::collections::BTreeMap<String, f64>,
    ) -> fmt::Result {
        writeln!(f, "  {title}")?;
        let width = map.keys().map(String::len).max().unwrap_or(0);
        let mut rows: Vec<_> = map.iter().collect();
        rows.sort_by(|a, b| b.1.total_cmp(a.1));
        for (name, v) in rows {
            writeln!(f, "    {name:<width$}  {:>12}", self.money(*v))?;
        }
        Ok(())
    }

    /// The summary a plan shows: total, by service and feature, the source and assumptions.
    pub fn summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Estimated cost: {}", self.headline())?;
        writeln!(f, "  {}", self.source_line())?;
        self.rows(f, "by service", &self.by_service)?;
        self.rows(f, "by feature", &self.by_feature)?;
        for u in &self.unpriced {
            writeln!(f, "  not priced: {u}")?;
        }
        writeln!(f, "  assumptions")?;
        for a in &self.assumptions {
            writeln!(f, "    - {a}")?;
        }
        if let Some(b) = &self.budget {
            let verdict = if b.over { "OVER" } else { "within" };
            writeln!(
                f,
                "  budget {} a month: {verdict} ({})",
                self.money(b.monthly),
                self.money(b.estimate)
            )?;
        }
        Ok(())
    }
}

/// The full estimate (`rmdeploy cost`): the summary, then every line.
impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.summary(f)?;
        writeln!(f, "  lines")?;
        let w1 = self
            .lines
            .iter()
            .map(|l| l.service.len())
            .max()
            .unwrap_or(0);
        let w2 = self.lines.iter().map(|l| l.item.len()).max().unwrap_or(0);
        for l in &self.lines {
            let q = match l.quantity_max {
                Some(max) => format!("{} to {}", quantity(l.quantity), quantity(max)),
                None => quantity(l.quantity),
            };
            let cost = match l.monthly_max {
                Some(max) => format!("{} to {}", self.money(l.monthly), self.money(max)),
                None => self.money(l.monthly),
            };
            writeln!(
                f,
                "    {:<w1$}  {:<w2$}  {q} {} at {} {} per {}{}  = {cost}",
                l.service,
                l.item,
                l.unit,
                rate(l.rate),
                self.currency,
                quantity(l.per),
                if l.tiered { " (first tier)" } else { "" }
            )?;
        }
        Ok(())
    }
}

/// A price per unit, with the digits it has (`0.0000133334`).
fn rate(v: f64) -> String {
    let s = format!("{v:.10}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A quantity: whole numbers with separators, small ones with decimals.
fn quantity(v: f64) -> String {
    if v >= 100.0 {
        crate::output::thousands(v.round() as usize)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
