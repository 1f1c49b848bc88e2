//! The lock scope, request and lease the lock tests share: tenant `acme`,
//! stack `payments`, environment `prod`.

use std::time::Duration;

use panka::lock::{AcquireOptions, Granularity, LockRequest, Owner};
use panka::scope::{BasePrefix, Name, StackScope, TenantScope};

pub fn scope() -> StackScope {
    TenantScope::new(BasePrefix::default(), Name::new("tenant", "acme").unwrap())
        .stack(Name::new("stack", "payments").unwrap(), Name::new("env", "prod").unwrap())
}

/// A stack lock request by `who` (`locked_by` = `<who>@test`).
pub fn request(who: &str) -> LockRequest {
    let mut owner = Owner::current("apply", &format!("dep-{who}"));
    owner.locked_by = format!("{who}@test");
    LockRequest { scope: scope(), granularity: Granularity::Stack, owner }
}

pub fn lease(secs: u64) -> AcquireOptions {
    AcquireOptions { lease: Duration::from_secs(secs), ..AcquireOptions::default() }
}
