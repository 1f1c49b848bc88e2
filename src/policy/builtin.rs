//! The policies panka ships (issue 15), each switched off by its name in
//! `policy.disable`. Every bundled example passes them in every
//! environment (tests/policy.rs).

use super::PolicyFile;

/// `(name, source)` of every built-in policy.
pub const BUILTINS: [(&str, &str); 3] = [
    ("production-replicas", include_str!("builtin/production_replicas.rego")),
    ("s3-private", include_str!("builtin/s3_private.rego")),
    ("rds-protected", include_str!("builtin/rds_protected.rego")),
];

/// The built-ins not named in `disable`, as files `builtin:<name>`.
pub fn files(disable: &[String]) -> Vec<PolicyFile> {
    BUILTINS
        .iter()
        .filter(|(name, _)| !disable.iter().any(|d| d == name))
        .map(|(name, text)| PolicyFile { path: format!("builtin:{name}"), text: text.to_string() })
        .collect()
}

/// Names in `disable` that are not built-ins (a typo would silently keep
/// a policy on).
pub fn unknown(disable: &[String]) -> Vec<&str> {
    disable.iter().map(String::as_str).filter(|d| !BUILTINS.iter().any(|(n, _)| n == d)).collect()
}
