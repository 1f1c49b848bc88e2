//! The plan's cost estimate (issue 15): a monthly figure per component and
//! in total, for what the plan would leave deployed and for what the
//! state says is deployed now, and the difference.
//!
//! Prices come from `prices.json`, a snapshot of AWS's public on-demand
//! list prices shipped inside panka (its date and source are in the file
//! and in every estimate). The estimate reads the resolved configuration
//! of each component (the same JSON the plan and the state hold), so the
//! "before" side needs nothing but the state. Usage that the stack does
//! not declare (`usage:` on Lambda, SQS, SNS, S3, DynamoDB) is not
//! guessed: it counts 0 and the component lists it as not estimated.
//! docs/cost.md explains every formula.

pub mod render;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::{Action, Plan};
use crate::state::{ComponentStatus, State};

/// The price table, embedded at build time.
pub const PRICES_JSON: &str = include_str!("prices.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTable {
    pub date: String,
    pub source: String,
    pub note: String,
    pub currency: String,
    pub hours_per_month: f64,
    pub regions: BTreeMap<String, Value>,
}

/// The table shipped with panka.
pub fn prices() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| serde_json::from_str(PRICES_JSON).expect("prices.json is valid (tested)"))
}

/// One priced item of a component: quantity × unit price = monthly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub unit_price: f64,
    pub monthly: f64,
}

/// One component's estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentCost {
    pub component: String,
    pub kind: String,
    pub action: Action,
    /// With the plan applied (0 for a deletion).
    pub monthly: f64,
    /// As deployed now, from the state (0 when not deployed).
    pub current_monthly: f64,
    pub delta_monthly: f64,
    #[serde(default)]
    pub lines: Vec<CostLine>,
    /// What could not be priced and why (usage not declared, unknown class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_estimated: Vec<String>,
}

/// The table an estimate was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub date: String,
    pub source: String,
    pub note: String,
}

/// `cost` in the plan document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    pub currency: String,
    pub region: String,
    pub hours_per_month: f64,
    pub components: Vec<ComponentCost>,
    /// Monthly total with the plan applied.
    pub total_monthly: f64,
    /// Monthly total of what is deployed now.
    pub current_monthly: f64,
    /// `total_monthly - current_monthly`: what this plan adds (or saves).
    pub delta_monthly: f64,
    pub table: TableInfo,
    pub assumptions: Vec<String>,
}

/// Round to cents, as shown (sums are of rounded lines, so they add up).
fn cents(x: f64) -> f64 {
    // `+ 0.0`: an empty sum is -0.0, shown as "$-0.00".
    (x * 100.0).round() / 100.0 + 0.0
}

/// Prices of one region (missing regions fall back to us-east-1, said in
/// the assumptions).
struct Region<'a> {
    prices: &'a Value,
    hours: f64,
}

impl Region<'_> {
    fn price(&self, path: &str) -> Option<f64> {
        self.prices.pointer(path).and_then(Value::as_f64)
    }
}

struct Priced {
    lines: Vec<CostLine>,
    not_estimated: Vec<String>,
}

impl Priced {
    fn add(&mut self, item: impl Into<String>, quantity: f64, unit: &str, unit_price: f64) {
        let monthly = cents(quantity * unit_price);
        self.lines.push(CostLine { item: item.into(), quantity, unit: unit.to_string(), unit_price, monthly });
    }

    fn missing(&mut self, what: impl Into<String>) {
        self.not_estimated.push(what.into());
    }

    fn total(&self) -> f64 {
        cents(self.lines.iter().map(|l| l.monthly).sum())
    }
}

fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Price one resolved configuration.
fn price_config(config: &Value, region: &Region<'_>) -> Priced {
    let mut p = Priced { lines: Vec::new(), not_estimated: Vec::new() };
    let hours = region.hours;
    let kind = text(config, "/kind").unwrap_or("");
    match kind {
        "MicroService" | "Worker" => {
            let cpu = num(config, "/infra/cpu").unwrap_or(256.0) / 1024.0;
            let gb = num(config, "/infra/memory").unwrap_or(512.0) / 1024.0;
            let replicas = num(config, "/infra/replicas").unwrap_or(1.0);
            let tasks = replicas.max(num(config, "/infra/autoscaling/min").unwrap_or(0.0));
            let spot = config.pointer("/infra/spot").and_then(Value::as_bool).unwrap_or(false);
            let arch = text(config, "/infra/architecture").unwrap_or("x86_64");
            let (rates, label) = if spot {
                ("spot", "Fargate Spot")
            } else if arch == "arm64" {
                ("arm64", "Fargate arm64")
            } else {
                ("x86_64", "Fargate x86_64")
            };
            match (
                region.price(&format!("/fargate/{rates}/vcpuHour")),
                region.price(&format!("/fargate/{rates}/gbHour")),
            ) {
                (Some(vcpu), Some(gbh)) => {
                    p.add(
                        format!("{label} vCPU ({tasks} task(s) × {cpu} vCPU)"),
                        tasks * cpu * hours,
                        "vCPU-hour",
                        vcpu,
                    );
                    p.add(format!("{label} memory ({tasks} task(s) × {gb} GB)"), tasks * gb * hours, "GB-hour", gbh);
                }
                _ => p.missing("Fargate prices missing from the table"),
            }
            if num(config, "/infra/autoscaling/max").is_some_and(|max| max > tasks) {
                p.missing("autoscaling above the desired count");
            }
            if kind == "MicroService" {
                match region.price("/alb/lcuHour") {
                    Some(lcu) => p.add("shared ALB: a share of 1 LCU", hours, "LCU-hour", lcu),
                    None => p.missing("ALB prices missing from the table"),
                }
            }
        }
        "CronJob" => p.missing("Fargate run time (runs per month × duration not declared)"),
        "RDS" => {
            let class = text(config, "/spec/instance/class").unwrap_or("");
            let multi = config.pointer("/spec/availability/multiAZ").and_then(Value::as_bool).unwrap_or(false);
            let copies = if multi { 2.0 } else { 1.0 };
            let az = if multi { " (Multi-AZ ×2)" } else { "" };
            match region.price(&format!("/rds/instanceHour/{class}")) {
                Some(h) => p.add(format!("RDS {class}{az}"), copies * hours, "instance-hour", h),
                None => p.missing(format!("instance class `{class}` (not in the price table)")),
            }
            let gb = num(config, "/spec/instance/storage/allocatedGB").unwrap_or(0.0);
            let kind = text(config, "/spec/instance/storage/type").unwrap_or("gp3");
            match region.price(&format!("/rds/storageGbMonth/{kind}")) {
                Some(price) => p.add(format!("RDS storage {kind} ({gb} GB){az}"), copies * gb, "GB-month", price),
                None => p.missing(format!("storage type `{kind}` (not in the price table)")),
            }
            if config.pointer("/spec/instance/storage/iops").is_some() {
                p.missing("provisioned IOPS above the gp3 baseline");
            }
            p.missing("backup storage beyond the database's size");
        }
        "ElastiCache" => {
            let node = text(config, "/spec/nodeType").unwrap_or("");
            let nodes = 1.0 + num(config, "/spec/replicas").unwrap_or(0.0);
            let valkey = text(config, "/spec/engine").unwrap_or("valkey") == "valkey";
            match region.price(&format!("/elasticache/nodeHour/{node}")) {
                Some(h) => {
                    let factor = if valkey { region.price("/elasticache/valkeyFactor").unwrap_or(1.0) } else { 1.0 };
                    let engine = if valkey { "Valkey" } else { "Redis OSS" };
                    p.add(
                        format!("ElastiCache {engine} {node} ({nodes} node(s))"),
                        nodes * hours,
                        "node-hour",
                        h * factor,
                    );
                }
                None => p.missing(format!("node type `{node}` (not in the price table)")),
            }
        }
        "DynamoDB" => {
            if text(config, "/spec/billingMode") == Some("PROVISIONED") {
                let read = num(config, "/spec/capacity/read").unwrap_or(0.0);
                let write = num(config, "/spec/capacity/write").unwrap_or(0.0);
                if let (Some(rcu), Some(wcu)) = (region.price("/dynamodb/rcuHour"), region.price("/dynamodb/wcuHour")) {
                    p.add(format!("DynamoDB provisioned reads ({read} RCU)"), read * hours, "RCU-hour", rcu);
                    p.add(format!("DynamoDB provisioned writes ({write} WCU)"), write * hours, "WCU-hour", wcu);
                }
                if config.pointer("/spec/globalSecondaryIndexes/0").is_some() {
                    p.missing("the capacity of global secondary indexes");
                }
            } else {
                match (num(config, "/spec/usage/readsPerMonth"), region.price("/dynamodb/readRequestMillion")) {
                    (Some(n), Some(price)) => p.add("DynamoDB on-demand reads", n / 1e6, "million RRU", price),
                    _ => p.missing("on-demand reads (usage.readsPerMonth not declared)"),
                }
                match (num(config, "/spec/usage/writesPerMonth"), region.price("/dynamodb/writeRequestMillion")) {
                    (Some(n), Some(price)) => p.add("DynamoDB on-demand writes", n / 1e6, "million WRU", price),
                    _ => p.missing("on-demand writes (usage.writesPerMonth not declared)"),
                }
            }
            match (num(config, "/spec/usage/storageGB"), region.price("/dynamodb/storageGbMonth")) {
                (Some(gb), Some(price)) => p.add("DynamoDB storage", gb, "GB-month", price),
                _ => p.missing("table storage (usage.storageGB not declared)"),
            }
        }
        "Lambda" => match num(config, "/spec/usage/requestsPerMonth") {
            Some(requests) => {
                if let Some(price) = region.price("/lambda/requestMillion") {
                    p.add("Lambda requests", requests / 1e6, "million requests", price);
                }
                let arch = text(config, "/spec/architecture").unwrap_or("arm64");
                match (num(config, "/spec/usage/averageDurationMs"), region.price(&format!("/lambda/gbSecond/{arch}")))
                {
                    (Some(ms), Some(price)) => {
                        let gb = num(config, "/spec/memory").unwrap_or(128.0) / 1024.0;
                        p.add(
                            format!("Lambda compute {arch} ({gb} GB × {ms} ms)"),
                            requests * ms / 1000.0 * gb,
                            "GB-second",
                            price,
                        );
                    }
                    _ => p.missing("compute time (usage.averageDurationMs not declared)"),
                }
            }
            None => p.missing("requests and compute time (usage.requestsPerMonth not declared)"),
        },
        "S3" => match (num(config, "/spec/usage/storageGB"), region.price("/s3/standardGbMonth")) {
            (Some(gb), Some(price)) => p.add("S3 Standard storage", gb, "GB-month", price),
            _ => p.missing("storage (usage.storageGB not declared); requests are not estimated"),
        },
        "SQS" => {
            let fifo = config.pointer("/spec/fifo").and_then(Value::as_bool).unwrap_or(false);
            let key = if fifo { "/sqs/fifoRequestMillion" } else { "/sqs/standardRequestMillion" };
            match (num(config, "/spec/usage/requestsPerMonth"), region.price(key)) {
                (Some(n), Some(price)) => {
                    p.add(if fifo { "SQS FIFO requests" } else { "SQS requests" }, n / 1e6, "million requests", price)
                }
                _ => p.missing("requests (usage.requestsPerMonth not declared)"),
            }
        }
        "SNS" => match (num(config, "/spec/usage/requestsPerMonth"), region.price("/sns/publishMillion")) {
            (Some(n), Some(price)) => p.add("SNS publishes", n / 1e6, "million requests", price),
            _ => p.missing("publishes (usage.requestsPerMonth not declared)"),
        },
        _ => {}
    }
    p
}

/// The assumptions every estimate states.
fn assumptions(hours: f64, region: &str, fallback: bool) -> Vec<String> {
    let mut a = vec![
        format!("{hours} hours per month; on-demand list prices of {region}, before free tiers, Savings Plans, reservations, taxes and data transfer"),
        "container services run their desired count (replicas, at least autoscaling.min) all month; autoscaling above it is not estimated".to_string(),
        "Fargate Spot at the table's Spot rates (they move with demand); arm64 and x86_64 on demand at their own rates".to_string(),
        "a MicroService pays a share of 1 LCU of the shared load balancer; the balancer's hours belong to the platform team".to_string(),
        "RDS Multi-AZ doubles the instance and its storage; ElastiCache counts 1 primary + replicas nodes".to_string(),
        "usage not declared (`usage:` on Lambda, SQS, SNS, S3, DynamoDB on demand; CronJob run time) counts 0 and is listed as not estimated".to_string(),
        "CloudWatch logs, NAT, data transfer and KMS are not estimated".to_string(),
    ];
    if fallback {
        a.insert(1, format!("the table has no prices for {region}: us-east-1's are used"));
    }
    a
}

/// The estimate of a plan: desired (with the plan applied) against what
/// the state records as deployed.
pub fn estimate(plan: &Plan, state: Option<&State>, region: &str) -> CostEstimate {
    let table = prices();
    let fallback = !table.regions.contains_key(region);
    let prices = table.regions.get(region).or_else(|| table.regions.get("us-east-1")).expect("the table has us-east-1");
    let r = Region { prices, hours: table.hours_per_month };
    let mut components = Vec::new();
    for c in &plan.changes {
        let desired = c.config.as_ref().map(|config| price_config(config, &r));
        let recorded = state
            .and_then(|s| s.components.get(&c.component))
            .filter(|rec| rec.status != ComponentStatus::Deleted)
            .map(|rec| price_config(&rec.config, &r));
        let monthly = desired.as_ref().map_or(0.0, Priced::total);
        let current_monthly = recorded.as_ref().map_or(0.0, Priced::total);
        let (lines, not_estimated) = match desired.or(if c.action == Action::Delete { None } else { recorded }) {
            Some(p) => (p.lines, p.not_estimated),
            None => (Vec::new(), Vec::new()),
        };
        components.push(ComponentCost {
            component: c.component.clone(),
            kind: c.kind.to_string(),
            action: c.action,
            monthly,
            current_monthly,
            delta_monthly: cents(monthly - current_monthly),
            lines,
            not_estimated,
        });
    }
    let total_monthly = cents(components.iter().map(|c| c.monthly).sum());
    let current_monthly = cents(components.iter().map(|c| c.current_monthly).sum());
    CostEstimate {
        currency: table.currency.clone(),
        region: region.to_string(),
        hours_per_month: table.hours_per_month,
        components,
        total_monthly,
        current_monthly,
        delta_monthly: cents(total_monthly - current_monthly),
        table: TableInfo { date: table.date.clone(), source: table.source.clone(), note: table.note.clone() },
        assumptions: assumptions(table.hours_per_month, region, fallback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_covers_the_promised_regions_and_services() {
        let t = prices();
        for region in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"] {
            let r = &t.regions[region];
            for p in [
                "/fargate/x86_64/vcpuHour",
                "/fargate/arm64/gbHour",
                "/fargate/spot/vcpuHour",
                "/rds/instanceHour/db.t4g.micro",
                "/rds/storageGbMonth/gp3",
                "/elasticache/nodeHour/cache.t4g.micro",
                "/dynamodb/wcuHour",
                "/dynamodb/readRequestMillion",
                "/lambda/gbSecond/arm64",
                "/alb/lcuHour",
                "/s3/standardGbMonth",
                "/sqs/standardRequestMillion",
                "/sns/publishMillion",
            ] {
                assert!(r.pointer(p).and_then(Value::as_f64).is_some(), "{region}{p}");
            }
        }
        assert_eq!(t.hours_per_month, 730.0);
    }

    #[test]
    fn rds_multi_az_doubles_instance_and_storage() {
        let t = prices();
        let r = Region { prices: &t.regions["us-east-1"], hours: 730.0 };
        let config = json!({"kind": "RDS", "spec": {"instance": {"class": "db.t4g.micro", "storage": {"allocatedGB": 20, "type": "gp3"}}, "availability": {"multiAZ": true}}});
        let p = price_config(&config, &r);
        // 2 × 730 × 0.016 = 23.36; 2 × 20 × 0.115 = 4.60
        assert_eq!(p.total(), 27.96);
    }
}
