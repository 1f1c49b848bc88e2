//! Physical AWS names for the resources panka creates.
//!
//! Every name is a pure function of its parts and always satisfies the
//! naming rules of its resource type: length limit, character set, case,
//! first and last character. A name that would be too long is truncated and
//! given a stable suffix: `-` and the first 8 hex digits of the SHA-256 of
//! the full untruncated name, so two long names that share a prefix still
//! differ.
//!
//! # What a name derives from ([`NameScope`])
//!
//! Deployments that share an AWS account (tenants, stacks, environments,
//! regions) must never share a physical name:
//!
//! - **Regional names** (target groups, queues, topics, tables, log groups,
//!   security groups, ECS services, RDS and ElastiCache ids, Lambda
//!   functions, schedules …) only collide within one region of one account.
//!   They are `[tenant,] stack, environment, service, component[, role]`:
//!   the tenant is left out when it is `default`, so a single-team
//!   deployment keeps the names it had before tenants existed (a changed
//!   RDS identifier would replace the database).
//! - **Global names** (IAM roles: one namespace per account, every region)
//!   carry the same readable parts and always end in a hash of the parts
//!   plus the tenant, the region and the account (when configured), so the
//!   same stack deployed to two regions of one account gets two roles.
//! - **S3 buckets** (one namespace for all of AWS) take a readable
//!   `bucketPrefix` ([`bucket_prefix`], at most 37 characters) and AWS's
//!   provider adds a unique suffix that Pulumi keeps in its state: a bucket
//!   name can neither collide nor be guessed and claimed in advance.
//! - **Target groups** also carry their port and protocol version
//!   (`…-8080`, `…-8080g` for gRPC): both force a replacement, and a new name
//!   lets Pulumi create the new target group before it deletes the old one.
//!
//! Migration from names without the scope (panka before issue 12): IAM role
//! names gain the region hash (roles are replaced, create before delete;
//! task definitions get a new revision), target group names gain the port
//! (replaced, create before delete; the listener rule and the service
//! follow), and buckets keep their old fixed name (the program ignores
//! changes to `bucket`/`bucketPrefix`, so an existing bucket is never
//! replaced; only new buckets get a prefix). Nothing else changes for
//! tenant `default`. See `docs/names.md`.

use sha2::{Digest, Sha256};

/// An AWS resource type with its own naming rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// `aws:lb:TargetGroup` name: 32, alphanumerics and hyphens.
    TargetGroup,
    /// `aws:elasticache:ReplicationGroup` id: 40, lowercase, starts with a letter.
    ElastiCacheReplicationGroup,
    /// `aws:elasticache:SubnetGroup` name: 255, lowercase.
    ElastiCacheSubnetGroup,
    /// `aws:rds:Instance` identifier: 63, lowercase, starts with a letter.
    RdsInstance,
    /// `aws:rds:SubnetGroup` name: 255, lowercase.
    RdsSubnetGroup,
    /// `aws:iam:Role` name: 64.
    IamRole,
    /// `aws:iam:RolePolicy` name: 128.
    IamRolePolicy,
    /// `aws:sqs:Queue` name: 80, including a `.fifo` suffix.
    SqsQueue,
    /// `aws:s3:Bucket` name: 63, lowercase, globally unique.
    S3Bucket,
    /// `aws:s3:Bucket` `bucketPrefix`: 37, lowercase (AWS adds 26).
    S3BucketPrefix,
    /// `aws:lambda:Function` name: 64.
    LambdaFunction,
    /// `aws:cloudwatch:LogGroup` name: 512, `/`-separated.
    LogGroup,
    /// `aws:ec2:SecurityGroup` name: 255, not starting with `sg-`.
    SecurityGroup,
    /// `aws:ecs:Service` name: 255.
    EcsService,
    /// `aws:ecs:TaskDefinition` family: 255.
    EcsTaskFamily,
    /// `aws:dynamodb:Table` name: 255.
    DynamoDbTable,
    /// `aws:sns:Topic` name: 256, including a `.fifo` suffix.
    SnsTopic,
    /// `aws:scheduler:Schedule` name: 64.
    Schedule,
    /// `aws:appautoscaling:Policy` name: 255, no `:` or `/`.
    ScalingPolicy,
    /// `aws:cloudwatch:MetricAlarm` name: 255.
    MetricAlarm,
}

struct Rules {
    max: usize,
    lowercase: bool,
    /// Characters allowed besides ASCII letters and digits.
    extra: &'static str,
    /// Separator between parts.
    sep: char,
    /// Prefix before the first part (`/` for log groups).
    prefix: &'static str,
    /// The first character must be a letter.
    letter_first: bool,
    /// Always add the hash suffix (global namespaces).
    always_hash: bool,
}

impl NameKind {
    /// All kinds, for tests and documentation.
    pub const ALL: [NameKind; 20] = [
        NameKind::TargetGroup,
        NameKind::ElastiCacheReplicationGroup,
        NameKind::ElastiCacheSubnetGroup,
        NameKind::RdsInstance,
        NameKind::RdsSubnetGroup,
        NameKind::IamRole,
        NameKind::IamRolePolicy,
        NameKind::SqsQueue,
        NameKind::S3Bucket,
        NameKind::LambdaFunction,
        NameKind::LogGroup,
        NameKind::SecurityGroup,
        NameKind::EcsService,
        NameKind::EcsTaskFamily,
        NameKind::DynamoDbTable,
        NameKind::SnsTopic,
        NameKind::Schedule,
        NameKind::ScalingPolicy,
        NameKind::S3BucketPrefix,
        NameKind::MetricAlarm,
    ];

    /// Names of this kind share one namespace across every region of an
    /// account (IAM), so they carry the region in their hash.
    pub fn is_global(self) -> bool {
        matches!(self, NameKind::IamRole)
    }

    /// The AWS length limit of this kind of name.
    pub fn max_len(self) -> usize {
        self.rules().max
    }

    fn rules(self) -> Rules {
        let r = |max, lowercase, extra, letter_first| Rules {
            max,
            lowercase,
            extra,
            sep: '-',
            prefix: "",
            letter_first,
            always_hash: false,
        };
        match self {
            NameKind::TargetGroup => r(32, false, "-", false),
            NameKind::ElastiCacheReplicationGroup => r(40, true, "-", true),
            NameKind::ElastiCacheSubnetGroup => r(255, true, "-", false),
            NameKind::RdsInstance => r(63, true, "-", true),
            NameKind::RdsSubnetGroup => r(255, true, "-_.", false),
            NameKind::IamRole => r(64, false, "+=,.@_-", false),
            NameKind::IamRolePolicy => r(128, false, "+=,.@_-", false),
            NameKind::SqsQueue => r(80, false, "-_", false),
            NameKind::S3Bucket => Rules { always_hash: true, ..r(63, true, "-", true) },
            NameKind::LambdaFunction => r(64, false, "-_", false),
            NameKind::LogGroup => Rules { sep: '/', prefix: "/", ..r(512, false, "-_./#", false) },
            NameKind::SecurityGroup => r(255, false, "-_.", true),
            NameKind::EcsService => r(255, false, "-_", false),
            NameKind::EcsTaskFamily => r(255, false, "-_", false),
            NameKind::DynamoDbTable => r(255, false, "-_.", false),
            NameKind::SnsTopic => r(256, false, "-_", false),
            NameKind::Schedule => r(64, false, "-_.", false),
            NameKind::ScalingPolicy => r(255, false, "-_.", false),
            NameKind::S3BucketPrefix => r(36, true, "-", true),
            NameKind::MetricAlarm => r(255, false, "-_.", false),
        }
    }
}

/// The stable 8-hex-digit hash of `text`.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The physical name of a resource of `kind` made of `parts`.
pub fn physical_name(kind: NameKind, parts: &[&str]) -> String {
    physical_name_with(kind, parts, "", "")
}

/// Like [`physical_name`], with a fixed `suffix` that is kept whole and
/// counts toward the limit (`.fifo` for FIFO queues and topics), and a
/// `seed` that only feeds the hash (the tenant, for global namespaces).
pub fn physical_name_with(kind: NameKind, parts: &[&str], suffix: &str, seed: &str) -> String {
    build(kind, parts, suffix, seed, false)
}

/// A name in an account-wide namespace: the readable parts, always followed
/// by the hash of the parts and `seed` (the scope's
/// [`global_seed`](NameScope::global_seed)).
pub fn global_name(kind: NameKind, parts: &[&str], seed: &str) -> String {
    build(kind, parts, "", seed, true)
}

/// The `bucketPrefix` of a bucket made of `parts`: at most 37 characters,
/// lowercase, ending in `-`; AWS's provider appends 26 unique characters.
pub fn bucket_prefix(parts: &[&str]) -> String {
    format!("{}-", physical_name(NameKind::S3BucketPrefix, parts))
}

/// `tenant` as the first part of regional names, or `None` for `default`.
pub fn tenant_part(tenant: &str) -> Option<&str> {
    (!tenant.is_empty() && tenant != "default").then_some(tenant)
}

/// Where a deployment lives, beyond its stack and environment: what keeps
/// the physical names of two deployments in one account apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameScope {
    /// The tenant (`default` with none configured).
    pub tenant: String,
    /// The region the stack's environment deploys to.
    pub region: String,
    /// The account, when the stack or environment configures one.
    pub account: Option<String>,
}

impl NameScope {
    /// The tenant as the first part of regional names, or `None` for
    /// `default` (names from before tenants existed stay as they were).
    pub fn tenant_part(&self) -> Option<&str> {
        tenant_part(&self.tenant)
    }

    /// What the hash of a global name mixes in besides its parts.
    pub fn global_seed(&self) -> String {
        format!("{}\u{0}{}\u{0}{}", self.tenant, self.region, self.account.as_deref().unwrap_or(""))
    }

    /// The name of a resource of `kind` made of `parts`, within this scope:
    /// the tenant first (unless `default`), and the region hash for global
    /// kinds.
    pub fn name(&self, kind: NameKind, parts: &[&str]) -> String {
        let mut all: Vec<&str> = Vec::with_capacity(parts.len() + 1);
        all.extend(self.tenant_part());
        all.extend_from_slice(parts);
        if kind.is_global() {
            global_name(kind, &all, &self.global_seed())
        } else {
            physical_name(kind, &all)
        }
    }
}

fn build(kind: NameKind, parts: &[&str], suffix: &str, seed: &str, force_hash: bool) -> String {
    let rules = kind.rules();
    let sanitized: Vec<String> = parts.iter().map(|p| sanitize(p, &rules)).filter(|p| !p.is_empty()).collect();
    let mut body = sanitized.join(&rules.sep.to_string());
    if body.is_empty() {
        body.push('x');
    }
    if rules.letter_first && !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        body.insert_str(0, "p-");
    }
    if kind == NameKind::SecurityGroup && body.starts_with("sg-") {
        body.insert_str(0, "p-");
    }
    let budget = rules.max - rules.prefix.len() - suffix.len();
    if !rules.always_hash && !force_hash && body.len() <= budget {
        return format!("{}{body}{suffix}", rules.prefix);
    }
    let hash = short_hash(&format!("{seed}\u{0}{}", parts.join("\u{0}")));
    let keep = budget - hash.len() - 1;
    let mut head: String = body.chars().take(keep).collect();
    while head.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        head.pop();
    }
    if head.is_empty() {
        format!("{}{hash}{suffix}", rules.prefix)
    } else {
        format!("{}{head}-{hash}{suffix}", rules.prefix)
    }
}

/// Keeps allowed characters, maps the rest to `-`, collapses runs of `-` and
/// trims non-alphanumerics at both ends.
fn sanitize(part: &str, rules: &Rules) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        let c = if rules.lowercase { c.to_ascii_lowercase() } else { c };
        let ok = c.is_ascii_alphanumeric() || (rules.extra.contains(c) && c != rules.sep);
        let c = if ok { c } else { '-' };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: &[&str] = &["payments", "dev", "backend", "api"];
    const LONG: &[&str] = &[
        "payments-platform-team-x",
        "production-eu-west-1",
        "backend-service-for-orders",
        "order-processing-worker-01",
    ];

    fn valid(kind: NameKind, name: &str) -> Result<(), String> {
        let max = kind.max_len();
        if name.len() > max {
            return Err(format!("{name} is {} > {max}", name.len()));
        }
        let rules = kind.rules();
        for c in name.chars() {
            let ok = c.is_ascii_alphanumeric() || rules.extra.contains(c) || c == rules.sep;
            if !ok {
                return Err(format!("{name} has {c:?}"));
            }
            if rules.lowercase && c.is_ascii_uppercase() {
                return Err(format!("{name} is not lowercase"));
            }
        }
        let body = name.strip_prefix(rules.prefix).unwrap_or(name);
        if rules.letter_first && !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("{name} does not start with a letter"));
        }
        if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(format!("{name} ends badly"));
        }
        if matches!(kind, NameKind::RdsInstance | NameKind::ElastiCacheReplicationGroup) && name.contains("--") {
            return Err(format!("{name} has a double hyphen"));
        }
        Ok(())
    }

    #[test]
    fn every_kind_fits_its_limit_and_charset() {
        let huge = "x".repeat(600);
        let cases: Vec<Vec<&str>> = vec![
            SHORT.to_vec(),
            LONG.to_vec(),
            vec!["Weird_Name!!", "..", "--a--", "9lives"],
            vec![&huge, "dev"],
            vec!["", "", ""],
        ];
        for kind in NameKind::ALL {
            for parts in &cases {
                let name = physical_name(kind, parts);
                valid(kind, &name).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                assert_eq!(name, physical_name(kind, parts), "{kind:?} not deterministic");
            }
        }
    }

    #[test]
    fn short_names_are_readable_and_long_ones_hashed() {
        assert_eq!(physical_name(NameKind::TargetGroup, SHORT), "payments-dev-backend-api");
        assert_eq!(physical_name(NameKind::LogGroup, SHORT), "/payments/dev/backend/api");
        let tg = physical_name(NameKind::TargetGroup, LONG);
        assert!(tg.len() <= 32 && tg.len() >= 28, "{tg}");
        assert!(tg.starts_with("payments-platform-team-"), "{tg}");
        let id = physical_name(NameKind::ElastiCacheReplicationGroup, LONG);
        assert!(id.len() <= 40 && id.len() >= 36, "{id}");
        let rds = physical_name(NameKind::RdsInstance, LONG);
        assert!(rds.len() <= 63);
        assert_eq!(rds, physical_name(NameKind::RdsInstance, LONG));
    }

    #[test]
    fn long_names_with_a_common_prefix_differ() {
        for kind in NameKind::ALL {
            let a = physical_name(kind, &[&"a".repeat(300), "one"]);
            let b = physical_name(kind, &[&"a".repeat(300), "two"]);
            assert_ne!(a, b, "{kind:?}");
        }
    }

    #[test]
    fn buckets_are_always_suffixed_and_seeded() {
        let a = physical_name_with(NameKind::S3Bucket, SHORT, "", "tenant-a");
        let b = physical_name_with(NameKind::S3Bucket, SHORT, "", "tenant-b");
        assert!(a.starts_with("payments-dev-backend-api-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a.len(), "payments-dev-backend-api-".len() + 8);
    }

    #[test]
    fn fifo_suffix_is_kept_within_the_limit() {
        let q = physical_name_with(NameKind::SqsQueue, &[&"q".repeat(200)], ".fifo", "");
        assert!(q.ends_with(".fifo") && q.len() <= 80, "{q}");
        let q = physical_name_with(NameKind::SqsQueue, SHORT, ".fifo", "");
        assert_eq!(q, "payments-dev-backend-api.fifo");
    }

    #[test]
    fn security_group_names_never_start_with_sg() {
        let n = physical_name(NameKind::SecurityGroup, &["sg", "x"]);
        assert!(!n.starts_with("sg-"), "{n}");
    }

    /// Every name of a tenant starts with `<tenant>-` (container log groups
    /// with `/ecs/<tenant>/`), however long the other parts: the tenant's
    /// IAM policy grants on `<tenant>-*` (src/tenant/policy.rs), so a name
    /// whose truncation dropped the tenant would be out of its reach — or
    /// in another tenant's. Tenants are at most 20 characters and start with
    /// a letter (`tenant::policy::scoping_problem`).
    #[test]
    fn the_tenant_leads_every_name_whatever_is_truncated() {
        let max = "m".repeat(32);
        let stacks = ["shop", "payments-platform-orders", "x"];
        let parts_of = |stack: &'static str| -> Vec<Vec<String>> {
            vec![
                vec![stack.into(), "dev".into(), "api".into(), "web".into()],
                vec![stack.into(), "production-eu-west-1".into(), max.clone(), max.clone()],
                vec![stack.into(), max.clone(), max.clone(), max.clone(), "scheduler".into()],
            ]
        };
        let mut checked = 0;
        for tenant in ["t", "a-b", "abcdefghij-klmnopqrs"] {
            let scope = NameScope { tenant: tenant.into(), region: "eu-west-1".into(), account: None };
            let lead = format!("{tenant}-");
            for stack in stacks {
                for parts in parts_of(stack) {
                    for suffix in ["", "exec", "8080g", "dlq"] {
                        let mut p: Vec<&str> = parts.iter().map(String::as_str).collect();
                        if !suffix.is_empty() {
                            p.push(suffix);
                        }
                        for kind in NameKind::ALL {
                            let name = scope.name(kind, &p);
                            valid(kind, &name).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                            let ok = match kind {
                                NameKind::LogGroup => name.starts_with(&format!("/{tenant}/")),
                                _ => name.starts_with(&lead),
                            };
                            assert!(ok, "{kind:?} of tenant {tenant}: {name}");
                            checked += 1;
                        }
                        // The emitter's other paths: a fixed suffix, a bucket prefix, a log group.
                        let mut with_tenant = vec![tenant];
                        with_tenant.extend(&p);
                        for kind in [NameKind::SqsQueue, NameKind::SnsTopic] {
                            let name = physical_name_with(kind, &with_tenant, ".fifo", "");
                            assert!(name.starts_with(&lead) && name.len() <= kind.max_len(), "{name}");
                        }
                        let prefix = bucket_prefix(&with_tenant);
                        assert!(prefix.starts_with(&lead) && prefix.len() <= 37, "{prefix}");
                        let mut log = vec!["ecs", tenant];
                        log.extend(&p);
                        let group = physical_name(NameKind::LogGroup, &log);
                        assert!(group.starts_with(&format!("/ecs/{tenant}/")), "{group}");
                        let function = scope.name(NameKind::LambdaFunction, &p);
                        assert!(format!("/aws/lambda/{function}").starts_with(&format!("/aws/lambda/{lead}")));
                    }
                }
            }
        }
        assert!(checked > 3 * 3 * 3 * 4 * 19, "{checked}");
    }

    /// Tenant `default` adds nothing: its regional names are byte-identical
    /// to the names without a scope (existing deployments depend on them).
    #[test]
    fn the_default_tenant_adds_nothing_to_regional_names() {
        let scope = NameScope { tenant: "default".into(), region: "eu-west-1".into(), account: None };
        for kind in NameKind::ALL.into_iter().filter(|k| !k.is_global()) {
            for parts in [SHORT, LONG] {
                assert_eq!(scope.name(kind, parts), physical_name(kind, parts), "{kind:?}");
            }
        }
        assert_eq!(physical_name(NameKind::TargetGroup, LONG), "payments-platform-team-953e935c");
    }
}
