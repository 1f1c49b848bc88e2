//! Tenants (SPEC §12): the registry of the teams a platform team onboards
//! (`<prefix>/tenants/<name>/tenant.json`), and their lifecycle — create,
//! rotate, delete — each of which applies the tenant's IAM program
//! ([`program`]) through the same Pulumi runner as components.
//!
//! Invariants:
//! - a registry record is created with `If-None-Match: *` (of two concurrent
//!   creates of one name exactly one wins, before either runs Pulumi) and
//!   rewritten with `If-Match` on the ETag it was read with;
//! - the external id is never stored by panka: it is printed once (create,
//!   rotate) and lives in the role's trust policy; the record keeps its
//!   SHA-256 and a version number, so `show` can say which one is current;
//! - nothing here touches a tenant's state: `delete` reads whether stacks or
//!   live locks exist and, with `force`, leaves the state where it is.

pub mod policy;
pub mod program;

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::{explain, AwsError, Resource};
use policy::Trust;

/// The `format_version` of `tenant.json`.
pub const FORMAT_VERSION: &str = "panka-tenant-v1";

/// `tenants/<name>/tenant.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub format_version: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
    pub trust: Vec<Trust>,
    /// A glob over the stack names the tenant may use (`*`: all).
    pub stacks: String,
    /// 1 at creation, +1 per rotation.
    pub external_id_version: u32,
    /// SHA-256 (hex) of the current external id; never the id itself.
    pub external_id_sha256: String,
    /// The Pulumi project of the tenant's IAM program.
    pub pulumi_project: String,
    /// Set once the IAM program was applied; `None`: create did not finish
    /// (`rotate` finishes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
}

impl fmt::Display for TenantRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tenant      {}", self.name)?;
        writeln!(f, "created     {} by {}", self.created_at, self.created_by)?;
        writeln!(
            f,
            "role        {}",
            self.role_arn.as_deref().unwrap_or("(not applied: run `panka admin tenant rotate` to finish)")
        )?;
        writeln!(f, "stacks      {}", self.stacks)?;
        for t in &self.trust {
            writeln!(f, "trusts      {}", t.display())?;
        }
        let rotated = self.rotated_at.as_deref().map(|r| format!(", rotated {r}")).unwrap_or_default();
        writeln!(
            f,
            "external id version {} (set{rotated}; its value is shown only by create and rotate)",
            self.external_id_version
        )?;
        writeln!(f, "pulumi      project `{}`, stack `{}`", self.pulumi_project, program::STACK)
    }
}

/// A new external id: 128 random bits (UUID v4's generator), hex.
pub fn new_external_id() -> String {
    format!("panka-{}", uuid::Uuid::new_v4().simple())
}

pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the tenant `{0}` already exists")]
    Exists(String),
    #[error("there is no tenant `{0}`")]
    Missing(String),
    #[error("the record of tenant `{0}` changed while this command ran")]
    Changed(String),
    #[error("`{key}` is not a tenant record: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("{}{}", .0.message, .0.hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Aws(AwsError),
}

/// The registry in the state bucket.
#[derive(Debug, Clone)]
pub struct Registry {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// `<prefix>/` or empty.
    base: String,
}

/// An ETag read with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Etag(pub String);

impl Registry {
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Registry {
        let prefix = prefix.trim_matches('/');
        let base = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Registry { s3, bucket: bucket.to_string(), base }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `<prefix>/tenants/`.
    pub fn tenants_root(&self) -> String {
        format!("{}tenants/", self.base)
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}/tenant.json", self.tenants_root())
    }

    /// `<prefix>/admin/pulumi`: where the tenants' IAM programs keep their
    /// Pulumi state (admin-only).
    pub fn pulumi_dir(&self) -> String {
        format!("{}admin/pulumi", self.base)
    }

    fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        op: &str,
        key: &str,
    ) -> RegistryError {
        RegistryError::Aws(explain(err, &format!("{op} `{key}`"), Resource::Bucket(&self.bucket)))
    }

    /// Writes a new record; `Exists` when the name is taken (also when
    /// another create won the race).
    pub async fn create(&self, record: &TenantRecord) -> Result<Etag, RegistryError> {
        let key = self.key(&record.name);
        let body = serde_json::to_vec_pretty(record).expect("a record serializes");
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match put {
            Ok(out) => Ok(Etag(out.e_tag().unwrap_or_default().to_string())),
            Err(err)
                if matches!(err.raw_response().map(|r| r.status().as_u16()), Some(412) | Some(409))
                    || matches!(err.code(), Some("PreconditionFailed" | "ConditionalRequestConflict")) =>
            {
                Err(RegistryError::Exists(record.name.clone()))
            }
            Err(err) => Err(self.aws(&err, "PutObject", &key)),
        }
    }

    /// Rewrites a record read with `etag`.
    pub async fn update(&self, record: &TenantRecord, etag: &Etag) -> Result<Etag, RegistryError> {
        let key = self.key(&record.name);
        let body = serde_json::to_vec_pretty(record).expect("a record serializes");
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .if_match(&etag.0)
            .body(ByteStream::from(body))
            .send()
            .await;
        match put {
            Ok(out) => Ok(Etag(out.e_tag().unwrap_or_default().to_string())),
            Err(err)
                if matches!(err.raw_response().map(|r| r.status().as_u16()), Some(412) | Some(409) | Some(404)) =>
            {
                Err(RegistryError::Changed(record.name.clone()))
            }
            Err(err) => Err(self.aws(&err, "PutObject", &key)),
        }
    }

    pub async fn get(&self, name: &str) -> Result<(TenantRecord, Etag), RegistryError> {
        let key = self.key(name);
        let out = match self.s3.get_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => out,
            Err(err) if err.code() == Some("NoSuchKey") => return Err(RegistryError::Missing(name.to_string())),
            Err(err) => return Err(self.aws(&err, "GetObject", &key)),
        };
        let etag = Etag(out.e_tag().unwrap_or_default().to_string());
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| RegistryError::Corrupt { key: key.clone(), detail: e.to_string() })?
            .into_bytes();
        let record: TenantRecord = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Corrupt { key: key.clone(), detail: e.to_string() })?;
        if record.name != name {
            return Err(RegistryError::Corrupt { key, detail: format!("it names the tenant `{}`", record.name) });
        }
        Ok((record, etag))
    }

    /// The names under `tenants/` (one level: ListObjectsV2 with a delimiter).
    pub async fn names(&self) -> Result<Vec<String>, RegistryError> {
        let root = self.tenants_root();
        let mut names = Vec::new();
        let mut pages =
            self.s3.list_objects_v2().bucket(&self.bucket).prefix(&root).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.aws(&e, "ListObjectsV2", &root))?;
            for p in page.common_prefixes() {
                if let Some(name) = p.prefix().and_then(|p| p.strip_prefix(&root)).map(|p| p.trim_end_matches('/')) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// The stacks (`stack/env`) that have objects under the tenant's prefix.
    pub async fn stacks(&self, name: &str) -> Result<Vec<String>, RegistryError> {
        let root = format!("{}{name}/stacks/", self.tenants_root());
        let mut found = std::collections::BTreeSet::new();
        let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).prefix(&root).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.aws(&e, "ListObjectsV2", &root))?;
            for o in page.contents() {
                let rest = o.key().and_then(|k| k.strip_prefix(&root)).unwrap_or_default();
                let mut parts = rest.split('/');
                if let (Some(stack), Some(env)) = (parts.next(), parts.next()) {
                    found.insert(format!("{stack}/{env}"));
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Deletes the record (only the record: the state stays).
    pub async fn delete(&self, name: &str) -> Result<(), RegistryError> {
        let key = self.key(name);
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| self.aws(&e, "DeleteObject", &key))?;
        Ok(())
    }
}

/// What `create` and `rotate` hand to the platform team, once.
#[derive(Debug, Clone, Serialize)]
pub struct Handover {
    pub tenant: String,
    pub role_arn: String,
    /// Printed once; panka keeps only its hash.
    pub external_id: String,
    pub external_id_version: u32,
    /// The app team's `~/.panka/config.yaml`.
    pub config_snippet: String,
    /// How to assume the role, per trusted principal.
    pub assume: Vec<String>,
}

impl Handover {
    pub fn new(
        record: &TenantRecord,
        external_id: &str,
        bucket: &str,
        prefix: &str,
        table: &str,
        region: &str,
    ) -> Handover {
        let role_arn = record.role_arn.clone().unwrap_or_default();
        let mut snippet = String::new();
        snippet.push_str("# ~/.panka/config.yaml of the app team\n");
        snippet.push_str(&format!("tenant:\n  name: {}\n", record.name));
        snippet.push_str(&format!("backend:\n  type: s3\n  bucket: {bucket}\n"));
        if !prefix.is_empty() {
            snippet.push_str(&format!("  prefix: {prefix}\n"));
        }
        snippet.push_str(&format!(
            "locks:\n  type: dynamodb\n  table: {table}\naws:\n  region: {region}\n  profile: panka-{}\n",
            record.name
        ));
        let mut assume = Vec::new();
        for t in &record.trust {
            match t {
                Trust::Principal { arn } => assume.push(format!(
                    "as {arn}: ~/.aws/config profile\n[profile panka-{name}]\nrole_arn = {role_arn}\nexternal_id = {external_id}\nsource_profile = <a profile of {arn}>\n(or: aws sts assume-role --role-arn {role_arn} --role-session-name {name} --external-id <id>)",
                    name = record.name
                )),
                Trust::Oidc { provider, subject } => assume.push(format!(
                    "as web identity {subject} of {provider}: AWS_ROLE_ARN={role_arn} with AWS_WEB_IDENTITY_TOKEN_FILE (GitHub Actions: aws-actions/configure-aws-credentials with role-to-assume: {role_arn}); no external id"
                )),
            }
        }
        Handover {
            tenant: record.name.clone(),
            role_arn,
            external_id: external_id.to_string(),
            external_id_version: record.external_id_version,
            config_snippet: snippet,
            assume,
        }
    }
}

impl fmt::Display for Handover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tenant `{}`: role {}", self.tenant, self.role_arn)?;
        writeln!(
            f,
            "external id (version {}, shown once — hand it to the tenant over a private channel): {}",
            self.external_id_version, self.external_id
        )?;
        writeln!(f)?;
        f.write_str(&self.config_snippet)?;
        writeln!(f)?;
        for a in &self.assume {
            writeln!(f, "{a}")?;
        }
        Ok(())
    }
}

/// One line of `panka admin tenant list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub role_arn: Option<String>,
    pub created_at: Option<String>,
    /// A record that could not be read: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `panka admin tenant list`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Listing {
    pub tenants: Vec<Listed>,
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tenants.is_empty() {
            return writeln!(
                f,
                "no tenants\nhint: `panka admin tenant create <name> --trust <principal ARN>` onboards one"
            );
        }
        for t in &self.tenants {
            match &t.problem {
                Some(p) => writeln!(f, "{:<20}  ({p})", t.name)?,
                None => writeln!(
                    f,
                    "{:<20}  {}  {}",
                    t.name,
                    t.created_at.as_deref().unwrap_or("-"),
                    t.role_arn.as_deref().unwrap_or("(not applied)")
                )?,
            }
        }
        Ok(())
    }
}

/// What `delete` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub tenant: String,
    /// `stack/env` with state left under the tenant's prefix.
    pub stacks_kept: Vec<String>,
    /// Live locks at the time (only with `--force`).
    pub live_locks: Vec<String>,
}

impl fmt::Display for Deleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "deleted tenant `{}`: its role, policy and boundary are gone, and its record", self.tenant)?;
        if !self.stacks_kept.is_empty() {
            writeln!(
                f,
                "kept: the state of {} under `tenants/{}/` (versioned; delete it by hand when no longer needed)",
                self.stacks_kept.join(", "),
                self.tenant
            )?;
        }
        if !self.live_locks.is_empty() {
            writeln!(f, "warning: live locks at deletion: {}", self.live_locks.join(", "))?;
        }
        Ok(())
    }
}

/// The records of every tenant, each read (a broken one is listed with why).
pub async fn list(registry: &Registry) -> Result<Listing, RegistryError> {
    let mut listing = Listing::default();
    for name in registry.names().await? {
        match registry.get(&name).await {
            Ok((r, _)) => listing.tenants.push(Listed {
                name,
                role_arn: r.role_arn,
                created_at: Some(r.created_at),
                problem: None,
            }),
            Err(RegistryError::Missing(_)) => listing.tenants.push(Listed {
                name,
                role_arn: None,
                created_at: None,
                problem: Some("objects but no tenant.json (deleted, state kept)".into()),
            }),
            Err(e) => {
                listing.tenants.push(Listed { name, role_arn: None, created_at: None, problem: Some(e.to_string()) })
            }
        }
    }
    Ok(listing)
}

/// The outputs of a tenant's IAM program that the record keeps.
pub fn record_outputs(record: &mut TenantRecord, outputs: &BTreeMap<String, serde_json::Value>) {
    let s = |k: &str| outputs.get(k).and_then(|v| v.as_str()).map(str::to_string);
    record.role_arn = s("roleArn");
    record.policy_arn = s("policyArn");
    record.boundary_arn = s("boundaryArn");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_random_and_only_their_hash_is_kept() {
        let a = new_external_id();
        let b = new_external_id();
        assert_ne!(a, b);
        assert!(a.len() >= 32);
        let record = TenantRecord {
            format_version: FORMAT_VERSION.into(),
            name: "shop".into(),
            created_at: "now".into(),
            created_by: "me".into(),
            trust: vec![Trust::parse("arn:aws:iam::123456789012:root").unwrap()],
            stacks: "*".into(),
            external_id_version: 1,
            external_id_sha256: sha256_hex(&a),
            pulumi_project: program::project("shop"),
            role_arn: Some("arn:aws:iam::123456789012:role/panka/panka-tenant-shop".into()),
            policy_arn: None,
            boundary_arn: None,
            rotated_at: None,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains(&a));
        assert!(!record.to_string().contains(&a));
        let handover = Handover::new(&record, &a, "state", "", "panka-locks", "us-east-1");
        assert!(handover.to_string().contains(&a), "create shows it once");
        assert!(handover.config_snippet.contains("name: shop"));
    }
}

/// What the lifecycle operations work with.
pub struct Admin<'a> {
    pub registry: &'a Registry,
    pub runner: &'a crate::pulumi::runner::Runner,
    pub locks: &'a dyn crate::lock::LockBackend,
    /// `backend.prefix` (trimmed).
    pub prefix: String,
    pub table: String,
    /// The region of the provider (IAM is global; the provider needs one).
    pub region: String,
    /// An emulator endpoint for the provider.
    pub endpoint: Option<String>,
    pub interrupt: crate::pulumi::runner::Interrupt,
}

/// Why a lifecycle operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A bad name, trust or glob (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// Refused: stacks or live locks remain (exit 2).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The IAM program failed (exit 4).
    #[error("the IAM program of tenant `{tenant}` failed: {source}{}", if .source.stderr().is_empty() { String::new() } else { format!("\n{}", .source.stderr()) })]
    Pulumi {
        tenant: String,
        #[source]
        source: crate::pulumi::runner::RunError,
    },
    #[error(transparent)]
    Locks(#[from] crate::lock::LockError),
}

/// Checks a tenant name the platform team gives (SPEC §12).
pub fn check_name(name: &str) -> Result<(), LifecycleError> {
    let problem = if name == crate::scope::DEFAULT_TENANT {
        Some("`default` is reserved for the single-team (untenanted) state".to_string())
    } else {
        crate::config::tenant_name_problem(name)
    };
    match problem {
        Some(why) => Err(LifecycleError::Invalid(format!(
            "invalid tenant name `{}`: {why}\nhint: a tenant name is lowercase letters, digits and `-`, at most {} characters",
            name.escape_debug(),
            crate::config::TENANT_NAME_MAX
        ))),
        None => Ok(()),
    }
}

/// Parses `--trust` values (at least one) and the `--stacks` glob.
pub fn check_request(trust: &[String], stacks: &str) -> Result<Vec<Trust>, LifecycleError> {
    if trust.is_empty() {
        return Err(LifecycleError::Invalid(
            "a tenant's role must trust someone\nhint: pass `--trust arn:aws:iam::<account>:role/<name>` (an IAM principal, with an external id) or `--trust oidc:<provider ARN>=<subject>` (e.g. GitHub Actions)".into(),
        ));
    }
    let parsed: Result<Vec<Trust>, String> = trust.iter().map(|t| Trust::parse(t)).collect();
    let parsed = parsed.map_err(LifecycleError::Invalid)?;
    if let Some(why) = policy::stacks_glob_problem(stacks) {
        return Err(LifecycleError::Invalid(format!("invalid `--stacks {stacks}`: {why}")));
    }
    Ok(parsed)
}

impl Admin<'_> {
    pub fn policy_input(&self, name: &str, stacks: &str) -> policy::PolicyInput {
        policy::PolicyInput {
            tenant: name.to_string(),
            bucket: self.registry.bucket().to_string(),
            prefix: self.prefix.clone(),
            table: self.table.clone(),
            stacks: stacks.to_string(),
        }
    }

    async fn apply(&self, record: &mut TenantRecord, external_id: &str) -> Result<(), LifecycleError> {
        let input = self.policy_input(&record.name, &record.stacks);
        let (_, program) = program::render(&input, &record.trust, external_id, &self.region, self.endpoint.as_deref())
            .map_err(|e| LifecycleError::Invalid(e.to_string()))?;
        let outputs = crate::deploy::up_program(self.runner, &program.to_yaml(), program::STACK, &self.interrupt)
            .await
            .map_err(|source| LifecycleError::Pulumi { tenant: record.name.clone(), source })?;
        record_outputs(record, &outputs);
        Ok(())
    }

    fn handover(&self, record: &TenantRecord, external_id: &str) -> Handover {
        Handover::new(record, external_id, self.registry.bucket(), &self.prefix, &self.table, &self.region)
    }

    /// Registers the tenant (one create wins), applies its IAM program and
    /// records the role.
    pub async fn create(
        &self,
        name: &str,
        trust: Vec<Trust>,
        stacks: &str,
        created_by: &str,
    ) -> Result<Handover, LifecycleError> {
        let input = self.policy_input(name, stacks);
        if let Some(why) = policy::scoping_problem(&input) {
            return Err(LifecycleError::Invalid(format!("refusing tenant `{name}`: {why}")));
        }
        let existing = self.registry.names().await?;
        if let Some(other) = policy::tenant_overlap(name, &existing) {
            return Err(LifecycleError::Refused(format!(
                "refusing tenant `{name}`: tenant `{other}` exists, and one's `<tenant>-` name prefix would cover the other's resources\nhint: choose a name that neither starts with `{other}-` nor is the start of `{other}` followed by `-`"
            )));
        }
        let external_id = new_external_id();
        let mut record = TenantRecord {
            format_version: FORMAT_VERSION.into(),
            name: name.to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            created_by: created_by.to_string(),
            trust,
            stacks: stacks.to_string(),
            external_id_version: 1,
            external_id_sha256: sha256_hex(&external_id),
            pulumi_project: program::project(name),
            role_arn: None,
            policy_arn: None,
            boundary_arn: None,
            rotated_at: None,
        };
        let etag = self.registry.create(&record).await?;
        self.apply(&mut record, &external_id).await?;
        self.registry.update(&record, &etag).await?;
        Ok(self.handover(&record, &external_id))
    }

    /// Replaces the external id (the old one stops working once the trust
    /// policy is updated), re-applying the program (which also finishes a
    /// create that failed half-way).
    pub async fn rotate(&self, name: &str) -> Result<Handover, LifecycleError> {
        let (mut record, etag) = self.registry.get(name).await?;
        let external_id = new_external_id();
        record.external_id_version += 1;
        record.external_id_sha256 = sha256_hex(&external_id);
        record.rotated_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.apply(&mut record, &external_id).await?;
        self.registry.update(&record, &etag).await?;
        Ok(self.handover(&record, &external_id))
    }

    /// Removes the tenant's role and record; refused while it has stacks or
    /// live locks, unless `force` (its state is kept either way).
    pub async fn delete(&self, name: &str, force: bool) -> Result<Deleted, LifecycleError> {
        let (record, _) = self.registry.get(name).await?;
        let stacks = self.registry.stacks(name).await?;
        let now = chrono::Utc::now().timestamp();
        let live: Vec<String> = self
            .locks
            .list(&format!("tenant:{name}:"))
            .await?
            .into_iter()
            .filter(|l| !l.is_expired(now))
            .map(|l| l.lock_key)
            .collect();
        if !force && (!stacks.is_empty() || !live.is_empty()) {
            let mut why = Vec::new();
            if !stacks.is_empty() {
                why.push(format!("it has stacks: {}", stacks.join(", ")));
            }
            if !live.is_empty() {
                why.push(format!("it holds live locks: {}", live.join(", ")));
            }
            return Err(LifecycleError::Refused(format!(
                "refusing to delete tenant `{name}`: {}\nhint: destroy its stacks first (`panka destroy` in tenant mode), or pass --force to remove its role and record and keep its state",
                why.join("; ")
            )));
        }
        crate::deploy::destroy_program(self.runner, &record.pulumi_project, program::STACK, &self.interrupt)
            .await
            .map_err(|source| LifecycleError::Pulumi { tenant: name.to_string(), source })?;
        self.registry.delete(name).await?;
        Ok(Deleted { tenant: name.to_string(), stacks_kept: stacks, live_locks: live })
    }
}
