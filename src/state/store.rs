//! The seam between panka's state protocol and where bytes are kept:
//! [`StateStore`], implemented by S3 ([`super::s3`]) and a local directory
//! ([`super::local`]).
//!
//! A store only moves objects. It knows nothing of lineage, serials or locks;
//! [`super::session`] builds those on top. Its one promise is that a `put`
//! with a [`Precondition`] is compare-and-swap: it either applies against the
//! exact version named or fails with [`StoreError::PreconditionFailed`].

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::aws::AwsError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An opaque version of an object: the S3 ETag, or the sha256 of a local file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// The condition a write is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Unconditional (history copies only).
    None,
    /// The object must exist and still be at this version (`If-Match`).
    IfMatch(Version),
    /// The object must not exist yet (`If-None-Match: *`).
    IfAbsent,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The full key.
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The precondition did not hold: someone else wrote (S3 412, or 404 on
    /// `If-Match` because the object is gone).
    #[error("the object `{key}` changed since it was read")]
    PreconditionFailed { key: String },
    /// S3 409 `ConditionalRequestConflict`: a concurrent conditional write
    /// was in flight; nothing was written and the caller may re-read and retry.
    #[error("a concurrent write to `{key}` was in flight (409 ConditionalRequestConflict)")]
    ConcurrentWrite { key: String },
    /// The object exists but is not what panka wrote there.
    #[error("`{key}` is not valid: {detail}")]
    Corrupt { key: String, detail: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{message}")]
    Io {
        message: String,
        #[source]
        source: std::io::Error,
    },
}

pub trait StateStore: Send + Sync {
    /// Where `key` lives, for messages: `s3://bucket/key` or a path.
    fn describe(&self, key: &str) -> String;

    /// The object at `key` and its version, or `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Object>, StoreError>>;

    /// Writes `body` at `key` under `condition`; returns the new version.
    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Version, StoreError>>;

    /// Every object whose key starts with `prefix`, sorted by key.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Listed>, StoreError>>;
}
