//! Locks in DynamoDB against a real moto server: contention between
//! processes, heartbeat, loss detection, takeover, release, SIGKILL.
//!
//! Tests that need separate processes re-run this test binary with
//! `PANKA_TEST_CHILD` set; the `child_process_entry` test then acts as the
//! child (acquire and report, or acquire and hang until killed).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use panka::exit::ExitStatus;
use panka::lock::dynamodb::{to_item, DynamoDbLocks, Layout};
use panka::lock::ops::{find_lock, list_locks, unlock, Liveness};
use panka::lock::record::now_f64;
use panka::lock::{
    acquire, AcquireOptions, Granularity, LockBackend, LockError, LockHealth, LockRecord, LockRequest, Owner,
};
use panka::scope::{BasePrefix, Name, TenantScope};
use serde_json::{json, Value};
use support::locks::{lease, request, scope};
use support::moto;

async fn locks(table: &str) -> Arc<dyn LockBackend> {
    Arc::new(DynamoDbLocks::new(moto::dynamodb().await, table))
}

async fn raw_item(table: &str, key: &str) -> Option<LockRecord> {
    moto::raw_lock(table, key).await
}

/// Writes a lock item directly, as another panka (or a bad actor) would.
async fn put_raw(table: &str, record: &LockRecord) {
    let item = to_item(record, Layout::Keyed).unwrap();
    moto::dynamodb().await.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();
}

fn foreign_record(key: &str, who: &str, expires_in: i64) -> LockRecord {
    let now = now_f64();
    let mut owner = Owner::current("apply", "dep-foreign");
    owner.locked_by = format!("{who}@elsewhere");
    let mut r = LockRecord::new(key.to_string(), &owner, Duration::from_secs(60), now);
    r.expires_at = now as i64 + expires_in;
    r.pid = 4242;
    r
}

// ---------------------------------------------------------------- child mode

/// Runs only as a child process (see the module docs).
#[tokio::test]
async fn child_process_entry() {
    let Ok(mode) = std::env::var("PANKA_TEST_CHILD") else {
        return;
    };
    let table = std::env::var("PANKA_TEST_TABLE").unwrap();
    let who = std::env::var("PANKA_TEST_WHO").unwrap();
    let lease_secs: u64 = std::env::var("PANKA_TEST_LEASE").unwrap().parse().unwrap();
    let start_at: f64 = std::env::var("PANKA_TEST_START_AT").map_or(0.0, |v| v.parse().unwrap());
    let hold_until: f64 = std::env::var("PANKA_TEST_HOLD_UNTIL").map_or(0.0, |v| v.parse().unwrap());
    let backend = locks(&table).await;
    // Line up with the other children.
    let wait = start_at - now_f64();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    match acquire(backend, &request(&who), &lease(lease_secs)).await {
        Ok(guard) => {
            report(json!({"acquired": true, "lock_id": guard.lock_id(), "who": who}));
            if mode == "hang" {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let wait = hold_until - now_f64();
            if wait > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            }
            guard.release().await.unwrap();
        }
        Err(err) => {
            let holder = match &err {
                LockError::Held { record, .. } => record.lock_id.clone(),
                _ => String::new(),
            };
            report(json!({
                "acquired": false,
                "who": who,
                "holder_lock_id": holder,
                "exit": err.exit_status().code(),
                "message": err.to_string(),
            }));
        }
    }
}

fn report(v: Value) {
    #[allow(clippy::print_stdout)]
    {
        println!("RESULT {v}");
    }
}

fn child(mode: &str, table: &str, who: &str, lease: u64, start_at: f64, hold_until: f64) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_process_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("PANKA_TEST_CHILD", mode)
        .env("PANKA_TEST_MOTO_ENDPOINT", moto::endpoint())
        .env("PANKA_TEST_TABLE", table)
        .env("PANKA_TEST_WHO", who)
        .env("PANKA_TEST_LEASE", lease.to_string())
        .env("PANKA_TEST_START_AT", start_at.to_string())
        .env("PANKA_TEST_HOLD_UNTIL", hold_until.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// The JSON after `RESULT ` (libtest may print `test name ... ` before it).
fn result_of(line: &str) -> Option<&str> {
    line.split_once("RESULT ").map(|(_, json)| json)
}

fn results(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output).lines().filter_map(result_of).map(|l| serde_json::from_str(l).unwrap()).collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn thirty_two_processes_one_holder_and_the_rest_see_who() {
    let table = moto::new_table().await;
    // Every child tries at the same moment; the winner holds long enough for
    // all of them to have tried.
    let start_at = now_f64() + 4.0;
    let hold_until = start_at + 5.0;
    let children: Vec<_> = (0..32)
        .map(|i| child("contend", &table, &format!("proc-{i}"), 120, start_at, hold_until).spawn().unwrap())
        .collect();
    let outputs: Vec<Value> = tokio::task::spawn_blocking(move || {
        children.into_iter().flat_map(|c| results(&c.wait_with_output().unwrap().stdout)).collect()
    })
    .await
    .unwrap();
    assert_eq!(outputs.len(), 32, "every child reported: {outputs:?}");
    let winners: Vec<&Value> = outputs.iter().filter(|v| v["acquired"] == true).collect();
    assert_eq!(winners.len(), 1, "exactly one holder: {winners:?}");
    let winner = winners[0];
    let winner_who = winner["who"].as_str().unwrap();
    for loser in outputs.iter().filter(|v| v["acquired"] == false) {
        assert_eq!(loser["holder_lock_id"], winner["lock_id"], "{loser}");
        assert_eq!(loser["exit"], 3);
        let message = loser["message"].as_str().unwrap();
        assert!(message.contains(&format!("held by {winner_who}@test")), "{message}");
        assert!(message.contains("operation `apply`"), "{message}");
        assert!(message.contains("last heartbeat"), "{message}");
    }
    // The winner released.
    assert!(raw_item(&table, &scope().lock_key()).await.is_none());
}

#[tokio::test]
async fn a_heartbeat_keeps_the_lock_past_its_lease() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let guard = acquire(backend.clone(), &request("a"), &lease(2)).await.unwrap();
    let first = raw_item(&table, guard.key()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await; // 2.5 leases
    assert!(!guard.is_lost());
    let now = now_f64() as i64;
    let later = raw_item(&table, guard.key()).await.unwrap();
    assert_eq!(later.lock_id, first.lock_id);
    assert_ne!(later.rvn, first.rvn, "each heartbeat changes rvn");
    assert!(later.expires_at >= now, "still live: expires {} now {now}", later.expires_at);
    assert!(later.last_heartbeat > first.last_heartbeat);
    let err = acquire(backend.clone(), &request("b"), &lease(2)).await.err().unwrap();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    guard.release().await.unwrap();
    assert!(raw_item(&table, &scope().lock_key()).await.is_none());
}

#[tokio::test]
async fn a_holder_whose_item_is_overwritten_notices_within_a_quarter_lease_and_stops_writing() {
    let table = moto::new_table().await;
    let bucket = moto::new_bucket().await;
    let backend = locks(&table).await;
    let guard = acquire(backend.clone(), &request("a"), &lease(2)).await.unwrap();
    let store: Arc<dyn panka::state::StateStore> =
        Arc::new(panka::state::s3::S3StateStore::new(moto::s3().await, &bucket));
    let dir = tempfile::tempdir().unwrap();
    let mut session = panka::state::StateSession::open(
        store.clone(),
        scope(),
        Some(guard.watch()),
        panka::state::SessionOptions::new("a@test", dir.path()),
    )
    .await
    .unwrap();
    session.commit(|_| {}).await.unwrap();

    let mut watch = guard.watch();
    let thief = foreign_record(guard.key(), "thief", 60);
    put_raw(&table, &thief).await;
    let overwritten = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), watch.changed()).await.expect("loss noticed").unwrap();
    let noticed = overwritten.elapsed();
    assert!(noticed <= Duration::from_millis(500 + 250), "lease/4 is 500ms; noticed after {noticed:?}");
    assert!(matches!(&*watch.borrow(), LockHealth::Lost { .. }));

    // It writes nothing after the loss.
    let err = session.commit(|s| s.metadata.git_commit = Some("late".into())).await.unwrap_err();
    assert_eq!(err.exit_status(), ExitStatus::Locked, "{err}");
    let (stored, _) = panka::state::read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!(stored.serial, 1);
    assert!(stored.metadata.git_commit.is_none());

    // Releasing does not delete the thief's lock.
    let err = guard.release().await.unwrap_err();
    assert_eq!(err.exit_status(), ExitStatus::Locked);
    assert_eq!(raw_item(&table, &scope().lock_key()).await.unwrap().lock_id, thief.lock_id);
}

/// A lock that looks expired is watched for a full lease on our own clock
/// and taken over only because its version never moved; one that looks
/// alive fails at once and is never touched.
#[tokio::test]
async fn an_expired_lock_is_taken_over_and_recorded_but_a_live_one_never() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let key = scope().lock_key();

    let live = foreign_record(&key, "alive", 60);
    put_raw(&table, &live).await;
    let err = acquire(backend.clone(), &request("a"), &lease(2)).await.err().unwrap();
    let LockError::Held { record, .. } = &err else { panic!("{err}") };
    assert_eq!(record.lock_id, live.lock_id);
    assert_eq!(raw_item(&table, &key).await.unwrap(), live, "a live lock is untouched");

    // Expired, and still in the table: moto never runs TTL deletion, and
    // panka must not need it.
    let dead = foreign_record(&key, "dead", -5);
    put_raw(&table, &dead).await;
    let listing = list_locks(backend.as_ref(), &scope().tenant, false).await.unwrap();
    assert_eq!(listing.locks.len(), 1);
    assert_eq!(listing.locks[0].liveness, Liveness::Expired);

    let watching = Instant::now();
    let guard = acquire(backend.clone(), &request("a"), &lease(2)).await.unwrap();
    assert!(watching.elapsed() >= Duration::from_secs(2), "watched a full lease first: {:?}", watching.elapsed());
    let takeover = guard.takeover().expect("takeover reported");
    assert_eq!(takeover.previous_lock_id, dead.lock_id);
    assert_eq!(takeover.previous_holder, "dead@elsewhere");
    let item = raw_item(&table, &key).await.unwrap();
    assert_eq!(item.lock_id, guard.lock_id());
    assert_eq!(item.takeover_of.as_deref(), Some(dead.lock_id.as_str()));
    assert_eq!(item.takeover_from.as_deref(), Some("dead@elsewhere"));
    guard.release().await.unwrap();
}

#[tokio::test]
async fn releasing_someone_elses_lock_fails_and_leaves_it_intact() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let guard = acquire(backend.clone(), &request("owner"), &lease(120)).await.unwrap();
    let before = raw_item(&table, guard.key()).await.unwrap();

    let err = backend.release(guard.key(), "not-my-lock-id").await.unwrap_err();
    assert!(matches!(err, LockError::NotHeld { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::Locked);
    assert!(err.to_string().contains("held by owner@test"), "{err}");
    assert_eq!(raw_item(&table, guard.key()).await.unwrap(), before);

    // `panka unlock` needs the exact id: a prefix finds nothing.
    let tenant = scope().tenant;
    let prefix = &guard.lock_id()[..8];
    assert!(matches!(find_lock(backend.as_ref(), &tenant, prefix).await, Err(LockError::NoSuchLock { .. })));
    // Other tenants' locks are invisible to this tenant.
    let other = TenantScope::new(BasePrefix::default(), Name::new("tenant", "other").unwrap());
    assert!(find_lock(backend.as_ref(), &other, guard.lock_id()).await.is_err());

    // With the exact id, unlock removes it, and the holder sees the loss.
    let found = find_lock(backend.as_ref(), &tenant, guard.lock_id()).await.unwrap();
    unlock(backend.as_ref(), &found).await.unwrap();
    assert!(raw_item(&table, &scope().lock_key()).await.is_none());
    drop(guard);
}

#[tokio::test]
async fn lock_timeout_waits_with_backoff_then_reports_the_holder() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let guard = acquire(backend.clone(), &request("holder"), &lease(120)).await.unwrap();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = waits.clone();
    let options = AcquireOptions {
        lease: Duration::from_secs(120),
        timeout: Duration::from_secs(4),
        on_wait: Some(Arc::new(move |_r: &LockRecord, waited: Duration, _| seen.lock().unwrap().push(waited))),
    };
    let started = Instant::now();
    let err = acquire(backend.clone(), &request("waiter"), &options).await.err().unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(6), "{elapsed:?}");
    // Tries at 0 s, 1 s, 3 s, then the deadline at 4 s: backoff 1 s, 2 s, then capped.
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 3, "{waits:?}");
    assert!(waits[1] >= Duration::from_secs(1) && waits[2] >= Duration::from_secs(3), "{waits:?}");
    let text = err.to_string();
    assert!(text.contains("held by holder@test"), "{text}");
    assert!(text.contains("(waited 4s)"), "{text}");
    guard.release().await.unwrap();
}

#[tokio::test]
async fn stack_and_service_locks_exclude_each_other() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let backend_svc = Name::new("service", "backend").unwrap();
    let service =
        |who: &str, svc: &Name| LockRequest { granularity: Granularity::Service(svc.clone()), ..request(who) };
    let a = acquire(backend.clone(), &service("a", &backend_svc), &lease(120)).await.unwrap();
    assert_eq!(a.key(), "tenant:acme:stack:payments:env:prod:service:backend");
    // Another service of the same stack is fine.
    let other = Name::new("service", "auth").unwrap();
    let b = acquire(backend.clone(), &service("b", &other), &lease(120)).await.unwrap();
    // The whole stack is not, and its attempt leaves nothing behind.
    let err = acquire(backend.clone(), &request("c"), &lease(120)).await.err().unwrap();
    assert!(err.to_string().contains("held by a@test") || err.to_string().contains("held by b@test"), "{err}");
    assert!(raw_item(&table, &scope().lock_key()).await.is_none());
    a.release().await.unwrap();
    b.release().await.unwrap();
    let c = acquire(backend.clone(), &request("c"), &lease(120)).await.unwrap();
    let err = acquire(backend.clone(), &service("a", &backend_svc), &lease(120)).await.err().unwrap();
    assert!(err.to_string().contains("held by c@test"), "{err}");
    c.release().await.unwrap();
}

#[tokio::test]
async fn a_sigkilled_holder_is_waited_for_then_taken_over_and_reported() {
    let table = moto::new_table().await;
    let backend = locks(&table).await;
    let mut victim = child("hang", &table, "victim", 2, 0.0, 0.0).spawn().unwrap();
    let mut lines = BufReader::new(victim.stdout.take().unwrap()).lines();
    let reported = tokio::task::spawn_blocking(move || lines.find_map(|l| result_of(&l.ok()?).map(str::to_string)));
    let first = match tokio::time::timeout(Duration::from_secs(30), reported).await {
        Ok(line) => line.unwrap(),
        Err(_) => None,
    };
    let Some(first) = first else {
        victim.kill().unwrap();
        panic!("the victim never reported holding the lock");
    };
    let victim_lock: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(victim_lock["acquired"], true);
    victim.kill().unwrap(); // SIGKILL: no release, no cleanup
    victim.wait().unwrap();
    let killed = Instant::now();

    let waits = Arc::new(Mutex::new(0u32));
    let seen = waits.clone();
    let options = AcquireOptions {
        lease: Duration::from_secs(2),
        timeout: Duration::from_secs(20),
        on_wait: Some(Arc::new(move |r: &LockRecord, _, _| {
            assert_eq!(r.locked_by, "victim@test");
            *seen.lock().unwrap() += 1;
        })),
    };
    let guard = acquire(backend.clone(), &request("next"), &options).await.unwrap();
    assert!(*waits.lock().unwrap() >= 1, "the next run waited for the lease");
    assert!(killed.elapsed() >= Duration::from_secs(1), "not before the lease ran out");
    let takeover = guard.takeover().expect("takeover reported").clone();
    assert_eq!(takeover.previous_lock_id, victim_lock["lock_id"].as_str().unwrap());
    assert_eq!(takeover.previous_holder, "victim@test");

    // The takeover goes into the state's metadata.
    let bucket = moto::new_bucket().await;
    let store: Arc<dyn panka::state::StateStore> =
        Arc::new(panka::state::s3::S3StateStore::new(moto::s3().await, &bucket));
    let dir = tempfile::tempdir().unwrap();
    let mut session = panka::state::StateSession::open(
        store.clone(),
        scope(),
        Some(guard.watch()),
        panka::state::SessionOptions::new("next@test", dir.path()),
    )
    .await
    .unwrap();
    session.commit(|s| s.metadata.lock_takeover = Some(takeover.clone())).await.unwrap();
    let (stored, _) = panka::state::read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!(stored.metadata.lock_takeover.unwrap().previous_holder, "victim@test");
    guard.release().await.unwrap();
}
