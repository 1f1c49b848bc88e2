//! AWS clients for the state bucket and the lock table, and the translation
//! of SDK errors into messages a user can act on.
//!
//! Settings come from panka's configuration (profile, region, endpoint per
//! service) layered over the SDK's standard chain, which keeps honouring
//! `AWS_PROFILE`, `AWS_REGION`, credentials, `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_DYNAMODB`. S3 uses path-style
//! addressing whenever an endpoint override is in effect (moto, LocalStack).
//!
//! Invariant: error messages built here name the operation, bucket, table or
//! key, never credentials or request signatures.

use std::error::Error as StdError;
use std::fmt;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// Explicit settings; `None` leaves the value to the SDK's standard chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// The longest one AWS call may take, retries included (`aws.timeout`,
    /// [`DEFAULT_TIMEOUT`] when unset); each attempt gets a third of it.
    pub timeout: Option<Duration>,
}

/// The default operation timeout of every AWS call. No call may hang: a
/// request on a dead connection otherwise waits forever (SPEC §9).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect, attempt and operation timeouts for an operation timeout.
pub fn timeouts(operation: Duration) -> TimeoutConfig {
    let attempt = (operation / 3).max(Duration::from_millis(500));
    TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(3)))
        .read_timeout(attempt)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Per-service overrides (`backend.region`/`backend.endpoint`,
/// `locks.region`/`locks.endpoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// Loads the shared SDK configuration.
pub async fn load_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts(settings.timeout.unwrap_or(DEFAULT_TIMEOUT)));
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// The endpoint override that applies to a service, if any: explicit
/// setting, then `AWS_ENDPOINT_URL_<SERVICE>`, then the global one.
fn endpoint_override(sdk: &SdkConfig, service_env: &str, explicit: &Option<String>) -> Option<String> {
    explicit
        .clone()
        .or_else(|| std::env::var(service_env).ok().filter(|v| !v.is_empty()))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()))
}

/// The endpoint override in effect for S3, if any (for Pulumi's backend URL).
pub fn s3_endpoint(sdk: &SdkConfig, service: &ServiceSettings) -> Option<String> {
    endpoint_override(sdk, "AWS_ENDPOINT_URL_S3", &service.endpoint)
}

/// An S3 client configuration; callers may add interceptors before building.
pub fn s3_config(sdk: &SdkConfig, service: &ServiceSettings) -> aws_sdk_s3::config::Builder {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(region) = &service.region {
        builder = builder.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = endpoint_override(sdk, "AWS_ENDPOINT_URL_S3", &service.endpoint) {
        builder = builder.endpoint_url(endpoint).force_path_style(true);
    }
    builder
}

/// A DynamoDB client configuration; callers may add interceptors before building.
pub fn dynamodb_config(sdk: &SdkConfig, service: &ServiceSettings) -> aws_sdk_dynamodb::config::Builder {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(region) = &service.region {
        builder = builder.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = endpoint_override(sdk, "AWS_ENDPOINT_URL_DYNAMODB", &service.endpoint) {
        builder = builder.endpoint_url(endpoint);
    }
    builder
}

/// A client for a service panka reads day-2 information from (CloudWatch
/// Logs, ECS, Lambda, RDS), in `region` when given (the stack's own
/// region, where its resources are), with the usual endpoint overrides:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`.
macro_rules! day2_client {
    ($name:ident, $krate:ident, $env:literal) => {
        pub fn $name(sdk: &SdkConfig, region: Option<&str>) -> $krate::Client {
            let mut builder = $krate::config::Builder::from(sdk);
            if let Some(region) = region {
                builder = builder.region(Region::new(region.to_string()));
            }
            if let Some(endpoint) = endpoint_override(sdk, $env, &None) {
                builder = builder.endpoint_url(endpoint);
            }
            $krate::Client::from_conf(builder.build())
        }
    };
}

day2_client!(logs_client, aws_sdk_cloudwatchlogs, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
day2_client!(ecs_client, aws_sdk_ecs, "AWS_ENDPOINT_URL_ECS");
day2_client!(lambda_client, aws_sdk_lambda, "AWS_ENDPOINT_URL_LAMBDA");
day2_client!(rds_client, aws_sdk_rds, "AWS_ENDPOINT_URL_RDS");
day2_client!(elbv2_client, aws_sdk_elasticloadbalancingv2, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2");

/// What an AWS error means for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    NoCredentials,
    NoRegion,
    MissingBucket,
    MissingTable,
    AccessDenied,
    /// Anything else: network, throttling that outlasted retries, 5xx …
    Other,
}

/// An AWS failure explained: lowercase message, then a hint.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub kind: AwsErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// The service's error code (`NoSuchKey`, `PreconditionFailed` …).
    pub code: Option<String>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl StdError for AwsError {}

/// The AWS resource an operation touched, for messages.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Bucket(&'a str),
    Table(&'a str),
    /// Anything else: what it is (`log group`, `ECS service` …) and its name.
    Named(&'a str, &'a str),
}

/// Explains an SDK error from `operation` on `resource`.
pub fn explain<E>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    operation: &str,
    resource: Resource<'_>,
) -> AwsError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    let detail = chain_text(err);
    let (what, name) = match resource {
        Resource::Bucket(b) => ("bucket", b),
        Resource::Table(t) => ("table", t),
        Resource::Named(what, name) => (what, name),
    };
    let (kind, message, hint) = if looks_like_missing_credentials(&detail) {
        (
            AwsErrorKind::NoCredentials,
            format!("no AWS credentials found for {operation} on {what} `{name}`"),
            Some("set AWS_PROFILE (or `aws.profile` in the panka config), run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_string()),
        )
    } else if detail.contains("region") && detail.contains("not") && status.is_none() {
        (
            AwsErrorKind::NoRegion,
            format!("no AWS region configured for {operation} on {what} `{name}`"),
            Some("set AWS_REGION or `aws.region` / `backend.region` in the panka config".to_string()),
        )
    } else {
        match (code.as_deref(), status, resource) {
            (Some("NoSuchBucket"), _, _) => (
                AwsErrorKind::MissingBucket,
                format!("the state bucket `{name}` does not exist"),
                Some("create it with `panka admin init`, or fix `backend.bucket` in the panka config".to_string()),
            ),
            (Some("ResourceNotFoundException"), _, Resource::Table(_)) => (
                AwsErrorKind::MissingTable,
                format!("the lock table `{name}` does not exist"),
                Some("create it with `panka admin init`, or fix `locks.table` in the panka config".to_string()),
            ),
            (Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "ExpiredTokenException" | "UnrecognizedClientException"), _, _)
            | (None, Some(403), _) => (
                AwsErrorKind::AccessDenied,
                format!(
                    "access denied: {operation} on {what} `{name}` ({})",
                    code.as_deref().unwrap_or("403")
                ),
                Some("check that your credentials are current and that your role may use this bucket/table (in tenant mode, only its `tenants/<tenant>/` prefix)".to_string()),
            ),
            (_, Some(404), Resource::Bucket(_)) if code.is_none() => (
                AwsErrorKind::MissingBucket,
                format!("the state bucket `{name}` does not exist"),
                Some("create it with `panka admin init`, or fix `backend.bucket` in the panka config".to_string()),
            ),
            _ => (
                AwsErrorKind::Other,
                format!("{operation} on {what} `{name}` failed: {detail}"),
                None,
            ),
        }
    };
    AwsError { kind, message, hint, status, code }
}

/// The error and its sources, joined: the SDK's top-level message alone is
/// often just "dispatch failure".
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

fn looks_like_missing_credentials(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("no credentials")
        || d.contains("provider was not enabled")
        || d.contains("while loading credentials")
        || d.contains("no providers in chain provided credentials")
        || d.contains("failed to load credentials")
        || (d.contains("credential") && d.contains("not loaded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credential_texts_are_recognized() {
        assert!(looks_like_missing_credentials(
            "dispatch failure: other: an error occurred while loading credentials: the credential provider was not enabled"
        ));
        assert!(!looks_like_missing_credentials("service error: NoSuchBucket"));
    }
}
