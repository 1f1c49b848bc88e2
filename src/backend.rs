//! Opens the configured state store and lock backend (S3 + DynamoDB, or the
//! local `.panka/` directory) for one tenant, and says where Pulumi's own
//! backend lives (SPEC §8, §10, §12).
//!
//! The CLI maps its configuration layers (flags > `PANKA_*` > config file)
//! onto [`BackendSettings`]; nothing here reads panka's config itself.

use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::{self, AwsSettings, ServiceSettings};
use crate::lock::dynamodb::{DynamoDbLocks, DEFAULT_TABLE};
use crate::lock::local::LocalLocks;
use crate::lock::LockBackend;
use crate::scope::{BasePrefix, Name, NameError, StackScope, TenantScope, DEFAULT_TENANT};
use crate::state::local::LocalStateStore;
use crate::state::s3::S3StateStore;
use crate::state::StateStore;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackendSettings {
    S3 {
        bucket: String,
        prefix: String,
        service: ServiceSettings,
    },
    /// `<stack dir>/.panka/[<prefix>/]`: the same layout as in the bucket.
    Local {
        prefix: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockBackendSettings {
    DynamoDb {
        /// `None` means `panka-locks`.
        table: Option<String>,
        service: ServiceSettings,
    },
    /// `<stack dir>/.panka/locks/`
    Local,
}

#[derive(Debug, Clone)]
pub struct BackendSettings {
    pub state: StateBackendSettings,
    pub locks: LockBackendSettings,
    pub aws: AwsSettings,
    /// `None` means `default`.
    pub tenant: Option<String>,
    pub stack_dir: PathBuf,
}

/// The opened backends of one tenant.
#[derive(Clone)]
pub struct Backends {
    pub state: Arc<dyn StateStore>,
    pub locks: Arc<dyn LockBackend>,
    pub tenant: TenantScope,
    pulumi: PulumiLocation,
}

#[derive(Debug, Clone)]
enum PulumiLocation {
    S3 { bucket: String, region: Option<String>, endpoint: Option<String> },
    Local { root: PathBuf },
}

impl Backends {
    /// `PULUMI_BACKEND_URL` for a stack (SPEC §10).
    pub fn pulumi_backend_url(&self, scope: &StackScope) -> String {
        self.pulumi_backend_url_at(&scope.pulumi_dir())
    }

    /// `PULUMI_BACKEND_URL` for a folder of the bucket (or of `.panka/`):
    /// the platform team's `<prefix>/admin/pulumi` holds the tenants' IAM
    /// programs.
    pub fn pulumi_backend_url_at(&self, dir: &str) -> String {
        match &self.pulumi {
            PulumiLocation::S3 { bucket, region, endpoint } => {
                let mut url = format!("s3://{bucket}/{dir}");
                let mut query = Vec::new();
                if let Some(r) = region {
                    query.push(format!("region={r}"));
                }
                if let Some(e) = endpoint {
                    query.push(format!("endpoint={e}"));
                    query.push("s3ForcePathStyle=true".to_string());
                }
                if !query.is_empty() {
                    url.push('?');
                    url.push_str(&query.join("&"));
                }
                url
            }
            PulumiLocation::Local { root } => {
                format!("file://{}", root.join(dir).display())
            }
        }
    }
}

impl Backends {
    /// Makes the Pulumi backend usable before the first `pulumi` call: a
    /// DIY `file://` backend's directory must exist (Pulumi does not create
    /// it; `stack select --create` fails without it). An S3 backend needs
    /// nothing: its bucket is the state bucket.
    pub fn prepare_pulumi_backend(&self, scope: &StackScope) -> std::io::Result<()> {
        match &self.pulumi {
            PulumiLocation::Local { root } => std::fs::create_dir_all(root.join(scope.pulumi_dir())),
            PulumiLocation::S3 { .. } => Ok(()),
        }
    }
}

/// Errors opening backends are configuration errors.
pub async fn open(settings: &BackendSettings) -> Result<Backends, NameError> {
    let tenant = Name::new("tenant", settings.tenant.as_deref().unwrap_or(DEFAULT_TENANT))?;
    let local_root = settings.stack_dir.join(".panka");
    let needs_aws = matches!(settings.state, StateBackendSettings::S3 { .. })
        || matches!(settings.locks, LockBackendSettings::DynamoDb { .. });
    let sdk = if needs_aws { Some(aws::load_config(&settings.aws).await) } else { None };
    let (state, prefix, pulumi): (Arc<dyn StateStore>, BasePrefix, PulumiLocation) = match &settings.state {
        StateBackendSettings::S3 { bucket, prefix, service } => {
            let sdk = sdk.as_ref().expect("loaded for S3");
            let config = aws::s3_config(sdk, service).build();
            let region = config.region().map(|r| r.to_string());
            let endpoint = aws::s3_endpoint(sdk, service);
            let client = aws_sdk_s3::Client::from_conf(config);
            (
                Arc::new(S3StateStore::new(client, bucket.clone())),
                BasePrefix::new(prefix)?,
                PulumiLocation::S3 { bucket: bucket.clone(), region, endpoint },
            )
        }
        StateBackendSettings::Local { prefix } => (
            Arc::new(LocalStateStore::new(local_root.clone())),
            BasePrefix::new(prefix)?,
            PulumiLocation::Local { root: local_root.clone() },
        ),
    };
    let locks: Arc<dyn LockBackend> = match &settings.locks {
        LockBackendSettings::DynamoDb { table, service } => {
            let sdk = sdk.as_ref().expect("loaded for DynamoDB");
            let client = aws_sdk_dynamodb::Client::from_conf(aws::dynamodb_config(sdk, service).build());
            Arc::new(DynamoDbLocks::new(client, table.clone().unwrap_or_else(|| DEFAULT_TABLE.to_string())))
        }
        LockBackendSettings::Local => Arc::new(LocalLocks::new(local_root.join("locks"))),
    };
    Ok(Backends { state, locks, tenant: TenantScope::new(prefix, tenant), pulumi })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_backends_live_under_dot_panka() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(&BackendSettings {
            state: StateBackendSettings::Local { prefix: String::new() },
            locks: LockBackendSettings::Local,
            aws: AwsSettings::default(),
            tenant: Some("acme".into()),
            stack_dir: dir.path().to_path_buf(),
        })
        .await
        .unwrap();
        let scope = b.tenant.stack(Name::new("stack", "pay").unwrap(), Name::new("env", "dev").unwrap());
        assert_eq!(
            b.pulumi_backend_url(&scope),
            format!("file://{}/.panka/tenants/acme/stacks/pay/dev/pulumi", dir.path().display())
        );
        assert!(b.state.describe(&scope.state_key()).starts_with(&dir.path().join(".panka").display().to_string()));
    }

    #[tokio::test]
    async fn bad_tenant_names_are_refused() {
        let err = open(&BackendSettings {
            state: StateBackendSettings::Local { prefix: String::new() },
            locks: LockBackendSettings::Local,
            aws: AwsSettings::default(),
            tenant: Some("../other".into()),
            stack_dir: PathBuf::from("."),
        })
        .await
        .err()
        .unwrap();
        assert_eq!(err.what, "tenant");
    }
}
