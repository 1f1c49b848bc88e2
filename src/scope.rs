//! Where a stack's state and locks live: validated names and the keys built
//! from them (SPEC §8, §9, §12).
//!
//! Invariant: every object key and lock key panka uses is built here, from
//! [`Name`]s that are lowercase DNS labels and a [`BasePrefix`] whose segments
//! are plain words. Neither can hold `/`, `..`, `:` or whitespace, so no name
//! can reach outside its tenant's prefix or lock-key space.

use std::fmt;

use serde::Serialize;

/// The tenant used when none is configured; its state lives directly under the
/// configured prefix (no `tenants/default/` segment).
pub const DEFAULT_TENANT: &str = "default";

/// Longest name accepted here (a DNS label); the model may be stricter.
const MAX_NAME_LEN: usize = 63;

/// A name that was checked to be a lowercase DNS label: `[a-z0-9-]`, 1 to 63
/// characters, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} name `{value}`: {reason}\nhint: use a lowercase DNS label: letters a-z, digits and `-`, 1 to 63 characters, starting and ending with a letter or digit")]
pub struct NameError {
    pub what: &'static str,
    /// The offending value, with control characters escaped.
    pub value: String,
    pub reason: &'static str,
}

impl Name {
    /// Checks `value` as the name of a `what` (tenant, stack, environment, service).
    pub fn new(what: &'static str, value: &str) -> Result<Name, NameError> {
        let err = |reason| NameError {
            what,
            value: value.escape_debug().to_string(),
            reason,
        };
        if value.is_empty() {
            return Err(err("it is empty"));
        }
        if value.len() > MAX_NAME_LEN {
            return Err(err("it is longer than 63 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err("it may hold only a-z, 0-9 and `-`"));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err(err("it may not start or end with `-`"));
        }
        Ok(Name(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The configured `backend.prefix`: zero or more `/`-separated segments of
/// `[A-Za-z0-9._-]`, none of them `.` or `..`. Leading and trailing slashes
/// are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BasePrefix(String);

impl BasePrefix {
    pub fn new(value: &str) -> Result<BasePrefix, NameError> {
        let trimmed = value.trim_matches('/');
        let err = |reason| NameError {
            what: "backend prefix",
            value: value.escape_debug().to_string(),
            reason,
        };
        if trimmed.is_empty() {
            return Ok(BasePrefix::default());
        }
        for segment in trimmed.split('/') {
            if segment.is_empty() {
                return Err(err("it has an empty segment (`//`)"));
            }
            if segment == "." || segment == ".." {
                return Err(err("it has a `.` or `..` segment"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(err(
                    "segments may hold only A-Z, a-z, 0-9, `.`, `_` and `-`",
                ));
            }
        }
        Ok(BasePrefix(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn join(&self, rest: &str) -> String {
        if self.0.is_empty() {
            rest.to_string()
        } else {
            format!("{}/{rest}", self.0)
        }
    }
}

/// A tenant's area: `[<prefix>/][tenants/<tenant>/]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    pub prefix: BasePrefix,
    pub tenant: Name,
}

impl TenantScope {
    pub fn new(prefix: BasePrefix, tenant: Name) -> Self {
        TenantScope { prefix, tenant }
    }

    pub fn is_default(&self) -> bool {
        self.tenant.as_str() == DEFAULT_TENANT
    }

    /// The key prefix (ending in `/`, or empty) under which all of this
    /// tenant's objects live.
    pub fn root(&self) -> String {
        let inner = if self.is_default() {
            String::new()
        } else {
            format!("tenants/{}/", self.tenant)
        };
        let joined = self.prefix.join(&inner);
        if joined.is_empty() || joined.ends_with('/') {
            joined
        } else {
            format!("{joined}/")
        }
    }

    /// `<root>stacks/`: where [`StackScope::state_dir`]s of this tenant live.
    pub fn stacks_root(&self) -> String {
        format!("{}stacks/", self.root())
    }

    /// The lock-key prefix of every lock of this tenant: `tenant:<t>:`.
    pub fn lock_key_prefix(&self) -> String {
        format!("tenant:{}:", self.tenant)
    }

    pub fn stack(&self, stack: Name, environment: Name) -> StackScope {
        StackScope {
            tenant: self.clone(),
            stack,
            environment,
        }
    }
}

/// One stack in one environment of one tenant: the unit of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackScope {
    pub tenant: TenantScope,
    pub stack: Name,
    pub environment: Name,
}

impl StackScope {
    /// `<root>stacks/<stack>/<env>/`
    pub fn state_dir(&self) -> String {
        format!(
            "{}{}/{}/",
            self.tenant.stacks_root(),
            self.stack,
            self.environment
        )
    }

    /// `<root>stacks/<stack>/<env>/state.json`
    pub fn state_key(&self) -> String {
        format!("{}state.json", self.state_dir())
    }

    /// `<root>stacks/<stack>/<env>/history/`
    pub fn history_dir(&self) -> String {
        format!("{}history/", self.state_dir())
    }

    /// `<root>stacks/<stack>/<env>/history/<serial>-<deployment>.json`; the
    /// serial is zero-padded so keys sort in write order.
    pub fn history_key(&self, serial: u64, deployment: &str) -> String {
        format!(
            "{}{serial:010}-{}.json",
            self.history_dir(),
            sanitize_id(deployment)
        )
    }

    /// `<root>stacks/<stack>/<env>/pulumi`: the Pulumi DIY backend (no slash).
    pub fn pulumi_dir(&self) -> String {
        format!("{}pulumi", self.state_dir())
    }

    /// `tenant:<t>:stack:<s>:env:<e>`
    pub fn lock_key(&self) -> String {
        format!(
            "{}stack:{}:env:{}",
            self.tenant.lock_key_prefix(),
            self.stack,
            self.environment
        )
    }

    /// `tenant:<t>:stack:<s>:env:<e>:service:<svc>`
    pub fn service_lock_key(&self, service: &Name) -> String {
        format!("{}:service:{service}", self.lock_key())
    }

    /// Short human form, e.g. `payments/production` or `acme/payments/production`.
    pub fn display(&self) -> String {
        if self.tenant.is_default() {
            format!("{}/{}", self.stack, self.environment)
        } else {
            format!("{}/{}/{}", self.tenant.tenant, self.stack, self.environment)
        }
    }
}

/// Deployment ids are UUIDs; anything else is reduced to `[A-Za-z0-9-]` so it
/// can never add a path segment.
fn sanitize_id(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "none".to_string()
    } else {
        cleaned
    }
}

/// Parses a history key's file name back into `(serial, deployment)`.
pub fn parse_history_name(file_name: &str) -> Option<(u64, String)> {
    let stem = file_name.strip_suffix(".json")?;
    let (serial, deployment) = stem.split_once('-')?;
    Some((serial.parse().ok()?, deployment.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(v: &str) -> Name {
        Name::new("stack", v).unwrap()
    }

    #[test]
    fn names_reject_anything_that_could_escape() {
        for bad in [
            "", "..", "../x", "a/b", "A", "a b", "a:b", "-a", "a-", "a\0", "é", "a.b",
        ] {
            assert!(Name::new("stack", bad).is_err(), "{bad:?} accepted");
        }
        assert!(Name::new("stack", &"a".repeat(64)).is_err());
        assert_eq!(name("pay-ments1").as_str(), "pay-ments1");
    }

    #[test]
    fn prefixes_reject_traversal() {
        for bad in ["a/../b", "..", "a//b", "a/./b", "a b", "a\\b", "a:b"] {
            assert!(BasePrefix::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            BasePrefix::new("/panka/state/").unwrap().as_str(),
            "panka/state"
        );
        assert_eq!(BasePrefix::new("").unwrap().as_str(), "");
    }

    #[test]
    fn default_tenant_uses_the_plain_prefix() {
        let t = TenantScope::new(BasePrefix::default(), name("default"));
        let s = t.stack(name("payments"), name("production"));
        assert_eq!(s.state_key(), "stacks/payments/production/state.json");
        assert_eq!(s.lock_key(), "tenant:default:stack:payments:env:production");
        let t = TenantScope::new(BasePrefix::new("org").unwrap(), name("default"));
        assert_eq!(
            t.stack(name("p"), name("dev")).state_key(),
            "org/stacks/p/dev/state.json"
        );
    }

    #[test]
    fn tenant_keys_live_under_tenants() {
        let t = TenantScope::new(BasePrefix::new("org").unwrap(), name("acme"));
        let s = t.stack(name("payments"), name("dev"));
        assert_eq!(
            s.state_key(),
            "org/tenants/acme/stacks/payments/dev/state.json"
        );
        assert_eq!(
            s.history_key(7, "0b1f-../x"),
            "org/tenants/acme/stacks/payments/dev/history/0000000007-0b1f-x.json"
        );
        assert_eq!(
            s.pulumi_dir(),
            "org/tenants/acme/stacks/payments/dev/pulumi"
        );
        assert_eq!(
            s.service_lock_key(&name("backend")),
            "tenant:acme:stack:payments:env:dev:service:backend"
        );
        assert!(s.state_key().starts_with(&t.root()));
    }

    #[test]
    fn history_names_round_trip() {
        assert_eq!(
            parse_history_name("0000000012-abc-def.json"),
            Some((12, "abc-def".to_string()))
        );
        assert_eq!(parse_history_name("x.json"), None);
    }
}
