//! The cost section of the text plan.

use std::fmt::Write;

use super::CostEstimate;

fn money(x: f64) -> String {
    format!("${x:.2}")
}

fn signed(x: f64) -> String {
    if x < 0.0 {
        format!("-${:.2}", -x)
    } else {
        format!("+${x:.2}")
    }
}

/// Per component, total, delta, the table and the assumptions.
pub fn to_text(cost: &CostEstimate, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nEstimated monthly cost ({}, {})", cost.currency, cost.region);
    for c in &cost.components {
        if c.monthly == 0.0 && c.current_monthly == 0.0 && c.not_estimated.is_empty() {
            continue;
        }
        let delta = if c.delta_monthly != 0.0 { format!("  ({})", signed(c.delta_monthly)) } else { String::new() };
        let _ = writeln!(out, "  {:<48} {:>12}{delta}", format!("{} ({})", c.component, c.kind), money(c.monthly));
        if verbose {
            for l in &c.lines {
                let _ = writeln!(
                    out,
                    "      {}: {} {} × ${} = {}",
                    l.item,
                    trim(l.quantity),
                    l.unit,
                    l.unit_price,
                    money(l.monthly)
                );
            }
        }
        if !c.not_estimated.is_empty() {
            let _ = writeln!(out, "      not estimated: {}", c.not_estimated.join("; "));
        }
    }
    let _ = writeln!(out, "  {:<48} {:>12}", "total", money(cost.total_monthly));
    let _ = writeln!(
        out,
        "  {:<48} {:>12}",
        format!("delta of this plan (deployed now: {})", money(cost.current_monthly)),
        signed(cost.delta_monthly)
    );
    let _ = writeln!(out, "  prices: {} ({}); {}", cost.table.source, cost.table.date, cost.table.note);
    let _ = writeln!(out, "  assumptions:");
    for a in &cost.assumptions {
        let _ = writeln!(out, "    - {a}");
    }
    out
}

fn trim(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
