//! Where policies come from: the built-ins, the stack's own `policies/`
//! directory, and `policy.paths` — local directories or files, and
//! `s3://bucket/prefix` bundles (the platform team's, read with the
//! state backend's S3 settings).
//!
//! `_test.rego` files are tests: [`read`] leaves them out unless asked.

use std::path::{Path, PathBuf};

use super::PolicyFile;
use crate::aws::{explain, AwsSettings, Resource, ServiceSettings};

/// The stack directory's policy folder; stack discovery skips it.
pub const STACK_POLICY_DIR: &str = "policies";

/// The largest policy file read (policies are small; this guards memory).
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// Whether a file name is a policy's test file.
pub fn is_test(name: &str) -> bool {
    name.ends_with("_test.rego")
}

/// Every `.rego` file under `path` (a file or a directory, recursively,
/// hidden entries skipped), sorted; `display` is how paths are shown.
pub fn read_local(path: &Path, tests: bool, display: &dyn Fn(&Path) -> String) -> std::io::Result<Vec<PolicyFile>> {
    let mut found: Vec<PathBuf> = Vec::new();
    if path.is_file() {
        found.push(path.to_path_buf());
    } else {
        let mut todo = vec![path.to_path_buf()];
        while let Some(dir) = todo.pop() {
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if e.file_type()?.is_dir() {
                    todo.push(e.path());
                } else if name.ends_with(".rego") && (tests || !is_test(&name)) {
                    found.push(e.path());
                }
            }
        }
    }
    found.sort();
    let mut files = Vec::new();
    for p in found {
        let size = std::fs::metadata(&p)?.len();
        if size > MAX_POLICY_BYTES {
            return Err(std::io::Error::other(format!(
                "`{}` is {size} bytes; a policy file may have at most {MAX_POLICY_BYTES}",
                p.display()
            )));
        }
        let text = std::fs::read_to_string(&p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read `{}`: {e}", p.display())))?;
        files.push(PolicyFile { path: display(&p), text });
    }
    Ok(files)
}

/// `s3://bucket/prefix` → (bucket, prefix).
pub fn parse_s3(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.trim_start_matches('/').to_string()))
}

/// Every `.rego` object under an S3 prefix, sorted by key.
pub async fn read_s3(
    url: &str,
    aws: &AwsSettings,
    service: &ServiceSettings,
    tests: bool,
) -> Result<Vec<PolicyFile>, String> {
    let (bucket, prefix) = parse_s3(url).ok_or_else(|| format!("`{url}` is not an s3://bucket/prefix URL"))?;
    let sdk = crate::aws::load_config(aws).await;
    let client = aws_sdk_s3::Client::from_conf(crate::aws::s3_config(&sdk, service).build());
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| explain(&e, &format!("ListObjectsV2 `{prefix}`"), Resource::Bucket(&bucket)).to_string())?;
        for o in out.contents() {
            if let Some(k) = o.key() {
                let name = k.rsplit('/').next().unwrap_or(k);
                if name.ends_with(".rego") && (tests || !is_test(name)) {
                    if o.size().unwrap_or(0) as u64 > MAX_POLICY_BYTES {
                        return Err(format!("`s3://{bucket}/{k}` is larger than {MAX_POLICY_BYTES} bytes"));
                    }
                    keys.push(k.to_string());
                }
            }
        }
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    keys.sort();
    let mut files = Vec::new();
    for k in keys {
        let out = client
            .get_object()
            .bucket(&bucket)
            .key(&k)
            .send()
            .await
            .map_err(|e| explain(&e, &format!("GetObject `{k}`"), Resource::Bucket(&bucket)).to_string())?;
        let bytes = out.body.collect().await.map_err(|e| format!("cannot read `s3://{bucket}/{k}`: {e}"))?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| format!("`s3://{bucket}/{k}` is not UTF-8 text"))?;
        files.push(PolicyFile { path: format!("s3://{bucket}/{k}"), text });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3("s3://b/admin/policies"), Some(("b".into(), "admin/policies".into())));
        assert_eq!(parse_s3("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_s3("s3:///x"), None);
        assert_eq!(parse_s3("/local"), None);
    }
}
