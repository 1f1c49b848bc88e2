//! CronJob: template `pulumi-templates/cronjob.yaml`, docs
//! `docs/kinds/cronjob.md`. The container and its task are in
//! [`ecs`](super::ecs).

use serde_yaml::Value;

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::CronJobSpec;
use crate::pulumi::emit::{as_str, EmitError, Emitter};
use crate::pulumi::iam;
use crate::pulumi::names::NameKind;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn cronjob(&mut self, s: &CronJobSpec) -> Result<(), EmitError> {
        let infra = self.infra()?;
        self.container(s.container(), &infra)?;
        let network = self.network()?;
        let cluster = self.cluster_name()?;
        let cluster = self.v(&cluster)?;
        // The tasks the schedule starts, which it tags as it starts them.
        let region = as_str(&self.v(&self.stack.provider.region)?);
        let account = iam::account_id(&mut self.program, self.stack.provider.account_id.as_deref());
        let task_arns = format!("arn:${{partition}}:ecs:{region}:{account}:task/{}/*", as_str(&cluster));
        let mut p = Params::new();
        p.set("cluster", cluster)
            .set("schedulerRoleName", lit(&self.phys(NameKind::IamRole, "scheduler")))
            .set("deadLetterQueueName", lit(&self.phys(NameKind::SqsQueue, "dlq")))
            .set("taskArnPattern", Value::String(task_arns))
            .set("scheduleName", lit(&self.phys(NameKind::Schedule, "")))
            .set("description", lit(&format!("panka CronJob {}", self.c.id)))
            .set("scheduleExpression", self.v(&s.schedule)?)
            .set("timezone", self.v(&s.timezone)?)
            .set("state", lit(if s.suspended { "DISABLED" } else { "ENABLED" }))
            .set("retries", s.retries.min(185))
            .set("subnets", self.vs(&network.private_subnet_ids)?);
        self.capacity(&mut p, &infra);
        let v = render_file(files::CRONJOB, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn cronjob(&mut self, c: &Component, j: &CronJobSpec) {
        if c.infra.as_ref().is_some_and(|i| i.autoscaling.is_some()) {
            let span = self.infra_span(c, "scaling.autoscaling");
            self.err("invalid-value", span, "a CronJob runs one task per schedule and does not autoscale").hint =
                Some("remove `scaling.autoscaling` from its ComponentInfra".into());
        }
        if let Some(problem) = check_schedule(&j.schedule) {
            let span = c.span(&path("spec.schedule"));
            self.err("invalid-schedule", span, format!("schedule `{}` {problem}", j.schedule)).hint = Some(
                "use `cron(minutes hours day-of-month month day-of-week year)`, e.g. `cron(0 3 * * ? *)`, or `rate(5 minutes)`".into(),
            );
        }
        if j.retries > 185 {
            let span = c.span(&path("spec.retries"));
            self.err(
                "invalid-value",
                span,
                format!("retries {} is more than EventBridge Scheduler allows (185)", j.retries),
            );
        }
        if !j.timezone.contains('/') && j.timezone != "UTC" {
            let span = c.span(&path("spec.timezone"));
            self.err("invalid-value", span, format!("`{}` is not an IANA time zone", j.timezone)).hint =
                Some("e.g. `UTC`, `Europe/Berlin`, `America/New_York`".into());
        }
    }
}

/// Why an EventBridge Scheduler expression is invalid, or `None`.
pub fn check_schedule(s: &str) -> Option<String> {
    if let Some(body) = s.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        let mut it = body.split_whitespace();
        let (Some(n), Some(unit), None) = (it.next(), it.next(), it.next()) else {
            return Some("is not `rate(<number> <unit>)`".into());
        };
        let Ok(n) = n.parse::<u32>() else {
            return Some(format!("has `{n}`, not a positive number"));
        };
        if n == 0 {
            return Some("has a rate of 0".into());
        }
        let units = if n == 1 { ["minute", "hour", "day"] } else { ["minutes", "hours", "days"] };
        if !units.contains(&unit) {
            return Some(format!("has unit `{unit}`; use {}", units.join(", ")));
        }
        return None;
    }
    if let Some(body) = s.strip_prefix("at(").and_then(|b| b.strip_suffix(')')) {
        return chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
            .err()
            .map(|_| "is not `at(yyyy-mm-ddThh:mm:ss)`".to_string());
    }
    let Some(body) = s.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) else {
        return Some("is not a `cron(…)`, `rate(…)` or `at(…)` expression".into());
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Some(format!(
            "has {} fields; cron expressions have 6 (minutes hours day-of-month month day-of-week year)",
            fields.len()
        ));
    }
    let allowed =
        |f: &str, extra: &str| f.chars().all(|c| c.is_ascii_alphanumeric() || ",-*/".contains(c) || extra.contains(c));
    let names = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"];
    let extras = ["", "", "?LW", "", "?L#", ""];
    for ((f, name), extra) in fields.iter().zip(names).zip(extras) {
        if !allowed(f, extra) {
            return Some(format!("has an invalid {name} field `{f}`"));
        }
    }
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)];
    for ((f, name), (lo, hi)) in fields.iter().zip(names).zip(ranges) {
        for n in f.split([',', '-', '/']).filter_map(|p| p.parse::<u32>().ok()) {
            let step = f.contains('/') && f.split('/').nth(1) == Some(&n.to_string());
            if !step && !(lo..=hi).contains(&n) {
                return Some(format!("has {name} {n}, outside {lo}–{hi}"));
            }
        }
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Some("sets both day-of-month and day-of-week; one of them must be `?`".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(check_schedule("cron(0 3 * * ? *)"), None);
        assert_eq!(check_schedule("rate(5 minutes)"), None);
        assert_eq!(check_schedule("rate(1 hour)"), None);
        assert!(check_schedule("rate(1 hours)").is_some());
        assert!(check_schedule("0 3 * * *").is_some());
        assert!(check_schedule("cron(0 3 * * *)").unwrap().contains("5 fields"));
        assert!(check_schedule("cron(0 25 * * ? *)").unwrap().contains("hours 25"));
        assert!(check_schedule("cron(0 3 * * * *)").unwrap().contains('?'));
        assert_eq!(check_schedule("cron(0/15 * * * ? *)"), None);
    }
}
