//! [`LockBackend`] on a DynamoDB table with partition key `lockKey` (S).
//!
//! Every mutation is a single conditional request, so DynamoDB decides races:
//! acquire is `PutItem` with `attribute_not_exists(lockKey) OR expiresAt < :now`
//! (returning the old item, which tells a takeover apart from a fresh lock),
//! heartbeat is `UpdateItem` conditioned on `lockId` and `rvn`, release is
//! `DeleteItem` conditioned on `lockId`. Failed conditions return the item
//! that blocked them (`ReturnValuesOnConditionCheckFailure`), so a "locked"
//! message costs no extra read. Reads are strongly consistent.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::record::LockRecord;
use super::{AcquireOutcome, LockBackend, LockError};
use crate::aws::{explain, Resource};
use crate::state::store::BoxFuture;

type Item = HashMap<String, AttributeValue>;

/// The lock table's key attribute.
pub const KEY_ATTRIBUTE: &str = "lockKey";
/// The lock table's TTL attribute (garbage collection only).
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// The table name used when none is configured.
pub const DEFAULT_TABLE: &str = "panka-locks";

#[derive(Debug, Clone)]
pub struct DynamoDbLocks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbLocks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbLocks {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    fn aws<E>(
        &self,
        err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
        op: &str,
    ) -> LockError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        explain(err, op, Resource::Table(&self.table)).into()
    }

    async fn acquire_once(
        &self,
        record: &LockRecord,
        now: i64,
    ) -> Result<AcquireOutcome, LockError> {
        for _ in 0..3 {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_item(record)))
                .condition_expression("attribute_not_exists(lockKey) OR expiresAt < :now")
                .expression_attribute_values(":now", num(now))
                .return_values(ReturnValue::AllOld)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(output) => {
                    let replaced = match output.attributes() {
                        Some(old) if !old.is_empty() => Some(from_item(old)?),
                        _ => None,
                    };
                    if let Some(old) = &replaced {
                        self.record_takeover(record, old).await?;
                    }
                    return Ok(AcquireOutcome::Acquired { replaced });
                }
                Err(err) => {
                    if let Some(holder) = conditional_item(&err) {
                        return Ok(AcquireOutcome::Held(from_item(&holder)?));
                    }
                    if err.code() != Some("ConditionalCheckFailedException") {
                        return Err(self.aws(&err, "PutItem"));
                    }
                    // The condition failed but no item came back: read it.
                    if let Some(holder) = self.get_item(&record.lock_key).await? {
                        return Ok(AcquireOutcome::Held(holder));
                    }
                    // It was released in between: try again.
                }
            }
        }
        match self.get_item(&record.lock_key).await? {
            Some(holder) => Ok(AcquireOutcome::Held(holder)),
            None => Err(LockError::Corrupt {
                key: record.lock_key.clone(),
                detail: "the conditional write kept failing on an absent item".to_string(),
            }),
        }
    }

    /// Marks our new lock with the one it replaced (only after a takeover).
    async fn record_takeover(&self, ours: &LockRecord, old: &LockRecord) -> Result<(), LockError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&ours.lock_key))
            .update_expression("SET takeoverOf = :prev, takeoverFrom = :from")
            .condition_expression("lockId = :id")
            .expression_attribute_values(":prev", s(&old.lock_id))
            .expression_attribute_values(":from", s(&old.locked_by))
            .expression_attribute_values(":id", s(&ours.lock_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Lost already; the heartbeat will report it.
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(err) => Err(self.aws(&err, "UpdateItem")),
        }
    }

    async fn heartbeat_once(
        &self,
        key: &str,
        lock_id: &str,
        rvn: &str,
        new_rvn: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), LockError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(key))
            .update_expression("SET rvn = :new, lastHeartbeat = :now, expiresAt = :exp")
            .condition_expression("lockId = :id AND rvn = :rvn")
            .expression_attribute_values(":new", s(new_rvn))
            .expression_attribute_values(":now", num(now))
            .expression_attribute_values(":exp", num(expires_at))
            .expression_attribute_values(":id", s(lock_id))
            .expression_attribute_values(":rvn", s(rvn))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let current = conditional_item(&err).map(|i| from_item(&i)).transpose()?;
                Err(LockError::not_held(key, lock_id, current.as_ref(), now))
            }
            Err(err) => Err(self.aws(&err, "UpdateItem")),
        }
    }

    async fn release_once(&self, key: &str, lock_id: &str) -> Result<(), LockError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(key))
            .condition_expression("lockId = :id")
            .expression_attribute_values(":id", s(lock_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let current = conditional_item(&err).map(|i| from_item(&i)).transpose()?;
                let now = chrono::Utc::now().timestamp();
                Err(LockError::not_held(key, lock_id, current.as_ref(), now))
            }
            Err(err) => Err(self.aws(&err, "DeleteItem")),
        }
    }

    async fn get_item(&self, key: &str) -> Result<Option<LockRecord>, LockError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.aws(&err, "GetItem"))?;
        output.item().map(from_item).transpose()
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<LockRecord>, LockError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(lockKey, :prefix)")
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.aws(&err, "Scan"))?;
            for item in page.items() {
                out.push(from_item(item)?);
            }
        }
        out.sort_by(|a, b| a.lock_key.cmp(&b.lock_key));
        Ok(out)
    }
}

/// The item a failed condition returned, if any.
fn conditional_item<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> Option<Item>
where
    E: ConditionalItem,
{
    err.as_service_error().and_then(ConditionalItem::item)
}

trait ConditionalItem {
    fn item(&self) -> Option<Item>;
}

macro_rules! conditional_item {
    ($error:ty, $variant:path) => {
        impl ConditionalItem for $error {
            fn item(&self) -> Option<Item> {
                match self {
                    $variant(e) => e.item().cloned(),
                    _ => None,
                }
            }
        }
    };
}

conditional_item!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException
);
conditional_item!(
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException
);
conditional_item!(
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException
);

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn num(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The DynamoDB item of a lock record.
pub fn to_item(r: &LockRecord) -> Item {
    let mut item = Item::from([
        (KEY_ATTRIBUTE.to_string(), s(&r.lock_key)),
        ("lockId".to_string(), s(&r.lock_id)),
        ("rvn".to_string(), s(&r.rvn)),
        ("lockedBy".to_string(), s(&r.locked_by)),
        ("operation".to_string(), s(&r.operation)),
        ("deploymentId".to_string(), s(&r.deployment_id)),
        ("lockedAt".to_string(), num(r.locked_at)),
        ("lastHeartbeat".to_string(), num(r.last_heartbeat)),
        (TTL_ATTRIBUTE.to_string(), num(r.expires_at)),
        ("pid".to_string(), num(r.pid)),
        ("pankaVersion".to_string(), s(&r.panka_version)),
    ]);
    if !r.ci.is_empty() {
        item.insert(
            "ci".to_string(),
            AttributeValue::M(r.ci.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
        );
    }
    if let Some(v) = &r.takeover_of {
        item.insert("takeoverOf".to_string(), s(v));
    }
    if let Some(v) = &r.takeover_from {
        item.insert("takeoverFrom".to_string(), s(v));
    }
    item
}

/// A lock record from its DynamoDB item.
pub fn from_item(item: &Item) -> Result<LockRecord, LockError> {
    let key = item
        .get(KEY_ATTRIBUTE)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |detail: String| LockError::Corrupt {
        key: key.clone(),
        detail,
    };
    let text = |name: &str| -> Result<String, LockError> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| corrupt(format!("`{name}` is missing or not a string")))
    };
    let number = |name: &str| -> Result<i64, LockError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| corrupt(format!("`{name}` is missing or not a number")))
    };
    let ci: BTreeMap<String, String> = match item.get("ci") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(LockRecord {
        lock_key: text(KEY_ATTRIBUTE)?,
        lock_id: text("lockId")?,
        rvn: text("rvn")?,
        locked_by: text("lockedBy").unwrap_or_else(|_| "unknown".to_string()),
        operation: text("operation").unwrap_or_else(|_| "unknown".to_string()),
        deployment_id: text("deploymentId").unwrap_or_default(),
        locked_at: number("lockedAt")?,
        last_heartbeat: number("lastHeartbeat")?,
        expires_at: number(TTL_ATTRIBUTE)?,
        pid: number("pid").unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        panka_version: text("pankaVersion").unwrap_or_default(),
        ci,
        takeover_of: text("takeoverOf").ok(),
        takeover_from: text("takeoverFrom").ok(),
    })
}

impl LockBackend for DynamoDbLocks {
    fn describe(&self) -> String {
        format!("DynamoDB table `{}`", self.table)
    }

    fn try_acquire<'a>(
        &'a self,
        record: &'a LockRecord,
        now: i64,
    ) -> BoxFuture<'a, Result<AcquireOutcome, LockError>> {
        Box::pin(self.acquire_once(record, now))
    }

    fn heartbeat<'a>(
        &'a self,
        key: &'a str,
        lock_id: &'a str,
        rvn: &'a str,
        new_rvn: &'a str,
        now: i64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(self.heartbeat_once(key, lock_id, rvn, new_rvn, now, expires_at))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        lock_id: &'a str,
    ) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(self.release_once(key, lock_id))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<LockRecord>, LockError>> {
        Box::pin(self.get_item(key))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<LockRecord>, LockError>> {
        Box::pin(self.scan(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::record::Owner;
    use std::time::Duration;

    #[test]
    fn items_round_trip() {
        let mut owner = Owner::current("apply", "dep-1");
        owner.ci.insert("GITHUB_RUN_ID".into(), "42".into());
        let mut r = LockRecord::new(
            "tenant:default:stack:a:env:dev".into(),
            &owner,
            Duration::from_secs(120),
            1000.5,
        );
        r.takeover_of = Some("old".into());
        assert_eq!(from_item(&to_item(&r)).unwrap(), r);
    }
}
