//! S3: template `pulumi-templates/s3.yaml`, docs `docs/kinds/s3.md`.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::S3Spec;
use crate::pulumi::emit::{map, try_seq, EmitError, Emitter};
use crate::pulumi::names::bucket_prefix;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn s3(&mut self, s: &S3Spec) -> Result<(), EmitError> {
        let protected = self.protected();
        let bucket = bucket_prefix(&self.name_parts());
        let rules = try_seq(&s.lifecycle_rules, |r| {
            let mut m = vec![
                ("id", self.v(&r.name)?),
                ("status", lit("Enabled")),
                ("filter", map(vec![("prefix", self.v(&r.prefix)?)])),
            ];
            if let Some(d) = r.expiration_days {
                m.push(("expiration", map(vec![("days", Value::from(d))])));
            }
            if let Some(d) = r.noncurrent_version_expiration_days {
                m.push(("noncurrentVersionExpiration", map(vec![("noncurrentDays", Value::from(d))])));
            }
            if let (Some(class), Some(days)) = (&r.transition_storage_class, r.transition_days) {
                m.push((
                    "transitions",
                    Value::Sequence(vec![map(vec![("days", Value::from(days)), ("storageClass", self.v(class)?)])]),
                ));
            }
            m.push(("abortIncompleteMultipartUpload", map(vec![("daysAfterInitiation", Value::from(7))])));
            Ok(map(m))
        })?;
        let cors = try_seq(&s.cors, |c| {
            let mut m = vec![
                ("allowedOrigins", self.vs(&c.allowed_origins)?),
                ("allowedMethods", self.vs(&c.allowed_methods)?),
            ];
            if !c.allowed_headers.is_empty() {
                m.push(("allowedHeaders", self.vs(&c.allowed_headers)?));
            }
            if let Some(a) = c.max_age_seconds {
                m.push(("maxAgeSeconds", Value::from(a)));
            }
            Ok(map(m))
        })?;
        let mut p = Params::new();
        p.set("bucketPrefix", lit(&bucket))
            .set("forceDestroy", s.force_destroy && !protected)
            .set("protect", protected)
            .set("blockPublicAccess", s.block_public_access)
            .set("sseAlgorithm", self.v(&s.encryption.algorithm)?)
            .opt("kmsKeyId", self.vo(s.encryption.kms_key_id.as_deref())?)
            .set("versioningStatus", lit(if s.versioning { "Enabled" } else { "Suspended" }))
            .when("hasLifecycle", !s.lifecycle_rules.is_empty())
            .set("lifecycleRules", rules)
            .when("hasCors", !s.cors.is_empty())
            .set("corsRules", cors);
        let v = render_file(files::S3, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn s3(&mut self, c: &Component, b: &S3Spec) {
        const ALGS: [&str; 3] = ["AES256", "aws:kms", "aws:kms:dsse"];
        if !ALGS.contains(&b.encryption.algorithm.as_str()) {
            self.err(
                "invalid-value",
                c.span(&path("spec.encryption.algorithm")),
                format!("unknown encryption `{}`", b.encryption.algorithm),
            )
            .hint = Some("use AES256 or aws:kms".into());
        }
        if b.encryption.kms_key_id.is_some() && b.encryption.algorithm == "AES256" {
            self.err(
                "invalid-value",
                c.span(&path("spec.encryption.kmsKeyId")),
                "a KMS key needs `algorithm: aws:kms`",
            );
        }
        if b.force_destroy && self.protected() {
            self.warn(
                "unprotected",
                c.span(&path("spec.forceDestroy")),
                format!(
                    "`forceDestroy` lets destroy delete every object of `{}` in `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, r) in b.lifecycle_rules.iter().enumerate() {
            if !names.insert(&r.name) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("spec.lifecycleRules[{i}].name"))),
                    format!("lifecycle rule `{}` is defined twice", r.name),
                );
            }
            if r.expiration_days.is_none()
                && r.noncurrent_version_expiration_days.is_none()
                && r.transition_storage_class.is_none()
            {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.lifecycleRules[{i}]"))),
                    format!("lifecycle rule `{}` does nothing", r.name),
                );
            }
            if r.transition_storage_class.is_some() != r.transition_days.is_some() {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.lifecycleRules[{i}]"))),
                    "`transitionStorageClass` and `transitionDays` go together",
                );
            }
        }
    }
}
