//! `panka admin init` (SPEC §9, §12): creates or brings up to date the state
//! bucket and the lock table, idempotently, and never weakens what it finds.
//!
//! Bucket: versioning on; default encryption SSE-S3 only where none is set
//! (SSE-KMS and DSSE-KMS are kept); all public access blocked (flags are
//! only ever turned on); lifecycle rules `panka-*` that expire noncurrent
//! versions and history copies (tagged `panka-kind=history`), merged with
//! the rules it does not own, which are kept as they are.
//!
//! Table: partition key `pk`, sort key `sk`, on-demand, TTL on `ttl` (last
//! heartbeat + a day: garbage collection only). A table in the earlier
//! single-key layout (`lockKey`) cannot be re-keyed: `<table>-v2` is created
//! beside it and its live locks are copied in, marked `legacy`; panka then
//! locks in both until `--drop-legacy` removes the old table once it holds
//! no live lock.
//!
//! Every step reads first and says what it changed; with `dry_run` nothing
//! is written and the report says what would change.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, VersioningConfiguration,
};
use serde::Serialize;

use crate::aws::{explain, AwsError, AwsErrorKind, Resource};
use crate::lock::dynamodb::{self, Layout, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, V2_SUFFIX};

/// The prefix of the lifecycle rules `admin init` owns.
pub const RULE_PREFIX: &str = "panka-";

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
        Retention { noncurrent_days: 90, history_days: 365 }
    }
}

/// How `admin init` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct InitOptions {
    pub retention: Retention,
    /// Read and report, write nothing.
    pub dry_run: bool,
    /// Delete a migrated old-layout table once it holds no live lock.
    pub drop_legacy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepResult {
    /// Created or changed.
    Created,
    Changed,
    /// Already as required (or stronger, and kept).
    Exists,
    Kept,
    /// `--dry-run`: would be created or changed.
    WouldChange,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub resource: String,
    pub action: String,
    pub result: StepResult,
}

/// What `admin init` did (or, dry, would do).
#[derive(Debug, Clone, Serialize, Default)]
pub struct InitReport {
    pub dry_run: bool,
    pub steps: Vec<Step>,
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let result = match s.result {
                StepResult::Created => "created",
                StepResult::Changed => "changed",
                StepResult::Exists => "ok",
                StepResult::Kept => "kept",
                StepResult::WouldChange => "would",
            };
            writeln!(f, "{:<8} {}: {}", result, s.resource, s.action)?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was changed")?;
        }
        Ok(())
    }
}

impl InitReport {
    fn push(&mut self, resource: &str, action: impl Into<String>, result: StepResult) {
        self.steps.push(Step { resource: resource.to_string(), action: action.into(), result });
    }

    /// Records a change: applied, or only announced in a dry run.
    fn change(&mut self, resource: &str, action: impl Into<String>, created: bool) {
        let result = match (self.dry_run, created) {
            (true, _) => StepResult::WouldChange,
            (false, true) => StepResult::Created,
            (false, false) => StepResult::Changed,
        };
        self.push(resource, action, result);
    }

    /// Whether any step changed (or would change) something.
    pub fn changed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.result, StepResult::Created | StepResult::Changed | StepResult::WouldChange))
    }
}

fn other(message: String, hint: &str) -> AwsError {
    AwsError { kind: AwsErrorKind::Other, message, hint: Some(hint.to_string()), status: None, code: None }
}

/// Creates or updates the state bucket, never weakening it.
pub async fn init_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    options: InitOptions,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let res = Resource::Bucket(bucket);
    let name = format!("bucket `{bucket}`");
    let exists = match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => true,
        Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
        Err(err) => return Err(explain(&err, "HeadBucket", res)),
    };
    if !exists {
        report.change(&name, "create", true);
        if options.dry_run {
            report.change(
                &name,
                "enable versioning, SSE-S3 default encryption, block public access, add lifecycle rules",
                false,
            );
            return Ok(());
        }
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
            Ok(_) => {}
            Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(err) => return Err(explain(&err, "CreateBucket", res)),
        }
    } else {
        report.push(&name, "exists", StepResult::Exists);
    }

    // Versioning: only ever switched on.
    let enabled = match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => out.status() == Some(&BucketVersioningStatus::Enabled),
        // A 200 whose body does not parse (moto answers a never-versioned
        // bucket with another root element): not known to be enabled, and
        // enabling it can only strengthen the bucket.
        Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(200) => false,
        Err(err) => return Err(explain(&err, "GetBucketVersioning", res)),
    };
    if enabled {
        report.push(&name, "versioning enabled", StepResult::Exists);
    } else {
        report.change(&name, "enable versioning", false);
        if !options.dry_run {
            s3.put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .map_err(|e| explain(&e, "PutBucketVersioning", res))?;
        }
    }

    // Encryption: SSE-S3 only where there is none; KMS is stronger and kept.
    let current = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().clone())
            .next(),
        Err(err) if err.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => None,
        Err(err) => return Err(explain(&err, "GetBucketEncryption", res)),
    };
    match current {
        Some(algorithm @ (ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)) => report.push(
            &name,
            format!("default encryption {} kept (stronger than SSE-S3)", algorithm.as_str()),
            StepResult::Kept,
        ),
        Some(ServerSideEncryption::Aes256) => report.push(&name, "default encryption SSE-S3", StepResult::Exists),
        Some(algorithm) => {
            report.push(&name, format!("default encryption {} kept", algorithm.as_str()), StepResult::Kept)
        }
        None => {
            report.change(&name, "set default encryption SSE-S3", false);
            if !options.dry_run {
                let sse = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .expect("sse_algorithm is set");
                let encryption = ServerSideEncryptionConfiguration::builder()
                    .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(sse).build())
                    .build()
                    .expect("rules are set");
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(encryption)
                    .send()
                    .await
                    .map_err(|e| explain(&e, "PutBucketEncryption", res))?;
            }
        }
    }

    // Public access: every flag on (turning one on never weakens anything).
    let block = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration().cloned(),
        Err(err) if err.code() == Some("NoSuchPublicAccessBlockConfiguration") => None,
        Err(err) => return Err(explain(&err, "GetPublicAccessBlock", res)),
    };
    let all_on = block.as_ref().is_some_and(|b| {
        b.block_public_acls() == Some(true)
            && b.ignore_public_acls() == Some(true)
            && b.block_public_policy() == Some(true)
            && b.restrict_public_buckets() == Some(true)
    });
    if all_on {
        report.push(&name, "public access blocked", StepResult::Exists);
    } else {
        report.change(&name, "block all public access", false);
        if !options.dry_run {
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
        }
    }

    // Lifecycle: ours (`panka-*`) brought to the settings, the rest kept.
    let existing = match s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(out) => out.rules().to_vec(),
        Err(err) if err.code() == Some("NoSuchLifecycleConfiguration") => Vec::new(),
        Err(err) => return Err(explain(&err, "GetBucketLifecycleConfiguration", res)),
    };
    let ours = lifecycle_rules(options.retention);
    let foreign: Vec<LifecycleRule> =
        existing.iter().filter(|r| !r.id().is_some_and(|id| id.starts_with(RULE_PREFIX))).cloned().collect();
    let mine_now: Vec<&LifecycleRule> =
        existing.iter().filter(|r| r.id().is_some_and(|id| id.starts_with(RULE_PREFIX))).collect();
    let up_to_date = mine_now.len() == ours.len() && ours.iter().all(|o| mine_now.iter().any(|m| same_rule(m, o)));
    let policy = format!(
        "lifecycle: noncurrent versions {}d, history {}d",
        options.retention.noncurrent_days, options.retention.history_days
    );
    if up_to_date {
        report.push(&name, policy, StepResult::Exists);
    } else {
        report.change(&name, policy, false);
        if !options.dry_run {
            let mut rules = foreign.clone();
            rules.extend(ours);
            s3.put_bucket_lifecycle_configuration()
                .bucket(bucket)
                .lifecycle_configuration(
                    BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().expect("rules are set"),
                )
                .send()
                .await
                .map_err(|e| explain(&e, "PutBucketLifecycleConfiguration", res))?;
        }
    }
    for rule in &foreign {
        report.push(
            &name,
            format!("lifecycle rule `{}` kept (not panka's)", rule.id().unwrap_or("(no id)")),
            StepResult::Kept,
        );
    }
    Ok(())
}

fn lifecycle_rules(retention: Retention) -> Vec<LifecycleRule> {
    let (tag_key, tag_value) = crate::state::s3::HISTORY_TAG.split_once('=').expect("the history tag is key=value");
    vec![
        LifecycleRule::builder()
            .id("panka-noncurrent-versions")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder().noncurrent_days(retention.noncurrent_days).build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
            )
            .build()
            .expect("status is set"),
        LifecycleRule::builder()
            .id("panka-history")
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(Tag::builder().key(tag_key).value(tag_value).build().expect("key and value are set"))
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(retention.history_days).build())
            .build()
            .expect("status is set"),
    ]
}

/// The settings panka sets, compared (S3 may echo defaults it did not get).
fn same_rule(a: &LifecycleRule, b: &LifecycleRule) -> bool {
    a.id() == b.id()
        && a.status() == b.status()
        && a.noncurrent_version_expiration().and_then(|n| n.noncurrent_days())
            == b.noncurrent_version_expiration().and_then(|n| n.noncurrent_days())
        && a.expiration().and_then(|e| e.days()) == b.expiration().and_then(|e| e.days())
        && a.abort_incomplete_multipart_upload().and_then(|x| x.days_after_initiation())
            == b.abort_incomplete_multipart_upload().and_then(|x| x.days_after_initiation())
}

/// Creates the lock table (or its `-v2` beside one in the earlier layout,
/// with the live locks copied), and turns on TTL.
pub async fn init_table(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    options: InitOptions,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let locks = dynamodb::DynamoDbLocks::new(ddb.clone(), table);
    let layout = locks.layout_of(table).await.map_err(lock_failure)?;
    let target = match layout {
        Some(Layout::Legacy) => {
            let v2 = format!("{table}{V2_SUFFIX}");
            report.push(
                &format!("table `{table}`"),
                format!("has the earlier layout (`lockKey`): locks move to `{v2}` (`pk`/`sk`)"),
                StepResult::Kept,
            );
            v2
        }
        _ => table.to_string(),
    };
    let name = format!("table `{target}`");
    let target_layout = if target == table { layout } else { locks.layout_of(&target).await.map_err(lock_failure)? };
    match target_layout {
        Some(Layout::Keyed) => report.push(&name, "exists (keys `pk`/`sk`)", StepResult::Exists),
        Some(Layout::Legacy) => {
            return Err(other(
                format!("the table `{target}` has the earlier layout too"),
                "choose another `locks.table`, or delete that table",
            ))
        }
        None => {
            report.change(&name, "create (keys `pk`/`sk`, on-demand)", true);
            if !options.dry_run {
                create_keyed_table(ddb, &target).await?;
            }
        }
    }
    if !(options.dry_run && target_layout.is_none()) {
        ensure_ttl(ddb, &target, options, report).await?;
    } else {
        report.change(&name, format!("enable TTL on `{TTL_ATTRIBUTE}`"), false);
    }
    if target != table {
        migrate(ddb, table, &target, options, report).await?;
    }
    Ok(())
}

fn lock_failure(e: crate::lock::LockError) -> AwsError {
    match e {
        crate::lock::LockError::Aws(e) => e,
        other_error => other(other_error.to_string(), "check `locks.table`"),
    }
}

async fn create_keyed_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), AwsError> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().expect("set");
    let created = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PARTITION_KEY))
        .attribute_definitions(attr(SORT_KEY))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.code() == Some("ResourceInUseException") => {}
        Err(err) => return Err(explain(&err, "CreateTable", Resource::Table(table))),
    }
    wait_active(ddb, table).await
}

async fn ensure_ttl(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    options: InitOptions,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let res = Resource::Table(table);
    let name = format!("table `{table}`");
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| explain(&e, "DescribeTimeToLive", res))?;
    let description = ttl.time_to_live_description();
    let on = description
        .is_some_and(|d| matches!(d.time_to_live_status().map(|s| s.as_str()), Some("ENABLED" | "ENABLING")));
    let attribute = description.and_then(|d| d.attribute_name());
    match (on, attribute) {
        (true, Some(TTL_ATTRIBUTE)) => report.push(&name, format!("TTL on `{TTL_ATTRIBUTE}`"), StepResult::Exists),
        (true, Some(other_attribute)) => report.push(
            &name,
            format!("TTL is on `{other_attribute}`, kept (panka's items carry `{TTL_ATTRIBUTE}`; they are only collected by TTL on it)"),
            StepResult::Kept,
        ),
        _ => {
            report.change(&name, format!("enable TTL on `{TTL_ATTRIBUTE}` (a day after the last heartbeat)"), false);
            if !options.dry_run {
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
            }
        }
    }
    Ok(())
}

/// Copies the old table's locks into `v2` (marked `legacy`; a lock already
/// there is left alone), and with `drop_legacy` deletes the old table once
/// none of its locks looks alive.
async fn migrate(
    ddb: &aws_sdk_dynamodb::Client,
    old: &str,
    v2: &str,
    options: InitOptions,
    report: &mut InitReport,
) -> Result<(), AwsError> {
    let res = Resource::Table(old);
    let mut items: Vec<HashMap<String, AttributeValue>> = Vec::new();
    let mut pages = ddb.scan().table_name(old).consistent_read(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        items.extend(page.map_err(|e| explain(&e, "Scan", res))?.items().iter().cloned());
    }
    let now = chrono::Utc::now().timestamp();
    let mut copied = 0;
    let mut live = 0;
    for item in &items {
        let Ok(mut record) = dynamodb::from_item(item) else {
            report.push(&format!("table `{old}`"), "an item that is not a panka lock was left alone", StepResult::Kept);
            continue;
        };
        if !record.is_expired(now) {
            live += 1;
        }
        record.legacy = true;
        if options.dry_run {
            copied += 1;
            continue;
        }
        let put = ddb
            .put_item()
            .table_name(v2)
            .set_item(Some(dynamodb::to_item(&record, Layout::Keyed).map_err(lock_failure)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => copied += 1,
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {}
            Err(err) => return Err(explain(&err, "PutItem", Resource::Table(v2))),
        }
    }
    if copied > 0 {
        report.change(&format!("table `{v2}`"), format!("copy {copied} lock(s) from `{old}` (marked legacy)"), false);
    }
    let old_name = format!("table `{old}`");
    if !options.drop_legacy {
        report.push(
            &old_name,
            format!("kept: every run also locks there while it exists ({live} live lock(s)); `admin init --drop-legacy` deletes it once none is left"),
            StepResult::Kept,
        );
        return Ok(());
    }
    if live > 0 {
        return Err(other(
            format!("the old lock table `{old}` still holds {live} live lock(s)"),
            "wait for those runs to end (`panka locks --all-tenants`), then run `panka admin init --drop-legacy` again",
        ));
    }
    report.change(&old_name, "delete (no live lock left)", false);
    if !options.dry_run {
        ddb.delete_table().table_name(old).send().await.map_err(|e| explain(&e, "DeleteTable", res))?;
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
    Err(other(
        format!("the table `{table}` did not become active within a minute"),
        "run `panka admin init` again in a moment",
    ))
}

/// Both steps of `panka admin init`.
pub async fn init(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    options: InitOptions,
) -> Result<InitReport, AwsError> {
    let mut report = InitReport { dry_run: options.dry_run, steps: Vec::new() };
    init_bucket(s3, bucket, options, &mut report).await?;
    init_table(ddb, table, options, &mut report).await?;
    Ok(report)
}
