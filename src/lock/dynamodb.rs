//! [`LockBackend`] on a DynamoDB table keyed by tenant (SPEC §9): partition
//! key `pk` = `tenant:<t>`, sort key `sk` = `stack:<s>:env:<e>[:service:<svc>]`,
//! so every tenant operation, listing included, is a key lookup or a Query
//! on the tenant's partition (an IAM policy confines it with
//! `dynamodb:LeadingKeys`). A lock key is `pk:sk` everywhere else in panka.
//!
//! Every mutation is a single conditional request, so DynamoDB decides races:
//! acquire is `PutItem` with `attribute_not_exists(pk)`, or conditioned on the
//! exact `lockId` and `rvn` of the stale lock it replaces; heartbeat is
//! `UpdateItem` conditioned on `lockId` and `rvn`; release is `DeleteItem`
//! conditioned on `lockId`. Failed conditions return the item that blocked
//! them (`ReturnValuesOnConditionCheckFailure`): a "locked" message costs no
//! extra read, and an item with our own `lockId` is recognised as our own
//! earlier write whose answer was lost. Reads are strongly consistent.
//!
//! Migration from the earlier single-key layout (`lockKey`): DynamoDB cannot
//! change a key schema, so the new table is `<table>-v2` (`admin init` creates
//! it and copies the live locks, marked `legacy`). While the old table exists
//! every lock is also taken there by key, so an older panka still sees it,
//! and a `legacy` copy is judged by its original in the old table.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ReturnValuesOnConditionCheckFailure};
use tokio::sync::OnceCell;

use super::record::LockRecord;
use super::{AcquireOutcome, LockBackend, LockError};
use crate::aws::{explain, AwsErrorKind, Resource};
use crate::state::store::BoxFuture;

type Item = HashMap<String, AttributeValue>;

/// Partition key: `tenant:<tenant>`.
pub const PARTITION_KEY: &str = "pk";
/// Sort key: `stack:<stack>:env:<env>[:service:<svc>]`.
pub const SORT_KEY: &str = "sk";
/// The key of the earlier layout (the whole lock key).
pub const LEGACY_KEY: &str = "lockKey";
/// The TTL attribute of the current layout: last heartbeat + [`GC_AFTER`].
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The TTL attribute of the earlier layout.
pub const LEGACY_TTL_ATTRIBUTE: &str = "expiresAt";
/// Seconds after the last heartbeat before the table's TTL may collect an
/// item: AWS's clock must never be able to delete a live lock.
pub const GC_AFTER: i64 = 24 * 3600;
/// The table name used when none is configured.
pub const DEFAULT_TABLE: &str = "panka-locks";
/// The suffix of the table that replaces one in the earlier layout.
pub const V2_SUFFIX: &str = "-v2";

/// The key schema of a lock table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `pk` (HASH) + `sk` (RANGE).
    Keyed,
    /// `lockKey` (HASH): the earlier layout.
    Legacy,
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    layout: Layout,
}

/// Which tables this run uses, found once per process.
#[derive(Debug, Clone)]
struct Tables {
    primary: Table,
    /// The old-layout table while a migration is in progress.
    legacy: Option<Table>,
}

#[derive(Debug, Clone)]
pub struct DynamoDbLocks {
    client: aws_sdk_dynamodb::Client,
    table: String,
    tables: std::sync::Arc<OnceCell<Tables>>,
}

impl DynamoDbLocks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbLocks { client, table: table.into(), tables: Default::default() }
    }

    /// The configured table name.
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
        table: &str,
    ) -> LockError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        explain(err, op, Resource::Table(table)).into()
    }

    /// The key schema of `table`, or `None` when it does not exist.
    pub async fn layout_of(&self, table: &str) -> Result<Option<Layout>, LockError> {
        match self.client.describe_table().table_name(table).send().await {
            Ok(out) => {
                let hash = out
                    .table()
                    .map(|t| t.key_schema())
                    .unwrap_or_default()
                    .iter()
                    .find(|k| k.key_type() == &KeyType::Hash)
                    .map(|k| k.attribute_name().to_string());
                match hash.as_deref() {
                    Some(PARTITION_KEY) => Ok(Some(Layout::Keyed)),
                    Some(LEGACY_KEY) => Ok(Some(Layout::Legacy)),
                    other => Err(LockError::Corrupt {
                        key: table.to_string(),
                        detail: format!(
                            "the table's partition key is `{}`, not `{PARTITION_KEY}` (is `locks.table` a panka lock table?)",
                            other.unwrap_or("?")
                        ),
                    }),
                }
            }
            Err(err) => {
                let explained = explain(&err, "DescribeTable", Resource::Table(table));
                if explained.kind == AwsErrorKind::MissingTable {
                    Ok(None)
                } else {
                    Err(explained.into())
                }
            }
        }
    }

    async fn tables(&self) -> Result<&Tables, LockError> {
        self.tables
            .get_or_try_init(|| async {
                let configured = self.table.clone();
                match self.layout_of(&configured).await? {
                    Some(Layout::Keyed) => {
                        Ok(Tables { primary: Table { name: configured, layout: Layout::Keyed }, legacy: None })
                    }
                    Some(Layout::Legacy) => {
                        let v2 = format!("{configured}{V2_SUFFIX}");
                        match self.layout_of(&v2).await? {
                            Some(Layout::Keyed) => Ok(Tables {
                                primary: Table { name: v2, layout: Layout::Keyed },
                                legacy: Some(Table { name: configured, layout: Layout::Legacy }),
                            }),
                            _ => Err(LockError::OldLayout { table: configured }),
                        }
                    }
                    None => Err(LockError::Aws(crate::aws::AwsError {
                        kind: AwsErrorKind::MissingTable,
                        message: format!("the lock table `{configured}` does not exist"),
                        hint: Some(
                            "create it with `panka admin init`, or fix `locks.table` in the panka config".to_string(),
                        ),
                        status: Some(400),
                        code: Some("ResourceNotFoundException".to_string()),
                    })),
                }
            })
            .await
    }

    /// The table new locks go to (`<table>-v2` during a migration).
    pub async fn primary_table(&self) -> Result<String, LockError> {
        Ok(self.tables().await?.primary.name.clone())
    }

    /// The old-layout table still in use during a migration, if any.
    pub async fn legacy_table(&self) -> Result<Option<String>, LockError> {
        Ok(self.tables().await?.legacy.as_ref().map(|t| t.name.clone()))
    }

    /// One conditional put on one table.
    async fn put(
        &self,
        table: &Table,
        record: &LockRecord,
        stale: Option<&LockRecord>,
    ) -> Result<AcquireOutcome, LockError> {
        let key_attr = match table.layout {
            Layout::Keyed => PARTITION_KEY,
            Layout::Legacy => LEGACY_KEY,
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&table.name)
            .set_item(Some(to_item(record, table.layout)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match stale {
            None => request.condition_expression(format!("attribute_not_exists({key_attr})")),
            Some(old) => request
                .condition_expression(format!(
                    "attribute_not_exists({key_attr}) OR (lockId = :sid AND rvn = :srvn) OR (lockId = :sid AND legacy = :yes)"
                ))
                .expression_attribute_values(":sid", s(&old.lock_id))
                .expression_attribute_values(":srvn", s(&old.rvn))
                .expression_attribute_values(":yes", AttributeValue::Bool(true)),
        };
        match request.send().await {
            Ok(_) => Ok(AcquireOutcome::Acquired { replaced: stale.cloned() }),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let current = match conditional_item(&err) {
                    Some(item) => Some(from_item(&item)?),
                    None => self.get_from(table, &record.lock_key).await?,
                };
                match current {
                    // An earlier attempt of this very write applied; its answer was lost.
                    Some(c) if c.lock_id == record.lock_id => Ok(AcquireOutcome::Acquired { replaced: stale.cloned() }),
                    Some(c) => Ok(AcquireOutcome::Held(c)),
                    // Released in between: the caller tries again.
                    None => Err(LockError::Corrupt {
                        key: record.lock_key.clone(),
                        detail: "the conditional write failed on an item that is gone; try again".to_string(),
                    }),
                }
            }
            Err(err) => Err(self.aws(&err, "PutItem", &table.name)),
        }
    }

    async fn acquire(&self, record: &LockRecord, stale: Option<&LockRecord>) -> Result<AcquireOutcome, LockError> {
        let tables = self.tables().await?;
        // A free key that was released between our write and our read: try twice more.
        let mut outcome = None;
        for _ in 0..3 {
            match self.put(&tables.primary, record, stale).await {
                Err(LockError::Corrupt { .. }) => continue,
                other => {
                    outcome = Some(other?);
                    break;
                }
            }
        }
        let Some(outcome) = outcome else {
            return Err(LockError::Corrupt {
                key: record.lock_key.clone(),
                detail: "the conditional write kept failing on an absent item".to_string(),
            });
        };
        let replaced = match outcome {
            AcquireOutcome::Acquired { replaced } => replaced,
            // A copy made by `admin init`: its original in the old table decides.
            AcquireOutcome::Held(copy) if copy.legacy && tables.legacy.is_some() => {
                let legacy = tables.legacy.as_ref().expect("checked");
                match self.get_from(legacy, &record.lock_key).await? {
                    Some(mut original) => {
                        original.legacy = true;
                        return Ok(AcquireOutcome::Held(original));
                    }
                    // The original is gone: the copy holds nothing.
                    None => match self.put(&tables.primary, record, Some(&copy)).await? {
                        AcquireOutcome::Acquired { .. } => None,
                        held => return Ok(held),
                    },
                }
            }
            held @ AcquireOutcome::Held(_) => return Ok(held),
        };
        let Some(legacy) = &tables.legacy else {
            return Ok(AcquireOutcome::Acquired { replaced });
        };
        // An older panka judges by the old table: hold the key there too.
        let result = self.put(legacy, record, stale).await;
        match result {
            Ok(AcquireOutcome::Acquired { .. }) => Ok(AcquireOutcome::Acquired { replaced }),
            Ok(AcquireOutcome::Held(holder)) => {
                self.delete(&tables.primary, &record.lock_key, &record.lock_id, None).await.ok();
                Ok(AcquireOutcome::Held(holder))
            }
            Err(e) => {
                self.delete(&tables.primary, &record.lock_key, &record.lock_id, None).await.ok();
                Err(e)
            }
        }
    }

    /// One heartbeat on one table; `rvn: None` conditions on `lockId` only
    /// (the old table's mirror follows the primary's versions).
    async fn heartbeat_on(&self, table: &Table, beat: &Beat<'_>, rvn: Option<&str>) -> Result<(), LockError> {
        let Beat { key, lock_id, new_rvn, now, expires_at } = *beat;
        let mut request = self
            .client
            .update_item()
            .table_name(&table.name)
            .set_key(Some(key_of(key, table.layout)?))
            .expression_attribute_values(":new", s(new_rvn))
            .expression_attribute_values(":now", num(now))
            .expression_attribute_values(":exp", num(expires_at))
            .expression_attribute_values(":id", s(lock_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match table.layout {
            Layout::Keyed => request
                .update_expression("SET rvn = :new, lastHeartbeat = :now, expiresAt = :exp, #ttl = :ttl")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":ttl", num(now + GC_AFTER)),
            Layout::Legacy => request.update_expression("SET rvn = :new, lastHeartbeat = :now, expiresAt = :exp"),
        };
        request = match rvn {
            Some(rvn) => {
                request.condition_expression("lockId = :id AND rvn = :rvn").expression_attribute_values(":rvn", s(rvn))
            }
            None => request.condition_expression("lockId = :id"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let current = conditional_item(&err).map(|i| from_item(&i)).transpose()?;
                Err(LockError::not_held(key, lock_id, current.as_ref(), now))
            }
            Err(err) => Err(self.aws(&err, "UpdateItem", &table.name)),
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
        let tables = self.tables().await?;
        let beat = Beat { key, lock_id, new_rvn, now, expires_at };
        self.heartbeat_on(&tables.primary, &beat, Some(rvn)).await?;
        if let Some(legacy) = &tables.legacy {
            // The mirror follows the primary's versions; it is ours while it has our id.
            self.heartbeat_on(legacy, &beat, None).await?;
        }
        Ok(())
    }

    /// Deletes `key` on `table` if it has `lock_id` (and `rvn`, when given).
    async fn delete(&self, table: &Table, key: &str, lock_id: &str, rvn: Option<&str>) -> Result<(), LockError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&table.name)
            .set_key(Some(key_of(key, table.layout)?))
            .expression_attribute_values(":id", s(lock_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match rvn {
            Some(rvn) => {
                request.condition_expression("lockId = :id AND rvn = :rvn").expression_attribute_values(":rvn", s(rvn))
            }
            None => request.condition_expression("lockId = :id"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                let current = conditional_item(&err).map(|i| from_item(&i)).transpose()?;
                let now = chrono::Utc::now().timestamp();
                Err(LockError::not_held(key, lock_id, current.as_ref(), now))
            }
            Err(err) => Err(self.aws(&err, "DeleteItem", &table.name)),
        }
    }

    async fn release_once(&self, key: &str, lock_id: &str) -> Result<(), LockError> {
        let tables = self.tables().await?;
        let primary = self.delete(&tables.primary, key, lock_id, None).await;
        if let Some(legacy) = &tables.legacy {
            match self.delete(legacy, key, lock_id, None).await {
                Ok(()) | Err(LockError::NotHeld { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        primary
    }

    async fn clear_stale_once(&self, stale: &LockRecord) -> Result<(), LockError> {
        let tables = self.tables().await?;
        let mut result = Ok(());
        for table in std::iter::once(&tables.primary).chain(tables.legacy.iter()) {
            let rvn = (!stale.legacy || table.layout == Layout::Legacy).then_some(stale.rvn.as_str());
            match self.delete(table, &stale.lock_key, &stale.lock_id, rvn).await {
                Ok(()) => {}
                Err(LockError::NotHeld { free: true, .. }) => {}
                Err(e) => result = Err(e),
            }
        }
        result
    }

    async fn get_from(&self, table: &Table, key: &str) -> Result<Option<LockRecord>, LockError> {
        let output = self
            .client
            .get_item()
            .table_name(&table.name)
            .set_key(Some(key_of(key, table.layout)?))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.aws(&err, "GetItem", &table.name))?;
        output.item().map(from_item).transpose()
    }

    async fn get_item(&self, key: &str) -> Result<Option<LockRecord>, LockError> {
        let tables = self.tables().await?;
        let primary = self.get_from(&tables.primary, key).await?;
        let Some(legacy) = &tables.legacy else {
            return Ok(primary);
        };
        match primary {
            // A copy made by `admin init`: its original decides.
            Some(r) if r.legacy => Ok(self.get_from(legacy, key).await?.map(|mut o| {
                o.legacy = true;
                o
            })),
            Some(r) => Ok(Some(r)),
            None => Ok(self.get_from(legacy, key).await?.map(|mut o| {
                o.legacy = true;
                o
            })),
        }
    }

    /// The tenant's partition, from a key prefix `tenant:<t>:[rest]`.
    async fn query(&self, table: &Table, prefix: &str) -> Result<Vec<LockRecord>, LockError> {
        let (pk, rest) = split_prefix(prefix)?;
        let mut request = self
            .client
            .query()
            .table_name(&table.name)
            .consistent_read(true)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(&pk));
        request = if rest.is_empty() {
            request.key_condition_expression("#pk = :pk")
        } else {
            request
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :sk)")
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":sk", s(&rest))
        };
        let mut pages = request.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.aws(&err, "Query", &table.name))?;
            for item in page.items() {
                out.push(from_item(item)?);
            }
        }
        Ok(out)
    }

    /// Admin only: every item of a table (a Scan, never used in tenant mode).
    async fn scan(&self, table: &Table, prefix: &str) -> Result<Vec<LockRecord>, LockError> {
        let mut pages = self.client.scan().table_name(&table.name).consistent_read(true).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.aws(&err, "Scan", &table.name))?;
            for item in page.items() {
                let r = from_item(item)?;
                if r.lock_key.starts_with(prefix) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    async fn list_prefix(&self, prefix: &str, all: bool) -> Result<Vec<LockRecord>, LockError> {
        let tables = self.tables().await?;
        let primary =
            if all { self.scan(&tables.primary, prefix).await? } else { self.query(&tables.primary, prefix).await? };
        let mut by_key: BTreeMap<String, LockRecord> = primary.into_iter().map(|r| (r.lock_key.clone(), r)).collect();
        if let Some(legacy) = &tables.legacy {
            // The old table has no tenant partition: reading it needs a Scan,
            // which a tenant's role may not have; its locks are still checked
            // by key on every acquire.
            match self.scan(legacy, prefix).await {
                Ok(old) => {
                    for mut r in old {
                        r.legacy = true;
                        let replace = by_key.get(&r.lock_key).is_none_or(|p| p.legacy);
                        if replace {
                            by_key.insert(r.lock_key.clone(), r);
                        }
                    }
                }
                Err(LockError::Aws(e)) if e.kind == AwsErrorKind::AccessDenied => {
                    tracing::debug!(table = %legacy.name, "the old lock table cannot be listed in tenant mode")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(by_key.into_values().collect())
    }
}

/// What one heartbeat writes.
#[derive(Clone, Copy)]
struct Beat<'a> {
    key: &'a str,
    lock_id: &'a str,
    new_rvn: &'a str,
    now: i64,
    expires_at: i64,
}

/// `tenant:<t>:<rest>` → (`tenant:<t>`, `<rest>`).
fn split_prefix(key: &str) -> Result<(String, String), LockError> {
    let mut parts = key.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("tenant"), Some(t), rest) if !t.is_empty() => Ok((format!("tenant:{t}"), rest.unwrap_or("").to_string())),
        _ => Err(LockError::Corrupt {
            key: key.escape_debug().to_string(),
            detail: "a lock key starts with `tenant:<name>:`".to_string(),
        }),
    }
}

/// The item key of a lock key in a table of `layout`.
fn key_of(key: &str, layout: Layout) -> Result<Item, LockError> {
    Ok(match layout {
        Layout::Keyed => {
            let (pk, sk) = split_prefix(key)?;
            if sk.is_empty() {
                return Err(LockError::Corrupt {
                    key: key.escape_debug().to_string(),
                    detail: "a lock key names a stack and environment".to_string(),
                });
            }
            Item::from([(PARTITION_KEY.to_string(), s(&pk)), (SORT_KEY.to_string(), s(&sk))])
        }
        Layout::Legacy => Item::from([(LEGACY_KEY.to_string(), s(key))]),
    })
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

/// The DynamoDB item of a lock record in a table of `layout`.
pub fn to_item(r: &LockRecord, layout: Layout) -> Result<Item, LockError> {
    let mut item = key_of(&r.lock_key, layout)?;
    item.extend([
        (LEGACY_KEY.to_string(), s(&r.lock_key)),
        ("lockId".to_string(), s(&r.lock_id)),
        ("rvn".to_string(), s(&r.rvn)),
        ("lockedBy".to_string(), s(&r.locked_by)),
        ("operation".to_string(), s(&r.operation)),
        ("deploymentId".to_string(), s(&r.deployment_id)),
        ("lockedAt".to_string(), num(r.locked_at)),
        ("lastHeartbeat".to_string(), num(r.last_heartbeat)),
        ("expiresAt".to_string(), num(r.expires_at)),
        ("pid".to_string(), num(r.pid)),
        ("pankaVersion".to_string(), s(&r.panka_version)),
    ]);
    if layout == Layout::Keyed {
        item.insert(TTL_ATTRIBUTE.to_string(), num(r.last_heartbeat + GC_AFTER));
    }
    if !r.ci.is_empty() {
        item.insert("ci".to_string(), AttributeValue::M(r.ci.iter().map(|(k, v)| (k.clone(), s(v))).collect()));
    }
    if let Some(v) = &r.takeover_of {
        item.insert("takeoverOf".to_string(), s(v));
    }
    if let Some(v) = &r.takeover_from {
        item.insert("takeoverFrom".to_string(), s(v));
    }
    if r.legacy {
        item.insert("legacy".to_string(), AttributeValue::Bool(true));
    }
    Ok(item)
}

/// A lock record from its DynamoDB item (either layout).
pub fn from_item(item: &Item) -> Result<LockRecord, LockError> {
    let text_of = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let key = text_of(LEGACY_KEY)
        .or_else(|| Some(format!("{}:{}", text_of(PARTITION_KEY)?, text_of(SORT_KEY)?)))
        .unwrap_or_default();
    let corrupt = |detail: String| LockError::Corrupt { key: key.clone(), detail };
    if key.is_empty() {
        return Err(corrupt("the item has neither `lockKey` nor `pk`/`sk`".to_string()));
    }
    let text = |name: &str| -> Result<String, LockError> {
        text_of(name).ok_or_else(|| corrupt(format!("`{name}` is missing or not a string")))
    };
    let number = |name: &str| -> Result<i64, LockError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| corrupt(format!("`{name}` is missing or not a number")))
    };
    let ci: BTreeMap<String, String> = match item.get("ci") {
        Some(AttributeValue::M(map)) => {
            map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect()
        }
        _ => BTreeMap::new(),
    };
    Ok(LockRecord {
        lock_key: key.clone(),
        lock_id: text("lockId")?,
        rvn: text("rvn")?,
        locked_by: text("lockedBy").unwrap_or_else(|_| "unknown".to_string()),
        operation: text("operation").unwrap_or_else(|_| "unknown".to_string()),
        deployment_id: text("deploymentId").unwrap_or_default(),
        locked_at: number("lockedAt")?,
        last_heartbeat: number("lastHeartbeat")?,
        expires_at: number("expiresAt")?,
        pid: number("pid").unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        panka_version: text("pankaVersion").unwrap_or_default(),
        ci,
        takeover_of: text("takeoverOf").ok(),
        takeover_from: text("takeoverFrom").ok(),
        legacy: matches!(item.get("legacy"), Some(AttributeValue::Bool(true))),
    })
}

impl LockBackend for DynamoDbLocks {
    fn describe(&self) -> String {
        format!("DynamoDB table `{}`", self.table)
    }

    fn try_acquire<'a>(
        &'a self,
        record: &'a LockRecord,
        stale: Option<&'a LockRecord>,
    ) -> BoxFuture<'a, Result<AcquireOutcome, LockError>> {
        Box::pin(self.acquire(record, stale))
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

    fn release<'a>(&'a self, key: &'a str, lock_id: &'a str) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(self.release_once(key, lock_id))
    }

    fn clear_stale<'a>(&'a self, stale: &'a LockRecord) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(self.clear_stale_once(stale))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<LockRecord>, LockError>> {
        Box::pin(self.get_item(key))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<LockRecord>, LockError>> {
        Box::pin(self.list_prefix(prefix, false))
    }

    fn list_all(&self) -> BoxFuture<'_, Result<Vec<LockRecord>, LockError>> {
        Box::pin(self.list_prefix("", true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::record::Owner;
    use std::time::Duration;

    #[test]
    fn items_round_trip_in_both_layouts() {
        let mut owner = Owner::current("apply", "dep-1");
        owner.ci.insert("GITHUB_RUN_ID".into(), "42".into());
        let mut r = LockRecord::new("tenant:default:stack:a:env:dev".into(), &owner, Duration::from_secs(120), 1000.5);
        r.takeover_of = Some("old".into());
        for layout in [Layout::Keyed, Layout::Legacy] {
            assert_eq!(from_item(&to_item(&r, layout).unwrap()).unwrap(), r);
        }
        let item = to_item(&r, Layout::Keyed).unwrap();
        assert_eq!(item["pk"].as_s().unwrap(), "tenant:default");
        assert_eq!(item["sk"].as_s().unwrap(), "stack:a:env:dev");
        assert_eq!(item["ttl"].as_n().unwrap(), &(r.last_heartbeat + GC_AFTER).to_string());
    }

    #[test]
    fn keys_split_on_the_tenant_and_refuse_anything_else() {
        assert_eq!(
            split_prefix("tenant:acme:stack:p:env:dev:service:api").unwrap(),
            ("tenant:acme".to_string(), "stack:p:env:dev:service:api".to_string())
        );
        assert_eq!(split_prefix("tenant:acme:").unwrap(), ("tenant:acme".to_string(), String::new()));
        assert!(split_prefix("stack:p").is_err());
        assert!(key_of("tenant:acme:", Layout::Keyed).is_err());
    }
}
