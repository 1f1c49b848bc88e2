//! RDS: template `pulumi-templates/rds.yaml`, docs `docs/kinds/rds.md`. Its
//! free-storage alarm is in `src/pulumi/emit/alarms.rs`.

use crate::diagnostic::did_you_mean;
use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{RdsEngineType, RdsSpec};
use crate::pulumi::emit::{final_snapshot_identifier, seq, EmitError, Emitter};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::{is_version, Checker};

impl Emitter<'_> {
    pub(crate) fn rds(&mut self, s: &RdsSpec) -> Result<(), EmitError> {
        let network = self.network()?;
        let identifier = self.phys(NameKind::RdsInstance, "");
        let protected = self.protected();
        let mut p = Params::new();
        p.set("subnetGroupName", lit(&self.phys(NameKind::RdsSubnetGroup, "")))
            .set("description", lit(&format!("panka RDS {}", self.c.id)))
            .set("subnets", self.vs(&network.private_subnet_ids)?)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka RDS {}", self.c.id)))
            .set("vpcId", self.v(&network.vpc_id)?)
            .set("identifier", lit(&identifier))
            .set("engine", lit(s.engine.kind.as_str()))
            .set("engineVersion", self.v(&rds_engine_version(s.engine.kind, &s.engine.version))?)
            .set("instanceClass", self.v(&s.instance.class)?)
            .set("allocatedStorage", s.instance.storage.allocated_gb)
            .opt("maxAllocatedStorage", s.instance.storage.max_allocated_gb)
            .set("storageType", self.v(&s.instance.storage.kind)?)
            .opt("iops", s.instance.storage.iops)
            .set("storageEncrypted", s.encryption.at_rest)
            .opt("kmsKeyId", self.vo(s.encryption.kms_key_id.as_deref())?)
            .set("dbName", self.v(&s.database.name)?)
            .set("username", self.v(&s.database.username)?)
            .set("port", s.database.port.unwrap_or(s.engine.kind.default_port()))
            .set("multiAz", s.availability.multi_az)
            .set("backupRetentionDays", s.backup.automated.retention_days)
            .opt("backupWindow", self.vo(s.backup.automated.window.as_deref())?)
            .opt("maintenanceWindow", self.vo(s.maintenance_window.as_deref())?)
            .set("deletionProtection", self.deletion_protection(s.deletion_protection))
            .set("skipFinalSnapshot", !protected)
            .opt("finalSnapshotIdentifier", protected.then(|| final_snapshot_identifier(&identifier)))
            .set("performanceInsights", s.performance_insights)
            .set(
                "logExports",
                seq(
                    match s.engine.kind {
                        RdsEngineType::Postgres => &["postgresql", "upgrade"][..],
                        RdsEngineType::Mysql | RdsEngineType::Mariadb => &["error", "slowquery"][..],
                    },
                    |x| lit(x),
                ),
            )
            .set("protect", protected);
        let v = render_file(files::RDS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

impl Checker<'_> {
    pub(crate) fn rds(&mut self, c: &Component, r: &RdsSpec) {
        if !is_version(&r.engine.version) {
            self.err(
                "invalid-value",
                c.span(&path("spec.engine.version")),
                format!("engine version `{}` is not a version number", r.engine.version),
            )
            .hint = Some("write it quoted, e.g. `\"16.4\"` or `\"8.0.39\"`".into());
        }
        if !r.instance.class.starts_with("db.") {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.class")),
                format!("`{}` is not an RDS instance class", r.instance.class),
            )
            .hint = Some("instance classes look like `db.t4g.medium` or `db.r7g.large`".into());
        }
        let st = &r.instance.storage;
        if !(20..=65536).contains(&st.allocated_gb) {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.allocatedGB")),
                format!("{} GB is out of range (20–65536)", st.allocated_gb),
            );
        }
        if let Some(max) = st.max_allocated_gb {
            if max <= st.allocated_gb {
                self.err(
                    "invalid-value",
                    c.span(&path("spec.instance.storage.maxAllocatedGB")),
                    "maxAllocatedGB must be larger than allocatedGB",
                );
            }
        }
        if !["gp2", "gp3", "io1", "io2", "standard"].contains(&st.kind.as_str()) {
            let hint = did_you_mean(&st.kind, ["gp2", "gp3", "io1", "io2", "standard"]);
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.type")),
                format!("unknown storage type `{}`", st.kind),
            )
            .hint = hint;
        }
        if st.iops.is_some() && !["io1", "io2", "gp3"].contains(&st.kind.as_str()) {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.iops")),
                "iops can only be set for io1, io2 or gp3 storage",
            );
        }
        if r.backup.automated.retention_days > 35 {
            self.err(
                "invalid-value",
                c.span(&path("spec.backup.automated.retentionDays")),
                "backup retention is at most 35 days",
            );
        }
        let db = &r.database.name;
        if db.is_empty()
            || db.len() > 63
            || !db.starts_with(|c: char| c.is_ascii_alphabetic())
            || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.err(
                "invalid-name",
                c.span(&path("spec.database.name")),
                format!("database name `{db}` is not valid"),
            )
            .hint = Some("start with a letter; letters, digits and `_`; at most 63 characters".into());
        }
        let user = &r.database.username;
        if ["admin", "rdsadmin", "root", "postgres"].contains(&user.as_str())
            && !(user == "admin" && r.engine.kind != RdsEngineType::Postgres)
        {
            self.err(
                "invalid-name",
                c.span(&path("spec.database.username")),
                format!("`{user}` is reserved by RDS for this engine"),
            )
            .hint = Some("use an application user name such as `app`".into());
        }
        if let Some(p) = r.database.port {
            if !(1150..=65535).contains(&p) {
                self.err(
                    "invalid-value",
                    c.span(&path("spec.database.port")),
                    format!("port {p} is out of range for RDS (1150–65535)"),
                );
            }
        }
        if self.protected() && r.deletion_protection == Some(false) {
            self.warn(
                "unprotected",
                c.span(&path("spec.deletionProtection")),
                format!(
                    "deletion protection is off for `{}` in protected environment `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        if self.protected() && r.backup.automated.retention_days == 0 {
            self.warn(
                "no-backups",
                c.span(&path("spec.backup.automated.retentionDays")),
                format!("automated backups are off for `{}` in `{}`", c.id, self.stack.environment),
            );
        }
    }
}

/// The engine version an RDS instance is given: the major version
/// (`16.4` → `16`, MySQL `8.0.35` → `8.0`), since the instance upgrades
/// minor versions itself (`autoMinorVersionUpgrade`, always on): a pinned
/// minor would ask Pulumi to downgrade after AWS upgraded it. A version
/// that is already a major one, or that panka cannot read, is kept.
pub fn rds_engine_version(engine: RdsEngineType, version: &str) -> String {
    let numeric: Vec<&str> = version.split('.').collect();
    if numeric.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return version.to_string();
    }
    let major_parts = match engine {
        // PostgreSQL 10 and later: the first number; 9.6 had two.
        RdsEngineType::Postgres => {
            if numeric[0].parse::<u32>().unwrap_or(0) >= 10 {
                1
            } else {
                2
            }
        }
        RdsEngineType::Mysql | RdsEngineType::Mariadb => 2,
    };
    numeric.iter().take(major_parts).copied().collect::<Vec<_>>().join(".")
}
