//! Lock and state costs against a real moto server on loopback.
//!
//! 1. Lock acquire + release latency against a raw `PutItem` + `DeleteItem`
//!    of the same item on the same server (target ratio ≤ 1.5).
//! 2. Requests to S3 and DynamoDB for an apply of N components: lock, one
//!    state read, one checkpoint per finished component, release (target:
//!    constant + one checkpoint per component, no per-component reads).
//!
//! Run with `cargo bench --bench lock_bench` (`PANKA_BENCH_ITERATIONS` sets
//! the sample count, default 300).
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use panka::lock::dynamodb::{to_item, DynamoDbLocks, Layout};
use panka::lock::record::now_f64;
use panka::lock::{acquire, AcquireOptions, Granularity, LockBackend, LockRecord, LockRequest, Owner};
use panka::scope::{BasePrefix, Name, StackScope, TenantScope};
use panka::state::s3::S3StateStore;
use panka::state::{SessionOptions, StateSession, StateStore};
use support::faults::RequestCounter;
use support::moto;

fn scope() -> StackScope {
    TenantScope::new(BasePrefix::default(), Name::new("tenant", "bench").unwrap())
        .stack(Name::new("stack", "payments").unwrap(), Name::new("env", "prod").unwrap())
}

fn request() -> LockRequest {
    LockRequest { scope: scope(), granularity: Granularity::Stack, owner: Owner::current("apply", "bench") }
}

/// The baseline: the same item written and deleted with plain calls.
async fn raw_put_delete(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) {
    ddb.put_item().table_name(table).set_item(Some(item.clone())).send().await.unwrap();
    ddb.delete_item()
        .table_name(table)
        .key("pk", item["pk"].clone())
        .key("sk", item["sk"].clone())
        .send()
        .await
        .unwrap();
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p90 = samples[samples.len() * 9 / 10];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    (median, p90, mean)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let iterations: usize = std::env::var("PANKA_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let table = moto::new_table().await;
    let ddb = moto::dynamodb().await;
    let backend: Arc<dyn LockBackend> = Arc::new(DynamoDbLocks::new(ddb.clone(), &table));
    let key = scope().lock_key();
    let record = LockRecord::new(key.clone(), &Owner::current("apply", "bench"), Duration::from_secs(120), now_f64());
    let item = to_item(&record, Layout::Keyed).unwrap();

    // Warm up connections and moto's code paths.
    for _ in 0..20 {
        raw_put_delete(&ddb, &table, &item).await;
        acquire(backend.clone(), &request(), &AcquireOptions::default()).await.unwrap().release().await.unwrap();
    }

    // Interleave the two so drift in the server affects both alike.
    let mut raw = Vec::with_capacity(iterations);
    let mut lock = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        raw_put_delete(&ddb, &table, &item).await;
        raw.push(t.elapsed());

        let t = Instant::now();
        let guard = acquire(backend.clone(), &request(), &AcquireOptions::default()).await.unwrap();
        guard.release().await.unwrap();
        lock.push(t.elapsed());
    }
    let (raw_med, raw_p90, raw_mean) = stats(raw);
    let (lock_med, lock_p90, lock_mean) = stats(lock);
    println!("lock latency over {iterations} iterations (moto on loopback)");
    println!("  raw PutItem+DeleteItem   median {}  p90 {}  mean {}", ms(raw_med), ms(raw_p90), ms(raw_mean));
    println!("  panka acquire+release    median {}  p90 {}  mean {}", ms(lock_med), ms(lock_p90), ms(lock_mean));
    println!(
        "  ratio (median)           {:.2}   (mean {:.2}; target <= 1.5)",
        lock_med.as_secs_f64() / raw_med.as_secs_f64(),
        lock_mean.as_secs_f64() / raw_mean.as_secs_f64()
    );

    // Request counts of an apply of N components.
    let s3_counter = RequestCounter::default();
    let ddb_counter = RequestCounter::default();
    let s3 = aws_sdk_s3::Client::from_conf(moto::s3_builder().await.interceptor(s3_counter.clone()).build());
    let counted_ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk_config().await).interceptor(ddb_counter.clone()).build(),
    );
    let counted_locks: Arc<dyn LockBackend> = Arc::new(DynamoDbLocks::new(counted_ddb, &table));
    let rescue = tempfile::tempdir().unwrap();
    println!("\nrequests for an apply of N components (lock, read state, one checkpoint per component, release)");
    for n in [1usize, 10, 50] {
        let bucket = moto::new_bucket().await;
        let store: Arc<dyn StateStore> = Arc::new(S3StateStore::new(s3.clone(), &bucket));
        s3_counter.reset();
        ddb_counter.reset();
        let guard = acquire(counted_locks.clone(), &request(), &AcquireOptions::default()).await.unwrap();
        let mut session =
            StateSession::open(store, scope(), Some(guard.watch()), SessionOptions::new("bench", rescue.path()))
                .await
                .unwrap();
        for i in 0..n {
            session
                .commit(|s| {
                    s.metadata.deployment_id = Some("bench".into());
                    s.metadata.git_commit = Some(format!("component-{i}"));
                })
                .await
                .unwrap();
        }
        guard.release().await.unwrap();
        let s3_counts = s3_counter.snapshot();
        let ddb_counts = ddb_counter.snapshot();
        let reads = s3_counts.get("GetObject").copied().unwrap_or(0);
        let puts = s3_counts.get("PutObject").copied().unwrap_or(0);
        println!(
            "  N={n:<3} S3 {:>3} (GetObject {reads}, PutObject {puts} = {} state + {} history)  DynamoDB {:>2} {:?}  total {}",
            s3_counter.total(),
            n,
            puts as usize - n,
            ddb_counter.total(),
            ddb_counts,
            s3_counter.total() + ddb_counter.total()
        );
    }
}
