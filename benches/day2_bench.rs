//! `panka status` and `panka history` of a 1,000-component stack with 500
//! recorded deployments (issue 13: ≤ 1 s each, status reading O(1)
//! objects), the real binary against S3 on a moto server on loopback.
//!
//! The state and the records are written with panka's own code (the same
//! `records::write` an apply uses): one deployment creating every
//! component, then 499 releases of 50 components each.
//!
//! Run with `cargo bench --bench day2_bench` (`make bench-day2`);
//! `PANKA_BENCH_RUNS` sets the runs per command (default 5, median shown).
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use panka::scope::{BasePrefix, Name, TenantScope};
use panka::state::records::{self, ComponentRun, Deployment, GitInfo};
use panka::state::s3::S3StateStore;
use panka::state::store::Precondition;
use panka::state::{ComponentState, ComponentStatus, State, StateStore};
use support::faults::RequestCounter;
use support::moto;

const COMPONENTS: usize = 1000;
const DEPLOYMENTS: usize = 500;
const PER_RELEASE: usize = 50;

fn component(i: usize) -> String {
    format!("svc{:03}/c{}", i / 10, i % 10)
}

fn record(id: usize, components: &[String]) -> Deployment {
    let now = Utc::now();
    Deployment {
        format_version: "panka-deployment-v1".into(),
        id: format!("{id:08}-0000-4000-8000-000000000000"),
        operation: "apply".into(),
        stack: "big".into(),
        environment: "prod".into(),
        tenant: "default".into(),
        started_at: now,
        finished_at: now,
        duration_ms: 60_000,
        by: "ci@runner".into(),
        ci: BTreeMap::new(),
        git: GitInfo { commit: Some(format!("{id:040x}")), branch: Some("main".into()), dirty: false },
        command: vec!["panka".into(), "apply".into(), "-e".into(), "prod".into()],
        status: "succeeded".into(),
        components: components
            .iter()
            .map(|c| ComponentRun {
                component: c.clone(),
                action: "update".into(),
                outcome: "updated".into(),
                duration_ms: Some(30_000),
                config_hash: Some("ab".repeat(32)),
                error: None,
                object: None,
            })
            .collect(),
        state_serial: Some(id as u64),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("PANKA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let bucket = moto::new_bucket().await;
    let store = S3StateStore::new(moto::s3().await, &bucket);
    let scope = TenantScope::new(BasePrefix::default(), Name::new("tenant", "default").unwrap())
        .stack(Name::new("stack", "big").unwrap(), Name::new("environment", "prod").unwrap());

    let seeding = Instant::now();
    let mut state = State::new("big", "prod", "default");
    let all: Vec<String> = (0..COMPONENTS).map(component).collect();
    for c in &all {
        state.components.insert(
            c.clone(),
            ComponentState {
                kind: "SQS".into(),
                status: ComponentStatus::Deployed,
                config: serde_json::json!({"visibilityTimeoutSeconds": 30}),
                config_hash: "ab".repeat(32),
                outputs: BTreeMap::from([("url".to_string(), serde_json::json!("https://sqs/x"))]),
                inputs_hash: None,
                pulumi_project: c.replace('/', "-"),
                pulumi_stack: "prod".into(),
                dependencies: Vec::new(),
                created_at: Utc::now(),
                updated_at: Utc::now(),
                last_error: None,
            },
        );
    }
    state.serial = DEPLOYMENTS as u64;
    store.put(&scope.state_key(), serde_json::to_vec(&state).unwrap(), Precondition::None).await.unwrap();
    records::write(&store, &scope, &record(0, &all)).await.unwrap();
    for d in 1..DEPLOYMENTS {
        let touched: Vec<String> = (0..PER_RELEASE).map(|k| all[(d * 37 + k * 19) % COMPONENTS].clone()).collect();
        records::write(&store, &scope, &record(d, &touched)).await.unwrap();
    }
    let index = store.get(&records::index_key(&scope)).await.unwrap().unwrap();
    println!(
        "seeded {COMPONENTS} components and {DEPLOYMENTS} deployments in {:.1} s (index.json {:.1} MB, state.json {:.1} MB)",
        seeding.elapsed().as_secs_f64(),
        index.body.len() as f64 / 1e6,
        serde_json::to_vec(&state).unwrap().len() as f64 / 1e6
    );

    // The S3 reads behind one `status` (the state, the index, the last drift
    // result), counted on panka's own store code: as many with 500
    // deployments as with one.
    let counter = RequestCounter::default();
    let counted = S3StateStore::new(
        aws_sdk_s3::Client::from_conf(moto::s3_builder().await.interceptor(counter.clone()).build()),
        &bucket,
    );
    let _ = panka::state::read_state(&counted, &scope).await.unwrap();
    let _ = records::index(&counted, &scope).await.unwrap();
    let _ = counted.get(&format!("{}/drift.json", scope.state_dir())).await.unwrap();
    println!("status reads {} S3 objects", counter.total());

    let bin = env!("CARGO_BIN_EXE_panka");
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("status", vec!["status"]),
        ("status --output json", vec!["status", "--output", "json"]),
        ("history (20)", vec!["history"]),
        ("history --limit 500 --output json", vec!["history", "--limit", "500", "--output", "json"]),
        ("history --component (filter)", vec!["history", "--component", "svc050/c5", "--limit", "500"]),
    ] {
        let mut samples = Vec::new();
        for _ in 0..runs + 1 {
            let started = Instant::now();
            let o = Command::new(bin)
                .current_dir(dir.path())
                .args(["--stack", "big", "-e", "prod"])
                .args(&args)
                .env("HOME", dir.path())
                .env("PANKA_BACKEND_TYPE", "s3")
                .env("PANKA_BACKEND_BUCKET", &bucket)
                .env("PANKA_BACKEND_ENDPOINT", moto::endpoint())
                .env("PANKA_BACKEND_REGION", "us-east-1")
                .env("PANKA_LOCKS_TYPE", "local")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .output()
                .unwrap();
            samples.push(started.elapsed());
            assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
            assert!(!o.stdout.is_empty());
        }
        samples.remove(0); // warm-up
        println!("{name:<40} median {:>7.1} ms (target ≤ 1000 ms)", median(samples).as_secs_f64() * 1000.0);
    }
}
