//! Fault injection through the real SDK client: an interceptor that changes
//! a real request so the server refuses it harmlessly (or cannot be reached),
//! then rewrites the real response into the fault under test. Nothing is
//! mocked: every request reaches moto or a closed port.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::SdkBody;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 409 ConditionalRequestConflict; the write is not applied.
    Conflict409,
    /// The request goes to a closed port: a real connection failure.
    Unreachable,
    /// 403 AccessDenied.
    AccessDenied,
}

/// Injects `fault` into the next `count` PutObject requests on keys ending in `suffix`.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fault: Fault,
    suffix: String,
    remaining: AtomicU32,
    injected: AtomicU32,
    armed: AtomicBool,
}

impl Faults {
    pub fn new(fault: Fault, suffix: &str, count: u32) -> Faults {
        Faults {
            inner: Arc::new(Inner {
                fault,
                suffix: suffix.to_string(),
                remaining: AtomicU32::new(count),
                injected: AtomicU32::new(0),
                armed: AtomicBool::new(false),
            }),
        }
    }

    /// How many requests were faulted.
    pub fn injected(&self) -> u32 {
        self.inner.injected.load(Ordering::SeqCst)
    }
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "panka-test-faults"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        let path = req.uri().split('?').next().unwrap_or("").to_string();
        if req.method() != "PUT" || !path.ends_with(&self.inner.suffix) {
            return Ok(());
        }
        let take = self
            .inner
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !take {
            return Ok(());
        }
        self.inner.injected.fetch_add(1, Ordering::SeqCst);
        match self.inner.fault {
            Fault::Unreachable => {
                let uri = req.uri().to_string();
                let rest = uri.splitn(4, '/').nth(3).unwrap_or("");
                req.set_uri(format!("http://127.0.0.1:9/{rest}").as_str())
                    .map_err(|e| format!("{e:?}"))?;
            }
            Fault::Conflict409 | Fault::AccessDenied => {
                // An If-Match no object has: moto refuses without writing.
                req.headers_mut().remove("If-None-Match");
                req.headers_mut()
                    .insert("If-Match", "\"panka-test-never-matches\"");
                self.inner.armed.store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.inner.armed.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let (status, code, message) = match self.inner.fault {
            Fault::Conflict409 => (
                409,
                "ConditionalRequestConflict",
                "A conflicting conditional operation is currently in progress against this resource.",
            ),
            Fault::AccessDenied => (403, "AccessDenied", "Access Denied"),
            Fault::Unreachable => return Ok(()),
        };
        let resp = ctx.response_mut();
        *resp.status_mut() = status.try_into().expect("valid status");
        resp.headers_mut().insert("Content-Type", "application/xml");
        resp.headers_mut().remove("Content-Length");
        *resp.body_mut() = SdkBody::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>test</RequestId></Error>"
        ));
        Ok(())
    }
}

/// Counts requests per service operation (the `x-id` / `X-Amz-Target` of each).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<std::collections::BTreeMap<String, u32>>>,
}

impl RequestCounter {
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, u32> {
        self.counts.lock().unwrap().clone()
    }

    pub fn total(&self) -> u32 {
        self.counts.lock().unwrap().values().sum()
    }

    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "panka-request-counter"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        let op = if let Some(target) = req.headers().get("x-amz-target") {
            target.rsplit('.').next().unwrap_or(target).to_string()
        } else if let Some(id) = req
            .uri()
            .split('?')
            .nth(1)
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("x-id=")))
        {
            id.to_string()
        } else {
            format!(
                "{} {}",
                req.method(),
                req.uri().split('?').next().unwrap_or("")
            )
        };
        *self.counts.lock().unwrap().entry(op).or_default() += 1;
        Ok(())
    }
}
