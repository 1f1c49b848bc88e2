//! CloudWatch alarms a platform team expects on what panka deploys (issue
//! 12), one `aws:cloudwatch:MetricAlarm` each, from
//! `pulumi-templates/shared/metric-alarm-item.yaml`:
//!
//! - MicroService: target 5xx responses on its target group; also the ECS
//!   service's deployment alarm, so a deployment that starts failing
//!   requests rolls back (with the deployment circuit breaker, which rolls
//!   back tasks that never become healthy).
//! - SQS: messages waiting in the dead-letter queue.
//! - RDS: free storage below a tenth of the allocated storage.
//!
//! They notify the environment's topic (`spec.alarms.topicArn`, or the one
//! `spec.alarms.createTopic` puts in the stack's shared program) when there
//! is one, and are left out with `spec.alarms.enabled: false`.

use serde_yaml::Value;

use super::{lit, map, render_file, EmitError, Emitter, NameKind, Params};
use crate::load::template::OutputRef;
use crate::model::{ComponentSpec, SharedLoadBalancer};
use crate::pulumi::template::files;

/// One alarm: a metric, its dimensions and when it fires.
struct Alarm {
    /// Suffix of its physical name and logical name (`5xx`, `dlq-depth` …).
    role: &'static str,
    description: String,
    namespace: &'static str,
    metric: &'static str,
    dimensions: Vec<(&'static str, Value)>,
    statistic: &'static str,
    period: u32,
    evaluation_periods: u32,
    datapoints: u32,
    threshold: f64,
    comparison: &'static str,
}

/// The load balancer part of a listener ARN
/// (`arn:…:listener/app/<name>/<id>/<listener id>` → `app/<name>/<id>`),
/// which CloudWatch uses as the `LoadBalancer` dimension.
pub(super) fn load_balancer_suffix(listener_arn: &str) -> Option<String> {
    let resource = listener_arn.split(':').nth(5)?;
    let parts: Vec<&str> = resource.strip_prefix("listener/")?.split('/').collect();
    (parts.len() == 4 && parts.iter().all(|p| !p.is_empty())).then(|| parts[..3].join("/"))
}

impl Emitter<'_> {
    /// Whether this environment gets alarms.
    fn alarms_on(&self) -> bool {
        self.stack.alarms().enabled
    }

    /// What alarms notify: the environment's topic, or none.
    fn alarm_actions(&mut self) -> Result<Option<Value>, EmitError> {
        let alarms = self.stack.alarms();
        if let Some(arn) = &alarms.topic_arn {
            return Ok(Some(Value::Sequence(vec![self.v(arn)?])));
        }
        if crate::plan::creates_alarm_topic(self.stack) {
            let topic = self.program.stack_output(&OutputRef {
                service: self.stack.name().to_string(),
                component: "shared".to_string(),
                output: "alarmTopicArn".to_string(),
            });
            return Ok(Some(Value::Sequence(vec![topic])));
        }
        Ok(None)
    }

    /// Adds `alarm` to the program as `alarm-<role>`; returns that logical
    /// name.
    fn add_alarm(&mut self, alarm: Alarm) -> Result<String, EmitError> {
        let actions = self.alarm_actions()?;
        let mut dims = serde_yaml::Mapping::new();
        for (k, v) in alarm.dimensions {
            dims.insert(Value::String(k.to_string()), v);
        }
        let mut p = Params::new();
        p.set("name", lit(&self.phys(NameKind::MetricAlarm, alarm.role)))
            .set("description", lit(&alarm.description))
            .set("namespace", lit(alarm.namespace))
            .set("metricName", lit(alarm.metric))
            .set("dimensions", Value::Mapping(dims))
            .set("statistic", lit(alarm.statistic))
            .set("period", alarm.period)
            .set("evaluationPeriods", alarm.evaluation_periods)
            .set("datapointsToAlarm", alarm.datapoints)
            .set("threshold", alarm.threshold)
            .set("comparisonOperator", lit(alarm.comparison))
            .opt("actions", actions);
        let v = render_file(files::METRIC_ALARM_ITEM, &p)?;
        let logical = format!("alarm-{}", alarm.role);
        self.program.merge_item(&logical, &v).map_err(|e| self.prog_err(e))?;
        Ok(logical)
    }

    /// The MicroService's target 5xx alarm; returns the ECS service's
    /// `alarms` (deployment rollback on that alarm), or `None` when alarms
    /// are off.
    pub(crate) fn target_group_alarm(&mut self, lb: &SharedLoadBalancer) -> Result<Option<Value>, EmitError> {
        if !self.alarms_on() {
            return Ok(None);
        }
        let load_balancer =
            match crate::load::template::literal(&lb.listener_arn).and_then(|arn| load_balancer_suffix(&arn)) {
                Some(suffix) => lit(&suffix),
                None => {
                    self.load_balancer_lookup(lb, "loadBalancerArnSuffix", "arnSuffix")?;
                    Value::String("${loadBalancerArnSuffix}".into())
                }
            };
        let logical = self.add_alarm(Alarm {
            role: "5xx",
            description: format!(
                "panka: {} answers with 5xx responses (also its deployment rollback alarm)",
                self.c.id
            ),
            namespace: "AWS/ApplicationELB",
            metric: "HTTPCode_Target_5XX_Count",
            dimensions: vec![
                ("TargetGroup", Value::String("${targetGroup.arnSuffix}".into())),
                ("LoadBalancer", load_balancer),
            ],
            statistic: "Sum",
            period: 60,
            evaluation_periods: 3,
            datapoints: 2,
            threshold: 10.0,
            comparison: "GreaterThanOrEqualToThreshold",
        })?;
        Ok(Some(map(vec![
            ("alarmNames", Value::Sequence(vec![Value::String(format!("${{{logical}.name}}"))])),
            ("enable", Value::Bool(true)),
            ("rollback", Value::Bool(true)),
        ])))
    }

    /// The alarms of data components: dead-letter queue depth, RDS free
    /// storage.
    pub(super) fn data_alarms(&mut self) -> Result<(), EmitError> {
        if !self.alarms_on() {
            return Ok(());
        }
        match &self.c.spec {
            ComponentSpec::Sqs(s) if s.dead_letter.enabled => {
                self.add_alarm(Alarm {
                    role: "dlq-depth",
                    description: format!("panka: messages of {} are waiting in its dead-letter queue", self.c.id),
                    namespace: "AWS/SQS",
                    metric: "ApproximateNumberOfMessagesVisible",
                    dimensions: vec![("QueueName", Value::String("${deadLetterQueue.name}".into()))],
                    statistic: "Maximum",
                    period: 300,
                    evaluation_periods: 1,
                    datapoints: 1,
                    threshold: 0.0,
                    comparison: "GreaterThanThreshold",
                })?;
            }
            ComponentSpec::Rds(r) => {
                let allocated = f64::from(r.instance.storage.allocated_gb);
                self.add_alarm(Alarm {
                    role: "free-storage",
                    description: format!("panka: {} has less than 10% of its storage free", self.c.id),
                    namespace: "AWS/RDS",
                    metric: "FreeStorageSpace",
                    dimensions: vec![("DBInstanceIdentifier", Value::String("${instance.identifier}".into()))],
                    statistic: "Minimum",
                    period: 300,
                    evaluation_periods: 2,
                    datapoints: 2,
                    threshold: (allocated * 1024.0 * 1024.0 * 1024.0 / 10.0).round(),
                    comparison: "LessThanThreshold",
                })?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::load_balancer_suffix;

    #[test]
    fn the_load_balancer_dimension_comes_from_the_listener_arn() {
        assert_eq!(
            load_balancer_suffix(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2"
            )
            .as_deref(),
            Some("app/shared/50dc6c495c0c9188")
        );
        assert_eq!(load_balancer_suffix("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/y"), None);
        assert_eq!(load_balancer_suffix("not an arn"), None);
    }
}
