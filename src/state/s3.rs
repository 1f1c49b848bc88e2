//! [`StateStore`] on S3: `GetObject` returns the ETag as the version,
//! `PutObject` carries `If-Match: <etag>` or `If-None-Match: *`.
//!
//! Invariant: a 412 (or a 404 on `If-Match`: the object vanished) is always
//! [`StoreError::PreconditionFailed`] and a 409 `ConditionalRequestConflict`
//! is always [`StoreError::ConcurrentWrite`], so the session above can tell
//! "someone else wrote" from "try again".

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};

use super::store::{BoxFuture, Listed, Object, Precondition, StateStore, StoreError, Version};
use crate::aws::{explain, Resource};

/// Objects under a `history/` folder are tagged so that `panka admin init`'s
/// lifecycle rule can expire them (S3 filters cannot match nested prefixes).
pub const HISTORY_TAG: &str = "panka-kind=history";
const HISTORY_SEGMENT: &str = "/history/";

#[derive(Debug, Clone)]
pub struct S3StateStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3StateStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3StateStore {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    async fn get_object(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) if err.code() == Some("NoSuchKey") => return Ok(None),
            Err(err) => {
                return Err(explain(
                    &err,
                    &format!("GetObject `{key}`"),
                    Resource::Bucket(&self.bucket),
                )
                .into())
            }
        };
        let version = Version(output.e_tag().unwrap_or_default().to_string());
        let body = output.body.collect().await.map_err(|e| StoreError::Io {
            message: format!("reading `{}` failed: {e}", self.describe(key)),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(Some(Object {
            body: body.into_bytes().to_vec(),
            version,
        }))
    }

    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> Result<Version, StoreError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        if key.contains(HISTORY_SEGMENT) {
            // The bucket's lifecycle rule expires history copies by this tag.
            request = request.tagging(HISTORY_TAG);
        }
        request = match &condition {
            Precondition::None => request,
            Precondition::IfMatch(v) => request.if_match(&v.0),
            Precondition::IfAbsent => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(output) => Ok(Version(output.e_tag().unwrap_or_default().to_string())),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = err.code();
                let conditional = condition != Precondition::None;
                if conditional
                    && (status == Some(412)
                        || code == Some("PreconditionFailed")
                        || (matches!(condition, Precondition::IfMatch(_))
                            && (status == Some(404) && code != Some("NoSuchBucket"))))
                {
                    return Err(StoreError::PreconditionFailed {
                        key: key.to_string(),
                    });
                }
                if status == Some(409) || code == Some("ConditionalRequestConflict") {
                    return Err(StoreError::ConcurrentWrite {
                        key: key.to_string(),
                    });
                }
                Err(explain(
                    &err,
                    &format!("PutObject `{key}`"),
                    Resource::Bucket(&self.bucket),
                )
                .into())
            }
        }
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                StoreError::from(explain(
                    &err,
                    &format!("ListObjectsV2 `{prefix}`"),
                    Resource::Bucket(&self.bucket),
                ))
            })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                out.push(Listed {
                    key: key.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object
                        .last_modified()
                        .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

impl StateStore for S3StateStore {
    fn describe(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Object>, StoreError>> {
        Box::pin(self.get_object(key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        Box::pin(self.put_object(key, body, condition))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Listed>, StoreError>> {
        Box::pin(self.list_objects(prefix))
    }
}
