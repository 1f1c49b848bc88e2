//! ElastiCache: template `pulumi-templates/elasticache.yaml`, docs
//! `docs/kinds/elasticache.md`.

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::ElastiCacheSpec;
use crate::pulumi::emit::{final_snapshot_identifier, EmitError, Emitter};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::{is_version, Checker};

impl Emitter<'_> {
    pub(crate) fn elasticache(&mut self, s: &ElastiCacheSpec) -> Result<(), EmitError> {
        let network = self.network()?;
        let protected = self.protected();
        let id = self.phys(NameKind::ElastiCacheReplicationGroup, "");
        let multi_az = s.multi_az && s.replicas >= 1;
        let mut p = Params::new();
        p.set("subnetGroupName", lit(&self.phys(NameKind::ElastiCacheSubnetGroup, "")))
            .set("description", lit(&format!("panka ElastiCache {}", self.c.id)))
            .set("subnets", self.vs(&network.private_subnet_ids)?)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka ElastiCache {}", self.c.id)))
            .set("vpcId", self.v(&network.vpc_id)?)
            .set("replicationGroupId", lit(&id))
            .set("engine", lit(s.engine.as_str()))
            .set("engineVersion", self.v(&engine_version(&s.version))?)
            .set("nodeType", self.v(&s.node_type)?)
            .set("numCacheClusters", 1 + s.replicas)
            .set("multiAz", multi_az)
            .set("port", s.port)
            .set("atRestEncryption", s.encryption.at_rest)
            .set("inTransitEncryption", s.encryption.in_transit)
            .set("snapshotRetentionDays", s.snapshot_retention_days)
            .opt("maintenanceWindow", self.vo(s.maintenance_window.as_deref())?)
            .opt(
                "finalSnapshotIdentifier",
                (protected && s.snapshot_retention_days > 0).then(|| final_snapshot_identifier(&id)),
            )
            .set("protect", protected);
        let v = render_file(files::ELASTICACHE, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn elasticache(&mut self, c: &Component, e: &ElastiCacheSpec) {
        if !is_version(&e.version) {
            self.err(
                "invalid-value",
                c.span(&path("spec.version")),
                format!("engine version `{}` is not a version number", e.version),
            )
            .hint = Some("write it quoted, e.g. `\"7.1\"`".into());
        }
        if is_version(&e.version) && !e.version.contains('.') && major(&e.version) >= 7 {
            self.err(
                "invalid-value",
                c.span(&path("spec.version")),
                format!("engine version `{}` needs its minor version", e.version),
            )
            .hint = Some(format!(
                "from version 7 ElastiCache takes `<major>.<minor>`, e.g. `\"{}.1\"`, and applies patches itself",
                e.version
            ));
        }
        if !e.node_type.starts_with("cache.") {
            self.err(
                "invalid-value",
                c.span(&path("spec.nodeType")),
                format!("`{}` is not an ElastiCache node type", e.node_type),
            )
            .hint = Some("node types look like `cache.t4g.micro` or `cache.r7g.large`".into());
        }
        if e.replicas > 5 {
            self.err(
                "invalid-value",
                c.span(&path("spec.replicas")),
                format!("{} replicas is more than ElastiCache allows (5)", e.replicas),
            );
        }
        if e.multi_az && e.replicas == 0 {
            self.err("invalid-value", c.span(&path("spec.multiAZ")), "Multi-AZ needs at least one replica").hint =
                Some("set `replicas: 1` or `multiAZ: false`".into());
        }
        if e.port == 0 || e.port > 65535 {
            self.err("invalid-value", c.span(&path("spec.port")), format!("port {} is out of range", e.port));
        }
    }
}

fn major(version: &str) -> u32 {
    version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
}

/// The engine version a replication group is given. From Redis 6 (and for
/// every Valkey) ElastiCache applies patch versions itself and takes
/// `<major>.<minor>` only (or `6.x`): `7.1.0` becomes `7.1`, since a pinned
/// patch is refused, or, once AWS patched the group, read as a downgrade.
/// Redis before 6 keeps its full version (`5.0.6`).
pub fn engine_version(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) || major(version) < 6 {
        return version.to_string();
    }
    match parts.len() {
        1 if major(version) == 6 => "6.x".to_string(),
        1 | 2 => version.to_string(),
        _ => parts[..2].join("."),
    }
}

#[cfg(test)]
mod tests {
    use super::engine_version;

    #[test]
    fn versions_from_six_on_are_major_dot_minor() {
        assert_eq!(engine_version("7.1.0"), "7.1");
        assert_eq!(engine_version("8.0"), "8.0");
        assert_eq!(engine_version("6.2.6"), "6.2");
        assert_eq!(engine_version("6"), "6.x");
        assert_eq!(engine_version("6.x"), "6.x");
        assert_eq!(engine_version("5.0.6"), "5.0.6");
        assert_eq!(engine_version("${var.cacheVersion}"), "${var.cacheVersion}");
    }
}
