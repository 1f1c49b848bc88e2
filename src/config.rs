//! panka's configuration (SPEC §11): flags > `PANKA_*` environment >
//! `~/.panka/config.yaml` (or `PANKA_CONFIG` / `--config`) > defaults.
//!
//! Every file key has an environment twin `PANKA_<SECTION>_<KEY>`
//! (`PANKA_BACKEND_BUCKET`, `PANKA_LOCKS_TABLE`, `PANKA_TENANT_NAME` …).
//! A bad config file gets the same located diagnostics as a stack file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diagnostic::sources::Sources;
use crate::load::yaml::{self, PathSeg};
use crate::load::{typed, LoadFailure};
use crate::validate::{Diagnostic, Diagnostics};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendType {
    S3,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocksType {
    Dynamodb,
    Local,
}

/// The file's shape: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub locks: LocksSection,
    #[serde(default)]
    pub aws: AwsSection,
    #[serde(default)]
    pub tenant: TenantSection,
    #[serde(default)]
    pub pulumi: PulumiSection,
    #[serde(default)]
    pub policy: PolicySection,
}

/// `policy:` (issue 15): the platform team's policies and the built-ins
/// switched off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Local directories or `.rego` files, and `s3://bucket/prefix` bundles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Built-in policies switched off, by name (`production-replicas` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSection {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<BackendType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocksSection {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<LocksType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// How long a lock lives without a heartbeat (`120s` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The longest one AWS call may take, retries included (`30s` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PulumiSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Where the Pulumi passphrase comes from: `env` (PULUMI_CONFIG_PASSPHRASE,
    /// the default), `file:<path>`, or a secrets provider URL (`awskms://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// How long a takeover waits for the Pulumi lock of the run it took over
    /// to clear (`4m` by default).
    #[serde(default, rename = "lockWait", skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<String>,
}

/// Every key with its environment twin, for docs and `panka config`.
pub const KEYS: [(&str, &str); 21] = [
    ("backend.type", "PANKA_BACKEND_TYPE"),
    ("backend.bucket", "PANKA_BACKEND_BUCKET"),
    ("backend.prefix", "PANKA_BACKEND_PREFIX"),
    ("backend.region", "PANKA_BACKEND_REGION"),
    ("backend.endpoint", "PANKA_BACKEND_ENDPOINT"),
    ("locks.type", "PANKA_LOCKS_TYPE"),
    ("locks.table", "PANKA_LOCKS_TABLE"),
    ("locks.region", "PANKA_LOCKS_REGION"),
    ("locks.endpoint", "PANKA_LOCKS_ENDPOINT"),
    ("locks.lease", "PANKA_LOCKS_LEASE"),
    ("aws.profile", "PANKA_AWS_PROFILE"),
    ("aws.region", "PANKA_AWS_REGION"),
    ("aws.timeout", "PANKA_AWS_TIMEOUT"),
    ("tenant.name", "PANKA_TENANT_NAME"),
    ("pulumi.binary", "PANKA_PULUMI_BINARY"),
    ("pulumi.passphrase", "PANKA_PULUMI_PASSPHRASE"),
    ("pulumi.lockWait", "PANKA_PULUMI_LOCK_WAIT"),
    ("policy.paths", "PANKA_POLICY_PATHS"),
    ("policy.disable", "PANKA_POLICY_DISABLE"),
    ("config", "PANKA_CONFIG"),
    ("environment", "PANKA_ENVIRONMENT"),
];

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub backend: BackendType,
    pub bucket: Option<String>,
    /// Key prefix inside the bucket, without leading or trailing `/`.
    pub prefix: String,
    pub backend_region: Option<String>,
    pub backend_endpoint: Option<String>,
    pub locks: LocksType,
    pub lock_table: String,
    pub locks_region: Option<String>,
    pub locks_endpoint: Option<String>,
    /// The lock lease; heartbeats run every lease/4.
    pub lock_lease: Duration,
    pub aws_profile: Option<String>,
    pub aws_region: Option<String>,
    /// The operation timeout of every AWS call.
    pub aws_timeout: Duration,
    /// `default` when none is configured.
    pub tenant: String,
    pub pulumi_binary: Option<String>,
    pub pulumi_passphrase: Option<String>,
    /// How long a takeover waits for a Pulumi lock to clear.
    pub pulumi_lock_wait: Duration,
    /// Policy sources beyond the built-ins and the stack's `policies/`.
    pub policy_paths: Vec<String>,
    /// Built-in policies switched off.
    pub policy_disable: Vec<String>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
}

/// What the command line says (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub tenant: Option<String>,
    pub pulumi_binary: Option<String>,
    /// An admin command (`panka admin …`, `locks --all-tenants`): it may
    /// name any tenant, whatever the configuration says.
    pub admin: bool,
}

/// The longest tenant name (SPEC §12: physical names have tight budgets).
pub const TENANT_NAME_MAX: usize = 20;

/// Why `name` cannot be a tenant's name, or `None`: lowercase letters,
/// digits and `-`, at most [`TENANT_NAME_MAX`], not the reserved `admin`.
pub fn tenant_name_problem(name: &str) -> Option<String> {
    if name == "admin" {
        return Some("`admin` is reserved for the platform team's files".into());
    }
    if name.len() > TENANT_NAME_MAX {
        return Some(format!("it is {} characters long; the limit is {TENANT_NAME_MAX}", name.chars().count()));
    }
    crate::scope::Name::new("tenant", name).err().map(|e| e.reason.to_string())
}

pub const DEFAULT_LOCK_TABLE: &str = "panka-locks";
/// How long a takeover waits for a Pulumi lock to clear: two default
/// leases (a `pulumi` whose panka died or lost its lock is interrupted and
/// finishes the steps in flight first).
pub const DEFAULT_PULUMI_LOCK_WAIT: Duration = Duration::from_secs(240);

/// The shortest lease accepted: a heartbeat every 500 ms.
pub const MIN_LEASE: Duration = Duration::from_secs(2);
pub const MAX_LEASE: Duration = Duration::from_secs(3600);

fn config_error(message: String, hint: &str) -> LoadFailure {
    let mut d = Diagnostics::default();
    d.push(Diagnostic::error("config", None, message).with_hint(hint.to_string()));
    LoadFailure { sources: Sources::default(), diagnostics: d }
}

/// A comma-separated list from an environment variable (`None` when unset or empty).
fn list(value: Option<String>) -> Option<Vec<String>> {
    let v = value.filter(|v| !v.trim().is_empty())?;
    Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// `90s`, `10m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number.parse().map_err(|_| format!("`{s}` is not a duration like 30s, 10m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("`{s}` is not a duration like 30s, 10m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}

impl Config {
    /// The AWS SDK settings every client panka makes starts from.
    pub fn aws_settings(&self) -> crate::aws::AwsSettings {
        crate::aws::AwsSettings {
            profile: self.aws_profile.clone(),
            region: self.aws_region.clone(),
            timeout: Some(self.aws_timeout),
        }
    }

    /// Resolve from a config file, an environment lookup and overrides.
    pub fn resolve(overrides: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, LoadFailure> {
        let explicit = overrides.config_file.clone().or_else(|| env("PANKA_CONFIG").map(PathBuf::from));
        let path = explicit.clone().or_else(|| env("HOME").map(|h| Path::new(&h).join(".panka/config.yaml")));
        let file = match &path {
            Some(p) if p.exists() => read_file(p)?,
            Some(p) if explicit.is_some() => {
                let mut d = Diagnostics::default();
                d.push(Diagnostic::error("config", None, format!("config file `{}` does not exist", p.display())));
                return Err(LoadFailure { sources: Sources::default(), diagnostics: d });
            }
            _ => FileConfig::default(),
        };
        let get =
            |key: &str, file_value: &Option<String>| env(key).filter(|v| !v.is_empty()).or_else(|| file_value.clone());
        let parse_enum = |key: &str, raw: Option<String>, allowed: &[&str]| -> Result<Option<String>, LoadFailure> {
            match raw {
                Some(v) if !allowed.contains(&v.as_str()) => Err(config_error(
                    format!("{key}=`{v}` is not valid"),
                    &format!("use one of: {}", allowed.join(", ")),
                )),
                other => Ok(other),
            }
        };
        let bucket = get("PANKA_BACKEND_BUCKET", &file.backend.bucket);
        let backend_raw = env("PANKA_BACKEND_TYPE")
            .or_else(|| file.backend.kind.map(|k| if k == BackendType::S3 { "s3".into() } else { "local".into() }));
        let backend = match parse_enum("PANKA_BACKEND_TYPE", backend_raw, &["s3", "local"])?.as_deref() {
            Some("s3") => BackendType::S3,
            Some(_) => BackendType::Local,
            None if bucket.is_some() => BackendType::S3,
            None => BackendType::Local,
        };
        let locks_raw = env("PANKA_LOCKS_TYPE").or_else(|| {
            file.locks.kind.map(|k| if k == LocksType::Dynamodb { "dynamodb".into() } else { "local".into() })
        });
        let locks = match parse_enum("PANKA_LOCKS_TYPE", locks_raw, &["dynamodb", "local"])?.as_deref() {
            Some("dynamodb") => LocksType::Dynamodb,
            Some(_) => LocksType::Local,
            None if backend == BackendType::S3 => LocksType::Dynamodb,
            None => LocksType::Local,
        };
        let lock_lease = match get("PANKA_LOCKS_LEASE", &file.locks.lease) {
            None => crate::lock::guard::DEFAULT_LEASE,
            Some(raw) => match parse_duration(&raw) {
                Ok(d) if (MIN_LEASE..=MAX_LEASE).contains(&d) => d,
                Ok(_) => {
                    return Err(config_error(
                        format!("locks.lease=`{raw}` is out of range"),
                        "use a lease from 2s to 1h; the default is 120s",
                    ))
                }
                Err(e) => return Err(config_error(format!("locks.lease: {e}"), "write it like 120s, 5m or 1h")),
            },
        };
        let pulumi_lock_wait = match get("PANKA_PULUMI_LOCK_WAIT", &file.pulumi.lock_wait) {
            None => DEFAULT_PULUMI_LOCK_WAIT,
            Some(raw) => parse_duration(&raw).map_err(|e| {
                config_error(format!("pulumi.lockWait: {e}"), "write it like 240s, 4m or 1h; the default is 4m")
            })?,
        };
        let aws_timeout = match get("PANKA_AWS_TIMEOUT", &file.aws.timeout) {
            None => crate::aws::DEFAULT_TIMEOUT,
            Some(raw) => match parse_duration(&raw) {
                Ok(d) if d >= Duration::from_secs(1) => d,
                Ok(_) => {
                    return Err(config_error(
                        format!("aws.timeout=`{raw}` is too short"),
                        "use at least 1s; the default is 30s",
                    ))
                }
                Err(e) => {
                    return Err(config_error(
                        format!("aws.timeout: {e}"),
                        "write it like 30s or 2m; the default is 30s",
                    ))
                }
            },
        };
        // Tenant mode (SPEC §12): a configured tenant is the only one a
        // non-admin command may touch.
        let configured = get("PANKA_TENANT_NAME", &file.tenant.name);
        if let (Some(mine), Some(asked)) = (&configured, &overrides.tenant) {
            if mine != asked && !overrides.admin {
                return Err(config_error(
                    format!(
                        "this configuration is tenant `{mine}`'s (tenant mode): `--tenant {}` is refused",
                        asked.escape_debug()
                    ),
                    "a tenant's commands stay in its own prefix and lock partition; only `panka admin …` and `locks --all-tenants` see other tenants",
                ));
            }
        }
        let tenant = overrides.tenant.clone().or(configured).unwrap_or_else(|| "default".to_string());
        if let Some(problem) = tenant_name_problem(&tenant) {
            return Err(config_error(
                format!("tenant name `{}` is not valid: {problem}", tenant.escape_debug()),
                "tenant names are lowercase letters, digits and `-`, at most 20 characters",
            ));
        }
        Ok(Config {
            backend,
            bucket,
            prefix: get("PANKA_BACKEND_PREFIX", &file.backend.prefix).unwrap_or_default().trim_matches('/').to_string(),
            backend_region: get("PANKA_BACKEND_REGION", &file.backend.region),
            backend_endpoint: get("PANKA_BACKEND_ENDPOINT", &file.backend.endpoint),
            locks,
            lock_table: get("PANKA_LOCKS_TABLE", &file.locks.table).unwrap_or_else(|| DEFAULT_LOCK_TABLE.to_string()),
            locks_region: get("PANKA_LOCKS_REGION", &file.locks.region),
            locks_endpoint: get("PANKA_LOCKS_ENDPOINT", &file.locks.endpoint),
            lock_lease,
            aws_profile: get("PANKA_AWS_PROFILE", &file.aws.profile),
            aws_region: get("PANKA_AWS_REGION", &file.aws.region),
            aws_timeout,
            tenant,
            pulumi_binary: overrides.pulumi_binary.clone().or_else(|| get("PANKA_PULUMI_BINARY", &file.pulumi.binary)),
            pulumi_passphrase: get("PANKA_PULUMI_PASSPHRASE", &file.pulumi.passphrase),
            pulumi_lock_wait,
            policy_paths: list(env("PANKA_POLICY_PATHS")).unwrap_or(file.policy.paths.clone()),
            policy_disable: list(env("PANKA_POLICY_DISABLE")).unwrap_or(file.policy.disable.clone()),
            file: path.filter(|p| p.exists()),
        })
    }

    /// Resolve with the process environment.
    pub fn from_env(overrides: &Overrides) -> Result<Config, LoadFailure> {
        Config::resolve(overrides, &|k| std::env::var(k).ok())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, LoadFailure> {
    let mut sources = Sources::default();
    let fail = |sources: Sources, d: Diagnostic| {
        let mut ds = Diagnostics::default();
        ds.push(d);
        LoadFailure { sources, diagnostics: ds }
    };
    let text = match std::fs::read(path) {
        Ok(b) => match yaml::check_bytes(yaml::FileId(0), &b) {
            Ok(t) => t.to_string(),
            Err(e) => {
                return Err(fail(
                    sources,
                    Diagnostic::error(e.code, None, format!("{}: {}", path.display(), e.message)),
                ))
            }
        },
        Err(e) => {
            return Err(fail(
                sources,
                Diagnostic::error("config", None, format!("cannot read `{}`: {e}", path.display())),
            ))
        }
    };
    let id = sources.add(path.to_path_buf(), path.display().to_string(), text);
    let docs = match yaml::parse(id, &sources.get(id).text) {
        Ok(d) => d,
        Err(e) => return Err(fail(sources, Diagnostic::error(e.code, e.span, e.message).with_hint_opt(e.hint))),
    };
    let Some(doc) = docs.into_iter().next() else {
        return Ok(FileConfig::default());
    };
    if doc.root.value == yaml::Value::Null {
        return Ok(FileConfig::default());
    }
    typed::from_node::<FileConfig>(&doc.root, &[] as &[PathSeg]).map_err(|d| fail(sources, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resolve(file: Option<&str>, env: &[(&str, &str)], o: Overrides) -> Result<Config, LoadFailure> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        let mut env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
            env.insert("PANKA_CONFIG".into(), path.display().to_string());
        }
        Config::resolve(&o, &|k| env.get(k).cloned())
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let file = "backend: {bucket: from-file, prefix: /p/}\ntenant: {name: file-tenant}\nlocks: {table: t1}\n";
        let c = resolve(Some(file), &[], Overrides::default()).unwrap();
        assert_eq!((c.backend, c.bucket.as_deref(), c.prefix.as_str()), (BackendType::S3, Some("from-file"), "p"));
        assert_eq!(c.locks, LocksType::Dynamodb);
        assert_eq!(c.tenant, "file-tenant");
        let c = resolve(
            Some(file),
            &[("PANKA_TENANT_NAME", "env-tenant"), ("PANKA_LOCKS_TABLE", "t2")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!((c.tenant.as_str(), c.lock_table.as_str()), ("env-tenant", "t2"));
        let o = Overrides { tenant: Some("flag-tenant".into()), admin: true, ..Default::default() };
        let c = resolve(Some(file), &[("PANKA_TENANT_NAME", "env-tenant")], o).unwrap();
        assert_eq!(c.tenant, "flag-tenant");
        let c = resolve(None, &[], Overrides::default()).unwrap();
        assert_eq!(
            (c.backend, c.locks, c.tenant.as_str(), c.lock_table.as_str()),
            (BackendType::Local, LocksType::Local, "default", "panka-locks")
        );
    }

    #[test]
    fn unknown_keys_in_the_file_are_located() {
        let Err(e) = resolve(Some("backend:\n  bukket: x\n"), &[], Overrides::default()) else {
            panic!("accepted a typo")
        };
        let d = &e.diagnostics.0[0];
        assert_eq!((d.span.unwrap().line, d.span.unwrap().col), (2, 3));
        assert_eq!(d.hint.as_deref(), Some("did you mean `bucket`?"));
    }

    #[test]
    fn policy_lists_from_file_and_env() {
        let file = "policy:\n  paths: [s3://b/admin/policies, ./p]\n  disable: [s3-private]\n";
        let c = resolve(Some(file), &[], Overrides::default()).unwrap();
        assert_eq!(c.policy_paths, vec!["s3://b/admin/policies", "./p"]);
        assert_eq!(c.policy_disable, vec!["s3-private"]);
        let c = resolve(Some(file), &[("PANKA_POLICY_DISABLE", "a, b")], Overrides::default()).unwrap();
        assert_eq!(c.policy_disable, vec!["a", "b"]);
    }

    #[test]
    fn bad_enum_from_env_is_an_error() {
        assert!(resolve(None, &[("PANKA_BACKEND_TYPE", "gcs")], Overrides::default()).is_err());
    }

    #[test]
    fn a_configured_tenant_refuses_another_outside_admin_commands() {
        let asked = |tenant: &str, admin: bool| Overrides { tenant: Some(tenant.into()), admin, ..Default::default() };
        let err = resolve(None, &[("PANKA_TENANT_NAME", "team-a")], asked("team-b", false)).unwrap_err();
        let text = err.diagnostics.0[0].message.clone();
        assert!(text.contains("tenant `team-a`") && text.contains("--tenant team-b"), "{text}");
        assert_eq!(resolve(None, &[("PANKA_TENANT_NAME", "team-a")], asked("team-a", false)).unwrap().tenant, "team-a");
        assert_eq!(resolve(None, &[("PANKA_TENANT_NAME", "team-a")], asked("team-b", true)).unwrap().tenant, "team-b");
        // No tenant configured: any flag is the single team's choice.
        assert_eq!(resolve(None, &[], asked("team-b", false)).unwrap().tenant, "team-b");
        for bad in ["../b", "a:stack:x", "admin", "Team", "a-very-long-tenant-name-x"] {
            assert!(resolve(None, &[], asked(bad, false)).is_err(), "{bad}");
            assert!(tenant_name_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(tenant_name_problem("team-a"), None);
    }
}
