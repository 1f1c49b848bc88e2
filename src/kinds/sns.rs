//! SNS: template `pulumi-templates/sns.yaml` (with
//! `pulumi-templates/shared/sns-subscription-item.yaml` per subscription and
//! `pulumi-templates/shared/lambda-from-sns-item.yaml` per Lambda one), docs
//! `docs/kinds/sns.md`. The policy of a queue it delivers to is in the
//! queue's program (`sqs.rs`).

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::load::yaml::path;
use crate::load::{Component, LoadedStack};
use crate::model::{ComponentId, ComponentSpec, Kind, SnsSpec};
use crate::pulumi::emit::{EmitError, Emitter};
use crate::pulumi::names::{physical_name_with, short_hash, tenant_part, NameKind};
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn sns(&mut self, s: &SnsSpec) -> Result<(), EmitError> {
        let topic = topic_name(self.stack, &self.opts.tenant, &self.c.id, s.fifo);
        let mut p = Params::new();
        p.set("topicName", lit(&topic))
            .opt("fifo", s.fifo.then_some(true))
            .opt("contentBasedDeduplication", (s.fifo && s.content_based_deduplication).then_some(true))
            .set("kmsKeyId", self.v(&s.kms_key_id)?);
        let v = render_file(files::SNS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;

        for sub in &s.subscriptions {
            let logical = format!("sub-{}", short_hash(&sub.name));
            let (protocol, endpoint) = match (&sub.component, &sub.endpoint) {
                (Some(c), _) => {
                    let (id, kind) = self.resolve(c)?;
                    match kind {
                        Kind::Sqs => {
                            // The queue's program holds the queue's policy
                            // (`Emitter::queue_policy`, in sqs.rs).
                            let arn = self.output_of(&id, "arn");
                            ("sqs".to_string(), Value::String(arn))
                        }
                        Kind::Lambda => {
                            let arn = self.output_of(&id, "arn");
                            let mut q = Params::new();
                            q.set("functionName", Value::String(arn.clone()));
                            let v = render_file(files::LAMBDA_FROM_SNS_ITEM, &q)?;
                            let name = format!("invoke-{}", logical);
                            self.program.merge_item(&name, &v).map_err(|e| self.prog_err(e))?;
                            ("lambda".to_string(), Value::String(arn))
                        }
                        other => {
                            return Err(self.invalid(format!(
                                "subscription `{}` targets a {other}; only SQS and Lambda components can subscribe",
                                sub.name
                            )))
                        }
                    }
                }
                (None, Some(endpoint)) => {
                    let protocol = match &sub.protocol {
                        Some(p) => p.clone(),
                        None if endpoint.starts_with("https://") => "https".into(),
                        None if endpoint.starts_with("http://") => "http".into(),
                        None if endpoint.contains('@') => "email".into(),
                        None => return Err(self.invalid(format!("subscription `{}` needs `protocol`", sub.name))),
                    };
                    (protocol, self.value(endpoint)?)
                }
                (None, None) => {
                    return Err(self.invalid(format!("subscription `{}` needs `component` or `endpoint`", sub.name)))
                }
            };
            let raw = sub.raw_message_delivery && matches!(protocol.as_str(), "sqs" | "http" | "https" | "firehose");
            let mut q = Params::new();
            q.set("protocol", self.v(&protocol)?)
                .set("endpoint", endpoint)
                .opt("rawMessageDelivery", raw.then_some(true))
                .opt(
                    "filterPolicy",
                    sub.filter_policy
                        .as_ref()
                        .map(|f| lit(&serde_json::to_string(&unescape_json(f)).unwrap_or_default())),
                );
            let v = render_file(files::SNS_SUBSCRIPTION_ITEM, &q)?;
            self.program.merge_item(&logical, &v).map_err(|e| self.prog_err(e))?;
        }
        Ok(())
    }
}

impl Checker<'_> {
    pub(crate) fn sns(&mut self, c: &Component, t: &SnsSpec) {
        let mut names = BTreeSet::new();
        for (i, s) in t.subscriptions.iter().enumerate() {
            let base = format!("spec.subscriptions[{i}]");
            if !names.insert(&s.name) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("{base}.name"))),
                    format!("subscription `{}` is defined twice", s.name),
                );
            }
            match (&s.component, &s.endpoint) {
                (Some(comp), None) => {
                    if let Ok((id, kind)) = self.stack.index.resolve(comp, Some(&c.id.service)) {
                        if let Some(p) = &s.protocol {
                            let want = if kind == Kind::Lambda { "lambda" } else { "sqs" };
                            if p != want {
                                self.err(
                                    "invalid-value",
                                    c.span(&path(&format!("{base}.protocol"))),
                                    format!("`{id}` is a {kind}; its protocol is `{want}`"),
                                );
                            }
                        }
                        if let Some(ComponentSpec::Sqs(q)) = self.stack.components.get(&id).map(|c| &c.spec) {
                            if q.fifo != t.fifo {
                                self.err(
                                    "invalid-value",
                                    c.span(&path(&format!("{base}.component"))),
                                    format!(
                                        "a {} topic can only deliver to a {} queue; `{id}` is {}",
                                        if t.fifo { "FIFO" } else { "standard" },
                                        if t.fifo { "FIFO" } else { "standard" },
                                        if q.fifo { "FIFO" } else { "standard" }
                                    ),
                                );
                            }
                        }
                    }
                }
                (None, Some(_)) => {
                    const PROTOCOLS: [&str; 5] = ["https", "http", "email", "email-json", "sms"];
                    match &s.protocol {
                        Some(p) if PROTOCOLS.contains(&p.as_str()) => {}
                        Some(p) => {
                            self.err(
                                "invalid-value",
                                c.span(&path(&format!("{base}.protocol"))),
                                format!("unknown protocol `{p}` for an endpoint"),
                            )
                            .hint = Some(format!("use one of {}", PROTOCOLS.join(", ")));
                        }
                        None => {
                            self.err(
                                "missing-field",
                                c.span(&path(&base)),
                                "an endpoint subscription needs `protocol`",
                            );
                        }
                    }
                }
                _ => {
                    self.err(
                        "invalid-value",
                        c.span(&path(&base)),
                        format!("subscription `{}` needs exactly one of `component` or `endpoint`", s.name),
                    );
                }
            }
            if let Some(fp) = &s.filter_policy {
                if !fp.is_object() {
                    self.err(
                        "invalid-value",
                        c.span(&path(&format!("{base}.filterPolicy"))),
                        "a filter policy is a mapping",
                    );
                }
            }
        }
    }
}

/// The physical name of SNS component `id`'s topic: its own program
/// creates it and the programs of the queues it delivers to name it in
/// their policies. The tenant leads unless it is `default` (docs/names.md).
pub(super) fn topic_name(stack: &LoadedStack, tenant: &str, id: &ComponentId, fifo: bool) -> String {
    let mut parts: Vec<&str> = tenant_part(tenant).into_iter().collect();
    parts.extend([stack.name(), stack.environment.as_str(), id.service.as_str(), id.name.as_str()]);
    physical_name_with(NameKind::SnsTopic, &parts, if fifo { ".fifo" } else { "" }, "")
}

/// A JSON document from the spec (an SNS filter policy) with its strings
/// panka escapes removed: it is sent as one literal string.
fn unescape_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) => J::String(crate::load::template::unescape(s)),
        J::Array(a) => J::Array(a.iter().map(unescape_json).collect()),
        J::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), unescape_json(v))).collect()),
        other => other.clone(),
    }
}
