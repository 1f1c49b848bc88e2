//! `panka admin init` (SPEC §12): creates or brings up to date the state
//! bucket and the lock table. Every step is idempotent, so running it again
//! only re-applies the same settings.
//!
//! Bucket: versioning on, default encryption (SSE-S3), all public access
//! blocked, lifecycle rules that expire noncurrent versions and history
//! copies (tagged `panka-kind=history`) and abort stale multipart uploads.
//! Table: partition key `lockKey` (S), on-demand billing, TTL on `expiresAt`
//! (garbage collection only; panka never relies on it).

use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, VersioningConfiguration,
};
use serde::Serialize;

use crate::aws::{explain, AwsError, Resource};
use crate::lock::dynamodb::{KEY_ATTRIBUTE, TTL_ATTRIBUTE};

/// Retention settings of `admin init`.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Days a replaced version of any object is kept.
    pub noncurrent_days: i32,
    /// Days a history copy is kept.
    pub history_days: i32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            noncurrent_days: 90,
            history_days: 365,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepResult {
    Created,
    Exists,
    Configured,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub resource: String,
    pub action: String,
    pub result: StepResult,
}

/// What `admin init` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct InitReport {
    pub steps: Vec<Step>,
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let result = match s.result {
                StepResult::Created => "created",
                StepResult::Exists => "exists",
                StepResult::Configured => "ok",
            };
            writeln!(f, "{:<8} {} {}", result, s.resource, s.action)?;
        }
        Ok(())
    }
}

impl InitReport {
    fn push(&mut self, resource: &str, action: &str, result: StepResult) {
        self.steps.push(Step {
            resource: resource.to_string(),
            action: action.to_string(),
            result,
        });
    }
}

/// Creates or updates the state bucket.
pub async fn init_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    retention: Retention,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let res = Resource::Bucket(bucket);
    let name = format!("bucket `{bucket}`");
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => report.push(&name, "exists", StepResult::Exists),
        Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
            let mut create = s3.create_bucket().bucket(bucket);
            let region = s3.config().region().map(|r| r.to_string());
            if let Some(region) = region.filter(|r| r != "us-east-1") {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            match create.send().await {
                Ok(_) => report.push(&name, "created", StepResult::Created),
                Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => {
                    report.push(&name, "exists", StepResult::Exists)
                }
                Err(err) => return Err(explain(&err, "CreateBucket", res)),
            }
        }
        Err(err) => return Err(explain(&err, "HeadBucket", res)),
    }

    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| explain(&e, "PutBucketVersioning", res))?;
    report.push(&name, "versioning enabled", StepResult::Configured);

    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .expect("sse_algorithm is set");
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(sse)
                .build(),
        )
        .build()
        .expect("rules are set");
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| explain(&e, "PutBucketEncryption", res))?;
    report.push(&name, "default encryption (SSE-S3)", StepResult::Configured);

    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| explain(&e, "PutPublicAccessBlock", res))?;
    report.push(&name, "public access blocked", StepResult::Configured);

    let (tag_key, tag_value) = crate::state::s3::HISTORY_TAG
        .split_once('=')
        .expect("the history tag is key=value");
    let rules = vec![
        LifecycleRule::builder()
            .id("panka-noncurrent-versions")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(retention.noncurrent_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build()
            .expect("status is set"),
        LifecycleRule::builder()
            .id("panka-history")
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(
                        Tag::builder()
                            .key(tag_key)
                            .value(tag_value)
                            .build()
                            .expect("key and value are set"),
                    )
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .days(retention.history_days)
                    .build(),
            )
            .build()
            .expect("status is set"),
    ];
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .expect("rules are set"),
        )
        .send()
        .await
        .map_err(|e| explain(&e, "PutBucketLifecycleConfiguration", res))?;
    report.push(
        &name,
        &format!(
            "lifecycle: noncurrent versions {}d, history {}d",
            retention.noncurrent_days, retention.history_days
        ),
        StepResult::Configured,
    );
    Ok(())
}

/// Creates the lock table if needed and turns on TTL.
pub async fn init_table(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let res = Resource::Table(table);
    let name = format!("table `{table}`");
    match ddb.describe_table().table_name(table).send().await {
        Ok(out) => {
            let key_ok = out.table().is_some_and(|t| {
                t.key_schema()
                    .iter()
                    .any(|k| k.attribute_name() == KEY_ATTRIBUTE && *k.key_type() == KeyType::Hash)
            });
            if !key_ok {
                return Err(AwsError {
                    kind: crate::aws::AwsErrorKind::Other,
                    message: format!(
                        "the table `{table}` exists but its partition key is not `{KEY_ATTRIBUTE}`"
                    ),
                    hint: Some("choose another `locks.table`, or delete this table".to_string()),
                    status: None,
                    code: None,
                });
            }
            report.push(&name, "exists", StepResult::Exists);
        }
        Err(err) if err.code() == Some("ResourceNotFoundException") => {
            let created = ddb
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(KEY_ATTRIBUTE)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("name and type are set"),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(KEY_ATTRIBUTE)
                        .key_type(KeyType::Hash)
                        .build()
                        .expect("name and type are set"),
                )
                .send()
                .await;
            match created {
                Ok(_) => report.push(&name, "created (on-demand)", StepResult::Created),
                Err(err) if err.code() == Some("ResourceInUseException") => {
                    report.push(&name, "exists", StepResult::Exists)
                }
                Err(err) => return Err(explain(&err, "CreateTable", res)),
            }
            wait_active(ddb, table).await?;
        }
        Err(err) => return Err(explain(&err, "DescribeTable", res)),
    }

    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| explain(&e, "DescribeTimeToLive", res))?;
    let enabled = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                d.time_to_live_status().map(|s| s.as_str()),
                Some("ENABLED" | "ENABLING")
            )
    });
    if enabled {
        report.push(
            &name,
            "TTL on `expiresAt` already enabled",
            StepResult::Exists,
        );
    } else {
        ddb.update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .expect("name and flag are set"),
            )
            .send()
            .await
            .map_err(|e| explain(&e, "UpdateTimeToLive", res))?;
        report.push(&name, "TTL on `expiresAt` enabled", StepResult::Configured);
    }
    Ok(())
}

async fn wait_active(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), AwsError> {
    for _ in 0..120 {
        let out = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| explain(&e, "DescribeTable", Resource::Table(table)))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(AwsError {
        kind: crate::aws::AwsErrorKind::Other,
        message: format!("the table `{table}` did not become active within a minute"),
        hint: Some("run `panka admin init` again in a moment".to_string()),
        status: None,
        code: None,
    })
}

/// Both steps of `panka admin init`.
pub async fn init(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    retention: Retention,
) -> Result<InitReport, AwsError> {
    let mut report = InitReport::default();
    init_bucket(s3, bucket, retention, &mut report).await?;
    init_table(ddb, table, &mut report).await?;
    Ok(report)
}
