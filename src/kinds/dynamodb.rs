//! DynamoDB: template `pulumi-templates/dynamodb.yaml`, docs
//! `docs/kinds/dynamodb.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::diagnostic::did_you_mean;
use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{AttributeType, BillingMode, DynamoDbSpec};
use crate::pulumi::emit::{map, try_seq, EmitError, Emitter};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn dynamodb(&mut self, s: &DynamoDbSpec) -> Result<(), EmitError> {
        let provisioned = s.billing_mode == BillingMode::Provisioned;
        let cap = s.capacity.as_ref();
        if provisioned && cap.is_none() {
            return Err(self.invalid("`billingMode: PROVISIONED` needs `capacity`"));
        }
        let gsis = try_seq(&s.global_secondary_indexes, |g| {
            let mut keys = vec![map(vec![("attributeName", self.v(&g.partition_key)?), ("keyType", lit("HASH"))])];
            if let Some(sk) = &g.sort_key {
                keys.push(map(vec![("attributeName", self.v(sk)?), ("keyType", lit("RANGE"))]));
            }
            let mut m = vec![
                ("name", self.v(&g.name)?),
                ("keySchemas", Value::Sequence(keys)),
                ("projectionType", self.v(&g.projection)?),
            ];
            if !g.non_key_attributes.is_empty() {
                m.push(("nonKeyAttributes", self.vs(&g.non_key_attributes)?));
            }
            if let (true, Some(c)) = (provisioned, cap) {
                m.push(("readCapacity", Value::from(c.read)));
                m.push(("writeCapacity", Value::from(c.write)));
            }
            Ok(map(m))
        })?;
        let ttl = self.vo(s.ttl_attribute.as_deref())?;
        let mut p = Params::new();
        p.set("tableName", lit(&self.phys(NameKind::DynamoDbTable, "")))
            .set("billingMode", lit(if provisioned { "PROVISIONED" } else { "PAY_PER_REQUEST" }))
            .set("hashKey", self.v(&s.partition_key)?)
            .opt("rangeKey", self.vo(s.sort_key.as_deref())?)
            .opt("readCapacity", cap.filter(|_| provisioned).map(|c| c.read))
            .opt("writeCapacity", cap.filter(|_| provisioned).map(|c| c.write))
            .set(
                "attributes",
                try_seq(&s.attributes, |a| {
                    Ok(map(vec![
                        ("name", self.v(&a.name)?),
                        (
                            "type",
                            lit(match a.kind {
                                AttributeType::S => "S",
                                AttributeType::N => "N",
                                AttributeType::B => "B",
                            }),
                        ),
                    ]))
                })?,
            )
            .opt("globalSecondaryIndexes", (!s.global_secondary_indexes.is_empty()).then_some(gsis))
            .opt("streamEnabled", s.stream.as_ref().map(|_| true))
            .opt("streamViewType", self.vo(s.stream.as_deref())?)
            .opt("ttl", ttl.map(|a| map(vec![("attributeName", a), ("enabled", Value::Bool(true))])))
            .set("pointInTimeRecovery", s.point_in_time_recovery)
            .set("deletionProtection", self.deletion_protection(s.deletion_protection))
            .set("protect", self.protected())
            .set(
                "streamArnOutput",
                if s.stream.is_some() { Value::String("${table.streamArn}".into()) } else { lit("") },
            );
        let v = render_file(files::DYNAMODB, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn dynamodb(&mut self, c: &Component, d: &DynamoDbSpec) {
        let declared: BTreeMap<&str, usize> =
            d.attributes.iter().enumerate().map(|(i, a)| (a.name.as_str(), i)).collect();
        if declared.len() != d.attributes.len() {
            self.err("duplicate", c.span(&path("spec.attributes")), "an attribute is declared twice");
        }
        let mut used = BTreeSet::new();
        let mut key = |this: &mut Self, name: &str, field: String| {
            used.insert(name.to_string());
            if !declared.contains_key(name) {
                let hint = did_you_mean(name, declared.keys().copied())
                    .unwrap_or_else(|| format!("declare it: `attributes: [{{name: {name}, type: S}}]`"));
                this.err(
                    "undeclared-attribute",
                    c.span(&path(&field)),
                    format!("key attribute `{name}` is not declared in `attributes`"),
                )
                .hint = Some(hint);
            }
        };
        key(self, &d.partition_key, "spec.partitionKey".into());
        if let Some(s) = &d.sort_key {
            key(self, s, "spec.sortKey".into());
        }
        let mut index_names = BTreeSet::new();
        for (i, g) in d.global_secondary_indexes.iter().enumerate() {
            key(self, &g.partition_key, format!("spec.globalSecondaryIndexes[{i}].partitionKey"));
            if let Some(s) = &g.sort_key {
                key(self, s, format!("spec.globalSecondaryIndexes[{i}].sortKey"));
            }
            if !index_names.insert(g.name.as_str()) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("spec.globalSecondaryIndexes[{i}].name"))),
                    format!("index `{}` is defined twice", g.name),
                );
            }
            if !["ALL", "KEYS_ONLY", "INCLUDE"].contains(&g.projection.as_str()) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.globalSecondaryIndexes[{i}].projection"))),
                    format!("unknown projection `{}`", g.projection),
                )
                .hint = Some("use ALL, KEYS_ONLY or INCLUDE".into());
            }
        }
        for (name, i) in &declared {
            if !used.contains(*name) {
                self.err(
                    "unused-attribute",
                    c.span(&path(&format!("spec.attributes[{i}]"))),
                    format!("attribute `{name}` is declared but not used by a key or index"),
                )
                .hint = Some("DynamoDB only accepts attribute definitions for key attributes; remove it".into());
            }
        }
        if d.billing_mode == BillingMode::PayPerRequest && d.capacity.is_some() {
            self.err(
                "invalid-value",
                c.span(&path("spec.capacity")),
                "`capacity` only applies to PROVISIONED billing",
            )
            .hint = Some("remove `capacity`, or set `billingMode: PROVISIONED`".into());
        }
        if self.protected() && d.deletion_protection == Some(false) {
            let span = c.span(&path("spec.deletionProtection"));
            self.warn(
                "unprotected",
                span,
                format!(
                    "deletion protection is off for `{}` in protected environment `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        if d.billing_mode == BillingMode::Provisioned && d.capacity.is_none() {
            self.err(
                "missing-field",
                c.span(&path("spec.billingMode")),
                "PROVISIONED billing needs `capacity: {read: …, write: …}`",
            );
        }
        if let Some(s) = &d.stream {
            const VIEWS: [&str; 4] = ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"];
            if !VIEWS.contains(&s.as_str()) {
                self.err("invalid-value", c.span(&path("spec.stream")), format!("unknown stream view `{s}`")).hint =
                    did_you_mean(s, VIEWS).or_else(|| Some(format!("use one of {}", VIEWS.join(", "))));
            }
        }
    }
}
