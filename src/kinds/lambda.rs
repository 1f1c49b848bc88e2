//! Lambda: template `pulumi-templates/lambda.yaml` (with
//! `pulumi-templates/shared/lambda-trigger-item.yaml` per SQS trigger), docs
//! `docs/kinds/lambda.md`.

use serde_yaml::{Mapping, Value};

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{Architecture, ComponentSpec, Kind, LambdaSpec};
use crate::pulumi::emit::{lits, map, EmitError, Emitter};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::{key, lit};
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn lambda(&mut self, s: &LambdaSpec) -> Result<(), EmitError> {
        let network = if s.vpc { Some(self.network()?) } else { None };
        self.collect_access(s.vpc.then_some("${securityGroup.id}"))?;
        let function_name = self.phys(NameKind::LambdaFunction, "");
        let mut env = Mapping::new();
        for e in &s.environment {
            let value = self.env_value(e)?;
            // A key is never interpolated: only the panka escape is removed.
            let name = crate::load::template::unescape(&e.name);
            env.insert(key(&name).map_err(|e| self.prog_err(e))?, value);
        }
        let image = s.code.image.as_ref();
        let s3 = s.code.s3.as_ref();
        if image.is_none() == s3.is_none() {
            return Err(self.invalid("`spec.code` needs exactly one of `s3` or `image`"));
        }
        let image_value = match image {
            Some(i) => Some(self.value(i)?),
            None => None,
        };
        let runtime = self.vo(s.runtime.as_deref().filter(|_| image.is_none()))?;
        let handler = self.vo(s.handler.as_deref().filter(|_| image.is_none()))?;
        let mut p = Params::new();
        p.set("roleName", lit(&self.phys(NameKind::IamRole, "fn")))
            .when("inVpc", s.vpc)
            .when("hasAccess", !self.access.is_empty())
            .set("accessStatements", self.access.to_value())
            .set("logGroupName", lit(&format!("/aws/lambda/{function_name}")))
            .set("logRetentionDays", s.log_retention_days)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka Lambda {}", self.c.id)))
            .set("vpcId", self.v(network.map_or("", |n| n.vpc_id.as_str()))?)
            .set("subnets", lits(network.map_or(&[][..], |n| &n.private_subnet_ids[..])))
            .set("functionName", lit(&function_name))
            .set("description", lit(&format!("panka Lambda {}", self.c.id)))
            .set("packageType", lit(if image.is_some() { "Image" } else { "Zip" }))
            .opt("runtime", runtime)
            .opt("handler", handler)
            .opt("s3Bucket", s3.map(|c| self.v(&c.bucket)).transpose()?)
            .opt("s3Key", s3.map(|c| self.v(&c.key)).transpose()?)
            .opt("s3ObjectVersion", self.vo(s3.and_then(|c| c.version.as_deref()))?)
            .opt("imageUri", image_value)
            .set("memorySize", s.memory)
            .set("timeout", s.timeout_seconds)
            .set(
                "architecture",
                lit(match s.architecture {
                    Architecture::X86_64 => "x86_64",
                    Architecture::Arm64 => "arm64",
                }),
            )
            .opt("reservedConcurrency", s.reserved_concurrency)
            .opt("environment", (!env.is_empty()).then(|| map(vec![("variables", Value::Mapping(env))])));
        let v = render_file(files::LAMBDA, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        for t in &s.triggers {
            let (id, kind) = self.resolve(&t.component)?;
            if kind != Kind::Sqs {
                return Err(self.invalid(format!("trigger `{}` is a {kind}, not an SQS queue", t.component)));
            }
            let arn = self.output_of(&id, "arn");
            let mut p = Params::new();
            p.set("queueArn", Value::String(arn))
                .set("batchSize", t.batch_size)
                .opt("maximumBatchingWindowInSeconds", t.maximum_batching_window_seconds);
            let v = render_file(files::LAMBDA_TRIGGER_ITEM, &p)?;
            let name = format!("trigger-{}-{}", id.service, id.name);
            self.program.merge_item(&name, &v).map_err(|e| self.prog_err(e))?;
        }
        Ok(())
    }
}

impl Checker<'_> {
    pub(crate) fn lambda(&mut self, c: &Component, l: &LambdaSpec) {
        match (&l.code.s3, &l.code.image) {
            (Some(_), None) => {
                if l.runtime.is_none() || l.handler.is_none() {
                    self.err(
                        "missing-field",
                        c.span(&path("spec")),
                        format!("Lambda `{}` with code in S3 needs `runtime` and `handler`", c.id),
                    );
                }
            }
            (None, Some(_)) => {
                if l.runtime.is_some() || l.handler.is_some() {
                    self.err(
                        "invalid-value",
                        c.span(&path("spec.code.image")),
                        "an image Lambda takes no `runtime` or `handler`",
                    );
                }
            }
            _ => {
                self.err("invalid-value", c.span(&path("spec.code")), "`code` needs exactly one of `s3` or `image`");
            }
        }
        if !(128..=10240).contains(&l.memory) {
            self.err(
                "invalid-value",
                c.span(&path("spec.memory")),
                format!("Lambda memory {} MiB is out of range (128–10240)", l.memory),
            );
        }
        if !(1..=900).contains(&l.timeout_seconds) {
            self.err(
                "invalid-value",
                c.span(&path("spec.timeoutSeconds")),
                format!("Lambda timeout {}s is out of range (1–900)", l.timeout_seconds),
            );
        }
        for (i, t) in l.triggers.iter().enumerate() {
            if !(1..=10_000).contains(&t.batch_size) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.triggers[{i}].batchSize"))),
                    "batchSize is out of range (1–10000)",
                );
            }
            if t.batch_size > 10 && t.maximum_batching_window_seconds.unwrap_or(0) == 0 {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.triggers[{i}].batchSize"))),
                    "an SQS batch size above 10 needs a batching window",
                )
                .hint = Some("set `maximumBatchingWindowSeconds` (1–300)".into());
            }
            if let Ok((id, Kind::Sqs)) = self.stack.index.resolve(&t.component, Some(&c.id.service)) {
                if let Some(ComponentSpec::Sqs(q)) = self.stack.components.get(&id).map(|c| &c.spec) {
                    if q.visibility_timeout_seconds < l.timeout_seconds {
                        self.err(
                            "invalid-value",
                            c.span(&path(&format!("spec.triggers[{i}].component"))),
                            format!(
                                "queue `{id}` has a visibility timeout of {}s, less than this function's timeout of {}s",
                                q.visibility_timeout_seconds, l.timeout_seconds
                            ),
                        )
                        .hint = Some("AWS rejects this event source; raise the queue's `visibilityTimeoutSeconds` (6× the function timeout is recommended)".into());
                    }
                }
            }
        }
    }
}
