//! SQS: template `pulumi-templates/sqs.yaml` (with
//! `pulumi-templates/shared/sqs-from-sns-item.yaml`, the queue's policy for
//! the topics that deliver to it), docs `docs/kinds/sqs.md`. Its dead-letter
//! alarm is in `src/pulumi/emit/alarms.rs`.

use serde_yaml::Value;

use super::sns::topic_name;
use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{ComponentSpec, SqsSpec};
use crate::pulumi::emit::{as_str, map, EmitError, Emitter};
use crate::pulumi::iam;
use crate::pulumi::names::{physical_name_with, NameKind};
use crate::pulumi::program::{lit, to_json};
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn sqs(&mut self, s: &SqsSpec) -> Result<(), EmitError> {
        let fifo = if s.fifo { ".fifo" } else { "" };
        let parts = self.name_parts();
        let queue = physical_name_with(NameKind::SqsQueue, &parts, fifo, "");
        let mut dlq_parts = parts.to_vec();
        dlq_parts.push("dlq");
        let dlq = physical_name_with(NameKind::SqsQueue, &dlq_parts, fifo, "");
        let dl = &s.dead_letter;
        let mut p = Params::new();
        p.when("hasDeadLetter", dl.enabled)
            .set("deadLetterQueueName", lit(&dlq))
            .set("deadLetterRetentionSeconds", dl.message_retention_seconds)
            .set("queueName", lit(&queue))
            .opt("fifo", s.fifo.then_some(true))
            .opt("contentBasedDeduplication", (s.fifo && s.content_based_deduplication).then_some(true))
            .set("visibilityTimeoutSeconds", s.visibility_timeout_seconds)
            .set("messageRetentionSeconds", s.message_retention_seconds)
            .set("delaySeconds", s.delay_seconds)
            .set("receiveWaitTimeSeconds", s.receive_wait_time_seconds)
            .opt(
                "redrivePolicy",
                dl.enabled.then(|| {
                    to_json(map(vec![
                        ("deadLetterTargetArn", Value::String("${deadLetterQueue.arn}".into())),
                        ("maxReceiveCount", Value::from(dl.max_receive_count)),
                    ]))
                }),
            )
            .set("dlqUrlOutput", if dl.enabled { Value::String("${deadLetterQueue.url}".into()) } else { lit("") })
            .set("dlqArnOutput", if dl.enabled { Value::String("${deadLetterQueue.arn}".into()) } else { lit("") });
        let v = render_file(files::SQS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        self.queue_policy()
    }

    /// The queue's one policy, in the queue's own program: every SNS topic
    /// of the stack that subscribes this queue may send to it. Topics name
    /// the queue (its ARN through a StackReference), so the queue's program
    /// builds each topic's ARN from the topic's physical name, region and
    /// account instead of reading it, which would make a dependency cycle
    /// (docs/kinds/sqs.md). One resource per queue: two topics never
    /// overwrite each other's permission.
    fn queue_policy(&mut self) -> Result<(), EmitError> {
        let me = &self.c.id;
        let mut topics = Vec::new();
        for (id, c) in &self.stack.components {
            let ComponentSpec::Sns(t) = &c.spec else {
                continue;
            };
            let subscribes = t.subscriptions.iter().filter_map(|s| s.component.as_deref()).any(|r| {
                // Cheap name test first: every queue scans every topic.
                r.rsplit('/').next() == Some(me.name.as_str())
                    && self.stack.index.resolve(r, Some(&id.service)).is_ok_and(|(target, _)| &target == me)
            });
            if subscribes {
                topics.push(topic_name(self.stack, &self.opts.tenant, id, t.fifo));
            }
        }
        if topics.is_empty() {
            return Ok(());
        }
        let region = as_str(&self.v(&self.stack.provider.region)?);
        let account = iam::account_id(&mut self.program, self.stack.provider.account_id.as_deref());
        let arns: Vec<String> = topics.iter().map(|t| iam::topic_arn(&region, &account, t)).collect();
        let mut q = Params::new();
        q.set("statements", iam::queue_policy_statements("${queue.arn}", &arns));
        let v = render_file(files::SQS_FROM_SNS_ITEM, &q)?;
        self.program.merge_item("topicsPolicy", &v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn sqs(&mut self, c: &Component, q: &SqsSpec) {
        let ranges = [
            (q.visibility_timeout_seconds, 0, 43_200, "visibilityTimeoutSeconds"),
            (q.message_retention_seconds, 60, 1_209_600, "messageRetentionSeconds"),
            (q.delay_seconds, 0, 900, "delaySeconds"),
            (q.receive_wait_time_seconds, 0, 20, "receiveWaitTimeSeconds"),
            (q.dead_letter.max_receive_count, 1, 1000, "deadLetter.maxReceiveCount"),
            (q.dead_letter.message_retention_seconds, 60, 1_209_600, "deadLetter.messageRetentionSeconds"),
        ];
        for (v, lo, hi, f) in ranges {
            if !(lo..=hi).contains(&v) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.{f}"))),
                    format!("`{f}` {v} is out of range ({lo}–{hi})"),
                );
            }
        }
        if q.content_based_deduplication && !q.fifo {
            self.err(
                "invalid-value",
                c.span(&path("spec.contentBasedDeduplication")),
                "content-based deduplication needs `fifo: true`",
            );
        }
    }
}
