//! The lock soak (issue 11, SPEC §14): 16 worker processes on 4 stacks take
//! the lock, run a stand-in "engine run" of 0.3–1.2 s that stops the moment
//! the lock is no longer held, write the state and release — while the test
//! black-holes the network, drops answers after writes applied, fails
//! requests and SIGKILLs workers (restarting them). Afterwards the
//! invariants are checked from the workers' logs and S3's version history:
//!
//! - never two holders acting on one stack at once (every worker's acting
//!   span — from acquiring to its last engine step or write — is disjoint
//!   from every other's on the same stack);
//! - never two "engine runs" on one stack at once (a special case of the
//!   above, checked separately);
//! - serials strictly increasing by one through every stored version of
//!   each `state.json`, and every write a worker saw succeed is one of them.
//!
//! `make test` runs it for 90 s (`PANKA_SOAK_SECS`); `make soak SOAK_SECS=600`
//! runs the long one. Counts are printed as `SOAK …` lines.

#![allow(clippy::print_stderr)] // figures and soak counts go to the test log

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panka::lock::{acquire, is_held, AcquireOptions, Granularity, LockBackend, LockRequest, Owner};
use panka::scope::{BasePrefix, Name, StackScope, TenantScope};
use panka::state::{SessionOptions, StateSession, StateStore};
use serde_json::{json, Value};
use support::moto;
use support::proxy::{Action, Proxy, Rule};

const WORKERS: usize = 16;
const STACKS: usize = 4;
const LEASE: Duration = Duration::from_secs(3);

fn scope(stack: usize) -> StackScope {
    TenantScope::new(BasePrefix::default(), Name::new("tenant", "soak").unwrap())
        .stack(Name::new("stack", &format!("s{stack}")).unwrap(), Name::new("env", "prod").unwrap())
}

fn micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64
}

/// xorshift64*: enough randomness for fault schedules, seeded and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "soak"))
        .endpoint_url(endpoint)
        .timeout_config(panka::aws::timeouts(Duration::from_secs(2)))
        .load()
        .await
}

// ---------------------------------------------------------------- worker

struct Log(std::fs::File);

impl Log {
    fn event(&mut self, mut v: Value) {
        v["t"] = json!(micros());
        let _ = writeln!(self.0, "{v}");
        let _ = self.0.flush();
    }
}

/// Runs only as a worker process (`PANKA_SOAK_WORKER` = its index).
#[tokio::test]
async fn soak_worker_entry() {
    let Ok(index) = std::env::var("PANKA_SOAK_WORKER") else {
        return;
    };
    let index: u64 = index.parse().unwrap();
    let endpoint = std::env::var("PANKA_SOAK_ENDPOINT").unwrap();
    let table = std::env::var("PANKA_SOAK_TABLE").unwrap();
    let bucket = std::env::var("PANKA_SOAK_BUCKET").unwrap();
    let log_path = PathBuf::from(std::env::var("PANKA_SOAK_LOG").unwrap());
    let mut log = Log(std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap());
    let config = sdk(&endpoint).await;
    let locks: Arc<dyn LockBackend> =
        Arc::new(panka::lock::dynamodb::DynamoDbLocks::new(aws_sdk_dynamodb::Client::new(&config), &table));
    let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
    let store: Arc<dyn StateStore> =
        Arc::new(panka::state::s3::S3StateStore::new(aws_sdk_s3::Client::from_conf(s3), &bucket));
    let mut rng = Rng(micros() ^ (index << 32) | 1);
    let rescue = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    loop {
        let stack = rng.below(STACKS as u64) as usize;
        let mut owner = Owner::current("soak", &format!("w{index}"));
        owner.locked_by = format!("w{index}-{pid}@soak");
        let request = LockRequest { scope: scope(stack), granularity: Granularity::Stack, owner };
        let options = AcquireOptions { lease: LEASE, timeout: Duration::from_secs(15), on_wait: None };
        let guard = match acquire(Arc::clone(&locks), &request, &options).await {
            Ok(g) => g,
            Err(e) => {
                log.event(json!({"ev": "acquire-failed", "stack": stack, "error": e.to_string().lines().next()}));
                continue;
            }
        };
        let id = guard.lock_id().to_string();
        log.event(json!({"ev": "acquired", "stack": stack, "lock": id, "takeover": guard.takeover().is_some()}));
        let watch = guard.watch();
        let opened = StateSession::open(
            Arc::clone(&store),
            scope(stack),
            Some(watch.clone()),
            SessionOptions::new(format!("w{index}"), rescue.path()),
        )
        .await;
        let mut session = match opened {
            Ok(s) => s,
            Err(e) => {
                log.event(
                    json!({"ev": "read-failed", "stack": stack, "lock": id, "error": e.to_string().lines().next()}),
                );
                let _ = guard.release().await;
                continue;
            }
        };
        // The stand-in engine run: steps of 100 ms, each only while held.
        let steps = 3 + rng.below(10);
        log.event(json!({"ev": "up-start", "stack": stack, "lock": id}));
        let mut completed = true;
        for _ in 0..steps {
            if !is_held(&watch) {
                completed = false;
                break;
            }
            log.event(json!({"ev": "step", "stack": stack, "lock": id}));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        log.event(json!({"ev": if completed { "up-end" } else { "up-interrupted" }, "stack": stack, "lock": id}));
        if completed {
            let mark = format!("{id}-{}", rng.next());
            match session.commit(|s| s.metadata.deployment_id = Some(mark.clone())).await {
                Ok(c) => log.event(json!({
                    "ev": "wrote", "stack": stack, "lock": id, "serial": c.serial,
                    "write_id": session.state().metadata.write_id,
                })),
                Err(e) => log.event(
                    json!({"ev": "write-failed", "stack": stack, "lock": id, "error": e.to_string().lines().next()}),
                ),
            }
        }
        let lost = !is_held(&watch);
        match guard.release().await {
            Ok(()) => log.event(json!({"ev": "released", "stack": stack, "lock": id})),
            Err(e) => log.event(json!({"ev": "release-failed", "stack": stack, "lock": id, "lost": lost, "error": e.to_string().lines().next()})),
        }
    }
}

// ---------------------------------------------------------------- driver

fn worker(index: usize, endpoint: &str, table: &str, bucket: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["soak_worker_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("PANKA_SOAK_WORKER", index.to_string())
        .env("PANKA_SOAK_ENDPOINT", endpoint)
        .env("PANKA_SOAK_TABLE", table)
        .env("PANKA_SOAK_BUCKET", bucket)
        .env("PANKA_SOAK_LOG", dir.join(format!("worker-{index}.log")))
        .env("PANKA_TEST_MOTO_ENDPOINT", moto::endpoint())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn soak_locks_and_state_under_faults_and_kills() {
    if std::env::var("PANKA_SOAK_WORKER").is_ok() {
        return;
    }
    let secs: u64 = std::env::var("PANKA_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(90);
    let table = moto::new_table().await;
    let bucket = moto::new_bucket().await;
    moto::s3()
        .await
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let proxy = Proxy::start(&moto::endpoint());
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("PANKA_SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(micros) | 1;
    eprintln!("SOAK seed {seed} for {secs}s, {WORKERS} workers on {STACKS} stacks");
    let mut rng = Rng(seed);
    let mut workers: Vec<Child> =
        (0..WORKERS).map(|i| worker(i, &proxy.endpoint(), &table, &bucket, dir.path())).collect();
    let mut parent = Log(std::fs::File::create(dir.path().join("parent.log")).unwrap());
    let mut faults: BTreeMap<&str, u32> = BTreeMap::new();
    let ops = ["PutItem", "UpdateItem", "DeleteItem", "Query", "GetObject", "PutObject"];
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1200))).await;
        match rng.below(10) {
            0 | 1 => {
                let hold = Duration::from_millis(500 + rng.below(4000));
                proxy.add(Rule::all(Action::BlackHole));
                tokio::time::sleep(hold).await;
                proxy.clear();
                *faults.entry("black-hole").or_default() += 1;
            }
            2..=4 => {
                let op = ops[rng.below(ops.len() as u64) as usize];
                proxy.add(Rule::new(op, Action::DropResponse).once());
                *faults.entry("lost-answer").or_default() += 1;
            }
            5 | 6 => {
                let op = ops[rng.below(ops.len() as u64) as usize];
                proxy.add(Rule::new(op, Action::Error(500)).times(2));
                *faults.entry("error-500").or_default() += 1;
            }
            7 => {
                let op = ops[rng.below(ops.len() as u64) as usize];
                proxy.add(Rule::new(op, Action::Delay(Duration::from_millis(200 + rng.below(2500)))).times(3));
                *faults.entry("delay").or_default() += 1;
            }
            _ => {
                let i = rng.below(WORKERS as u64) as usize;
                let pid = workers[i].id();
                let _ = workers[i].kill();
                let _ = workers[i].wait();
                parent.event(json!({"ev": "killed", "worker": i, "pid": pid}));
                workers[i] = worker(i, &proxy.endpoint(), &table, &bucket, dir.path());
                *faults.entry("sigkill").or_default() += 1;
            }
        }
    }
    for (i, w) in workers.iter_mut().enumerate() {
        let pid = w.id();
        let _ = w.kill();
        let _ = w.wait();
        parent.event(json!({"ev": "killed", "worker": i, "pid": pid}));
    }
    proxy.clear();
    check(dir.path(), &bucket, &faults).await;
}

/// One worker process's acting span on a stack under one lock (`lock` and
/// `worker` are for the failure message).
#[derive(Debug)]
#[allow(dead_code)]
struct Span {
    stack: usize,
    lock: String,
    worker: String,
    start: u64,
    end: u64,
    up: Option<(u64, u64)>,
}

async fn check(dir: &Path, bucket: &str, faults: &BTreeMap<&str, u32>) {
    let mut kills: BTreeMap<u32, u64> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("parent.log")).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        kills.insert(v["pid"].as_u64().unwrap() as u32, v["t"].as_u64().unwrap());
    }
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut written: BTreeMap<usize, Vec<(u64, String)>> = BTreeMap::new();
    for i in 0..WORKERS {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("worker-{i}.log"))) else { continue };
        for line in text.lines() {
            // A SIGKILL may cut the last line short.
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            let ev = v["ev"].as_str().unwrap().to_string();
            *counts.entry(ev.clone()).or_default() += 1;
            if v["takeover"] == true {
                *counts.entry("takeover".into()).or_default() += 1;
            }
            let Some(lock) = v["lock"].as_str() else { continue };
            let t = v["t"].as_u64().unwrap();
            let stack = v["stack"].as_u64().unwrap() as usize;
            let span = spans.entry(lock.to_string()).or_insert_with(|| Span {
                stack,
                lock: lock.to_string(),
                worker: format!("worker-{i}"),
                start: t,
                end: t,
                up: None,
            });
            match ev.as_str() {
                "acquired" => span.start = t,
                "up-start" => span.up = Some((t, t)),
                // What acts on the stack: an engine step (100 ms from its
                // log line) and a write. Releases, failed reads and failed
                // writes change nothing that another holder relies on.
                "step" | "up-end" | "up-interrupted" | "wrote" => {
                    let until = if ev == "step" { t + 100_000 } else { t };
                    span.end = span.end.max(until);
                    if let Some(up) = &mut span.up {
                        if ev != "wrote" {
                            up.1 = up.1.max(until);
                        }
                    }
                    if ev == "wrote" {
                        written.entry(stack).or_default().push((
                            v["serial"].as_u64().unwrap(),
                            v["write_id"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    // Never two holders acting at once, never two engine runs at once.
    for stack in 0..STACKS {
        let mut on: Vec<&Span> = spans.values().filter(|s| s.stack == stack).collect();
        on.sort_by_key(|s| s.start);
        for pair in on.windows(2) {
            assert!(
                pair[1].start >= pair[0].end,
                "two holders acted on stack {stack} at once: {:?} and {:?}",
                pair[0],
                pair[1]
            );
            if let (Some(a), Some(b)) = (pair[0].up, pair[1].up) {
                assert!(b.0 >= a.1, "two engine runs on stack {stack} at once: {:?} {:?}", pair[0], pair[1]);
            }
        }
    }
    // Serials: every stored version of each state.json, oldest first, goes up by one.
    let s3 = moto::s3().await;
    let mut versions_total = 0;
    for stack in 0..STACKS {
        let key = scope(stack).state_key();
        let listed = s3.list_object_versions().bucket(bucket).prefix(&key).send().await.unwrap();
        let mut chain: Vec<(u64, String)> = Vec::new();
        for version in listed.versions().iter().rev().filter(|v| v.key() == Some(key.as_str())) {
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .version_id(version.version_id().unwrap())
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            let state: Value = serde_json::from_slice(&body).unwrap();
            chain.push((
                state["serial"].as_u64().unwrap(),
                state["metadata"]["write_id"].as_str().unwrap_or_default().to_string(),
            ));
        }
        for pair in chain.windows(2) {
            assert_eq!(
                pair[1].0,
                pair[0].0 + 1,
                "stack {stack}: serials {:?}",
                chain.iter().map(|c| c.0).collect::<Vec<_>>()
            );
        }
        let stored: BTreeSet<&(u64, String)> = chain.iter().collect();
        for w in written.get(&stack).into_iter().flatten() {
            assert!(stored.contains(w), "stack {stack}: a write reported as done is not stored: {w:?}");
        }
        versions_total += chain.len();
    }
    eprintln!("SOAK faults {faults:?}");
    eprintln!("SOAK events {counts:?}");
    eprintln!(
        "SOAK lock spans {}, processes killed {}, state versions {versions_total}, writes seen {}",
        spans.len(),
        kills.len(),
        written.values().map(Vec::len).sum::<usize>()
    );
    assert!(counts.get("wrote").copied().unwrap_or(0) >= 10, "the soak made progress: {counts:?}");
}
