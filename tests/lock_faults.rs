//! Locks and state under the faults of issue 11, injected where they
//! happen: an HTTP proxy in front of moto that black-holes requests, drops
//! answers after the write applied, or fails them (`support::proxy`); a
//! child process whose wall clock runs 150 s ahead (libfaketime, preloaded);
//! a symlink planted at the rescue copy's name. Every client is the real
//! aws-sdk-rust client with panka's timeouts.
//!
//! The child processes re-run this test binary with `PANKA_FAULT_CHILD` set.

#![allow(clippy::print_stderr)] // measured figures go to the test log

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panka::lock::dynamodb::{DynamoDbLocks, Layout};
use panka::lock::record::now_f64;
use panka::lock::{acquire, AcquireOptions, LockBackend, LockError, LockHealth, Owner};
use panka::state::s3::S3StateStore;
use panka::state::{read_state, SessionOptions, StateError, StateSession, StateStore};
use serde_json::{json, Value};
use support::locks::{lease, request, scope};
use support::moto;
use support::proxy::{Action, Proxy, Rule};

/// SDK configuration through `endpoint` with panka's own timeouts.
async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .timeout_config(panka::aws::timeouts(Duration::from_secs(3)))
        .load()
        .await
}

async fn locks_via(endpoint: &str, table: &str) -> Arc<dyn LockBackend> {
    Arc::new(DynamoDbLocks::new(aws_sdk_dynamodb::Client::new(&sdk(endpoint).await), table))
}

async fn store_via(endpoint: &str, bucket: &str) -> Arc<dyn StateStore> {
    let conf = aws_sdk_s3::config::Builder::from(&sdk(endpoint).await).force_path_style(true).build();
    Arc::new(S3StateStore::new(aws_sdk_s3::Client::from_conf(conf), bucket))
}

async fn direct_store(bucket: &str) -> Arc<dyn StateStore> {
    Arc::new(S3StateStore::new(moto::s3().await, bucket))
}

// ---------------------------------------------------------------- child mode

/// Runs only as a child process: tries to take the lock and reports.
#[tokio::test]
async fn fault_child_entry() {
    let Ok(table) = std::env::var("PANKA_FAULT_CHILD") else {
        return;
    };
    let timeout: u64 = std::env::var("PANKA_FAULT_TIMEOUT").unwrap().parse().unwrap();
    let backend = locks_via(&moto::endpoint(), &table).await;
    let options = AcquireOptions { timeout: Duration::from_secs(timeout), ..lease(4) };
    let started = Instant::now();
    let result = acquire(backend, &request("skewed"), &options).await;
    let line = match result {
        Ok(guard) => {
            let id = guard.lock_id().to_string();
            guard.release().await.unwrap();
            json!({"acquired": true, "lock_id": id})
        }
        Err(e) => json!({"acquired": false, "exit": e.exit_status().code(), "message": e.to_string()}),
    };
    let mut line = line;
    line["clock"] = json!(now_f64());
    line["elapsed"] = json!(started.elapsed().as_secs_f64());
    #[allow(clippy::print_stdout)]
    {
        println!("RESULT {line}");
    }
}

fn libfaketime() -> PathBuf {
    let venv = std::env::var("PANKA_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|_| moto::root().join(".venv"));
    let lib = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|py| py.path().join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1"))
        .find(|p| p.exists());
    lib.expect("libfaketime in the test venv (scripts/moto-venv.sh installs it)")
}

/// This test binary as a child whose wall clock is `skew` ahead.
fn skewed_child(table: &str, skew: &str, timeout_secs: u64) -> Value {
    moto::moto();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["fault_child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("PANKA_FAULT_CHILD", table)
        .env("PANKA_FAULT_TIMEOUT", timeout_secs.to_string())
        .env("PANKA_TEST_MOTO_ENDPOINT", moto::endpoint())
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", skew)
        // Only the wall clock moves: monotonic time is the machine's.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FAKETIME_NO_CACHE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find_map(|l| l.split_once("RESULT ").map(|(_, j)| j.to_string()));
    serde_json::from_str(&line.unwrap_or_else(|| panic!("the child reported nothing: {text}"))).unwrap()
}

// ---------------------------------------------------------------- 1. hung network

/// Issue 11, failure 1: a heartbeat on a dead connection used to hang, so
/// a run past its lease still counted itself the holder. Now the lease
/// deadline on the holder's monotonic clock ends it whether or not
/// DynamoDB answers, writes stop, and release returns within a call timeout.
#[tokio::test]
async fn a_black_holed_table_loses_the_lock_at_the_deadline_and_nothing_is_written_after() {
    let (table, bucket) = (moto::new_table().await, moto::new_bucket().await);
    let proxy = Proxy::start(&moto::endpoint());
    let backend = locks_via(&proxy.endpoint(), &table).await;
    let guard = acquire(backend.clone(), &request("holder"), &lease(4)).await.unwrap();
    let store = store_via(&proxy.endpoint(), &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let options = SessionOptions::new("holder@test", dir.path());
    let mut session = StateSession::open(store.clone(), scope(), Some(guard.watch()), options).await.unwrap();
    session.commit(|_| {}).await.unwrap();

    // Right after a confirmed heartbeat, the network goes dark.
    let mut watch = guard.watch();
    let before = panka::lock::time_left(&watch);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let deadline = Instant::now() + panka::lock::time_left(&watch);
    assert!(panka::lock::time_left(&watch) > Duration::ZERO && before > Duration::ZERO);
    proxy.add(Rule::all(Action::BlackHole));
    let dark = Instant::now();
    tokio::time::timeout(Duration::from_secs(6), watch.changed()).await.expect("the loss is noticed").unwrap();
    let lost = Instant::now();
    assert!(matches!(&*watch.borrow(), LockHealth::Lost { .. }), "{:?}", *watch.borrow());
    let late = lost.saturating_duration_since(deadline);
    assert!(late < Duration::from_millis(300), "lost {late:?} after the deadline");
    assert!(lost.duration_since(dark) <= Duration::from_secs(3) + Duration::from_millis(300));
    eprintln!("FIGURE deadline-to-lost-ms {}", late.as_millis());

    // Nothing is written after the deadline, and nothing hangs.
    let t = Instant::now();
    let err = session.commit(|s| s.metadata.git_commit = Some("late".into())).await.unwrap_err();
    assert_eq!(err.exit_status(), panka::exit::ExitStatus::Locked, "{err}");
    let t_release = Instant::now();
    let released = guard.release().await;
    assert!(matches!(released, Err(LockError::Lost { .. })), "{released:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "commit and release returned in {:?}", t.elapsed());
    eprintln!("FIGURE release-after-loss-ms {}", t_release.elapsed().as_millis());
    proxy.clear();
    let (stored, _) = read_state(direct_store(&bucket).await.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!(stored.serial, 1);
    assert!(stored.metadata.git_commit.is_none());
}

/// A holder that cannot reach DynamoDB at release: release gives up after
/// one call timeout (the lock goes stale after its lease), it never hangs.
#[tokio::test]
async fn release_on_a_dead_network_is_bounded() {
    let table = moto::new_table().await;
    let proxy = Proxy::start(&moto::endpoint());
    let backend = locks_via(&proxy.endpoint(), &table).await;
    let guard = acquire(backend.clone(), &request("holder"), &lease(8)).await.unwrap();
    proxy.add(Rule::new("DeleteItem", Action::BlackHole));
    let t = Instant::now();
    let err = guard.release().await.unwrap_err();
    assert!(matches!(err, LockError::Timeout { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_millis(2500), "{:?}", t.elapsed());
    proxy.clear();
}

// ---------------------------------------------------------------- 2. clock skew

/// Issue 11, failure 2: a machine whose clock is 150 s ahead sees every
/// lock as expired. It watches the lock's version for a lease, sees it move
/// (the holder heartbeats), and gives up with exit 3; with `--lock-timeout`
/// it keeps waiting and still never takes the live lock.
#[tokio::test]
async fn a_machine_150s_ahead_never_takes_a_live_lock() {
    let table = moto::new_table().await;
    let backend = locks_via(&moto::endpoint(), &table).await;
    let guard = acquire(backend.clone(), &request("holder"), &lease(4)).await.unwrap();
    let table2 = table.clone();
    let skewed = tokio::task::spawn_blocking(move || skewed_child(&table2, "+150s", 0)).await.unwrap();
    assert!(skewed["clock"].as_f64().unwrap() > now_f64() + 140.0, "the child's clock is ahead: {skewed}");
    assert_eq!(skewed["acquired"], false, "{skewed}");
    assert_eq!(skewed["exit"], 3, "{skewed}");
    assert!(skewed["elapsed"].as_f64().unwrap() >= 4.0, "it watched a full lease first: {skewed}");
    assert!(skewed["message"].as_str().unwrap().contains("held by holder@test"), "{skewed}");

    let table2 = table.clone();
    let waiting = tokio::task::spawn_blocking(move || skewed_child(&table2, "+150s", 9)).await.unwrap();
    assert_eq!(waiting["acquired"], false, "{waiting}");
    assert!(waiting["elapsed"].as_f64().unwrap() >= 9.0, "{waiting}");
    assert!(!guard.is_lost());
    assert_eq!(moto::raw_lock(&table, guard.key()).await.unwrap().lock_id, guard.lock_id());
    guard.release().await.unwrap();
}

/// A holder that dies is taken over within one lease plus one heartbeat of
/// its last heartbeat, by a waiter whose clock is skewed either way.
#[tokio::test]
async fn a_dead_holder_is_taken_over_within_a_lease_and_a_heartbeat_even_from_a_skewed_clock() {
    let table = moto::new_table().await;
    let backend = locks_via(&moto::endpoint(), &table).await;
    let guard = acquire(backend.clone(), &request("holder"), &lease(4)).await.unwrap();
    let table2 = table.clone();
    let waiter = tokio::task::spawn_blocking(move || skewed_child(&table2, "-90s", 30));
    // The waiter watches a live lock first; then the holder stops heartbeating.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last_heartbeat = moto::raw_lock(&table, guard.key()).await.unwrap().rvn;
    drop(guard); // heartbeat stops, no release: as if the process died
    let died = Instant::now();
    let result = waiter.await.unwrap();
    assert_eq!(result["acquired"], true, "{result}");
    let waited_after_death = died.elapsed().as_secs_f64();
    // lease 4 s + a heartbeat 1 s (+ the child's start and report).
    assert!(waited_after_death <= 4.0 + 1.0 + 1.5, "took over {waited_after_death:.1}s after the death");
    eprintln!("FIGURE takeover-after-death-s {waited_after_death:.2} (lease 4s, last rvn {last_heartbeat})");
}

// ---------------------------------------------------------------- lost answers

/// The answer to the lock's PutItem is lost after the write applied; the
/// SDK's retry then fails its condition on our own item: that is ours.
#[tokio::test]
async fn a_lost_answer_to_the_lock_put_is_recognised_as_our_own_lock() {
    let table = moto::new_table().await;
    let proxy = Proxy::start(&moto::endpoint());
    let backend = locks_via(&proxy.endpoint(), &table).await;
    proxy.add(Rule::new("PutItem", Action::DropResponse).once());
    let guard = acquire(backend.clone(), &request("a"), &lease(8)).await.unwrap();
    assert_eq!(proxy.count("PutItem"), 2, "{:?}", proxy.log());
    assert_eq!(moto::raw_lock(&table, guard.key()).await.unwrap().lock_id, guard.lock_id());
    guard.release().await.unwrap();
    assert!(moto::raw_lock(&table, &scope().lock_key()).await.is_none(), "no orphan lock");
}

/// A conditional state PUT whose answer is lost: the retry gets 412 from
/// our own write, which the write id recognises; the history copy is made.
#[tokio::test]
async fn a_lost_answer_to_a_state_put_is_recognised_as_our_own_write() {
    let bucket = moto::new_bucket().await;
    let proxy = Proxy::start(&moto::endpoint());
    let store = store_via(&proxy.endpoint(), &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session =
        StateSession::open(store.clone(), scope(), None, SessionOptions::new("a@test", dir.path())).await.unwrap();
    session.commit(|s| s.metadata.deployment_id = Some("d1".into())).await.unwrap();
    proxy.add(Rule::new("PutObject", Action::DropResponse).containing("state.json").once());
    let committed = session.commit(|s| s.metadata.deployment_id = Some("d2".into())).await.unwrap();
    assert_eq!(committed.serial, 2);
    assert!(committed.history_warning.is_none());
    let direct = direct_store(&bucket).await;
    let (stored, _) = read_state(direct.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!((stored.serial, stored.metadata.deployment_id.as_deref()), (2, Some("d2")));
    let history = direct.list(&scope().history_dir()).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(session.rescue_path().is_none());
}

// ---------------------------------------------------------------- smaller defects

/// The stack lock's check for service locks fails after the PutItem: the
/// acquisition removes the lock it wrote.
#[tokio::test]
async fn an_acquisition_that_fails_after_its_put_leaves_no_lock_behind() {
    let table = moto::new_table().await;
    let proxy = Proxy::start(&moto::endpoint());
    let backend = locks_via(&proxy.endpoint(), &table).await;
    proxy.add(Rule::new("Query", Action::Error(500)));
    let err = acquire(backend.clone(), &request("a"), &lease(8)).await.err().unwrap();
    assert!(proxy.count("PutItem") >= 1 && proxy.count("DeleteItem") >= 1, "{:?}", proxy.log());
    assert_eq!(err.exit_status(), panka::exit::ExitStatus::Error, "{err}");
    assert!(moto::raw_lock(&table, &scope().lock_key()).await.is_none(), "the lock was left behind");
    proxy.clear();
}

/// A history copy that cannot be written does not fail the write, and is
/// not dropped silently: the session hands it to the run's report.
#[tokio::test]
async fn a_failed_history_copy_is_reported() {
    let bucket = moto::new_bucket().await;
    let proxy = Proxy::start(&moto::endpoint());
    let store = store_via(&proxy.endpoint(), &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session =
        StateSession::open(store, scope(), None, SessionOptions::new("a@test", dir.path())).await.unwrap();
    proxy.add(Rule::new("PutObject", Action::Error(403)).containing("/history/"));
    let committed = session.commit(|_| {}).await.unwrap();
    let warning = committed.history_warning.expect("a warning");
    assert!(warning.contains("history copy"), "{warning}");
    assert_eq!(session.take_warnings(), vec![warning]);
}

/// The rescue copy has a predictable name: a symlink planted there is
/// neither followed nor replaced, and changes made after the failure (a
/// component finishing) land in the same copy.
#[tokio::test]
async fn the_rescue_copy_never_follows_a_symlink_and_collects_later_changes() {
    let bucket = moto::new_bucket().await;
    let proxy = Proxy::start(&moto::endpoint());
    let store = store_via(&proxy.endpoint(), &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let planted = dir.path().join("panka-state-acme-payments-prod-serial1.json");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut session =
        StateSession::open(store, scope(), None, SessionOptions::new("a@test", dir.path())).await.unwrap();
    proxy.add(Rule::new("PutObject", Action::Error(403)).containing("state.json"));
    let err = session.commit(|s| s.metadata.git_branch = Some("main".into())).await.unwrap_err();
    assert!(matches!(err, StateError::WriteFailed { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&planted).unwrap().file_type().is_symlink());
    let rescue = session.rescue_path().unwrap().to_path_buf();
    assert_ne!(rescue, planted);
    assert!(err.to_string().contains(&rescue.display().to_string()), "{err}");

    let err = session.commit(|s| s.metadata.git_commit = Some("abc".into())).await.unwrap_err();
    assert!(matches!(err, StateError::NotWritten { .. }), "{err}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&rescue).unwrap()).unwrap();
    assert_eq!(saved["metadata"]["git_branch"], "main");
    assert_eq!(saved["metadata"]["git_commit"], "abc");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    proxy.clear();
}

/// The lineage is the stored state's: a change that alters it is refused.
#[tokio::test]
async fn the_lineage_check_compares_with_the_stored_state() {
    let bucket = moto::new_bucket().await;
    let store = direct_store(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session =
        StateSession::open(store.clone(), scope(), None, SessionOptions::new("a@test", dir.path())).await.unwrap();
    session.commit(|_| {}).await.unwrap();
    let err = session.commit(|s| s.lineage = "someone-else".into()).await.unwrap_err();
    assert!(matches!(err, StateError::LineageMismatch { .. }), "{err}");
    let (stored, _) = read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!(stored.serial, 1);
}

// ---------------------------------------------------------------- layout and migration

/// Listing is a Query on the tenant's partition: no Scan in tenant mode.
#[tokio::test]
async fn listing_a_tenants_locks_is_a_query_never_a_scan() {
    let table = moto::new_table().await;
    let proxy = Proxy::start(&moto::endpoint());
    let backend = locks_via(&proxy.endpoint(), &table).await;
    let guard = acquire(backend.clone(), &request("a"), &lease(8)).await.unwrap();
    let listing = panka::lock::ops::list_locks(backend.as_ref(), &scope().tenant, false).await.unwrap();
    assert_eq!(listing.locks.len(), 1);
    assert_eq!(proxy.count("Scan"), 0, "{:?}", proxy.log());
    assert!(proxy.count("Query") >= 2, "the acquire's check and the listing");
    guard.release().await.unwrap();
}

/// A table in the earlier single-key layout: `admin init` creates
/// `<table>-v2` and copies the live lock (marked legacy); a new run is
/// refused while the old holder's version keeps moving in the old table,
/// and takes over once it stops, writing both tables; `--drop-legacy`
/// waits for no live lock.
#[tokio::test]
async fn an_old_layout_table_is_migrated_with_its_live_locks_held() {
    use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType};
    let ddb = moto::dynamodb().await;
    let old = moto::unique("panka-old");
    ddb.create_table()
        .table_name(&old)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("lockKey")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("lockKey").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    // Before admin init, panka refuses the old layout with exit 2.
    let backend = locks_via(&moto::endpoint(), &old).await;
    let err = acquire(backend.clone(), &request("new"), &lease(2)).await.err().unwrap();
    assert!(matches!(err, LockError::OldLayout { .. }), "{err}");
    assert_eq!(err.exit_status(), panka::exit::ExitStatus::Invalid);

    // An older panka holds the stack in the old table, heartbeating.
    let mut owner = Owner::current("apply", "dep-old");
    owner.locked_by = "old@panka".into();
    // Its lease (6 s) is what a taker must see unchanged, whatever its own
    // (2 s): a busy moto delaying a 500 ms heartbeat is then no takeover.
    let mut held = panka::lock::LockRecord::new(scope().lock_key(), &owner, Duration::from_secs(6), now_f64());
    let (ddb2, old2) = (ddb.clone(), old.clone());
    let put_old = move |r: panka::lock::LockRecord| {
        let ddb = ddb2.clone();
        let old = old2.clone();
        async move {
            let item = panka::lock::dynamodb::to_item(&r, Layout::Legacy).unwrap();
            ddb.put_item().table_name(old).set_item(Some(item)).send().await.unwrap();
        }
    };
    put_old(held.clone()).await;

    let mut report = panka::admin::InitReport::default();
    panka::admin::init_table(&ddb, &old, Default::default(), &mut report).await.unwrap();
    let text = report.to_string();
    assert!(text.contains(&format!("{old}-v2")) && text.contains("copy 1 lock(s)"), "{text}");
    let copy = moto::raw_lock(&format!("{old}-v2"), &scope().lock_key()).await.unwrap();
    assert!(copy.legacy && copy.lock_id == held.lock_id);

    // While the old holder heartbeats, a new run (fresh backend) is refused.
    let backend = locks_via(&moto::endpoint(), &old).await;
    let beats = tokio::spawn({
        let put_old = put_old.clone();
        let mut r = held.clone();
        async move {
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                r.rvn = uuid::Uuid::new_v4().to_string();
                put_old(r.clone()).await;
            }
        }
    });
    let options = AcquireOptions { timeout: Duration::from_secs(3), ..lease(2) };
    let err = acquire(backend.clone(), &request("new"), &options).await.err().unwrap();
    assert!(err.to_string().contains("held by old@panka"), "{err}");
    beats.await.unwrap();
    held = moto_old_item(&ddb, &old).await.unwrap();
    let mut drop_legacy = panka::admin::InitOptions { drop_legacy: true, ..Default::default() };
    drop_legacy.retention = panka::admin::Retention::default();
    let mut report = panka::admin::InitReport::default();
    let refused = panka::admin::init_table(&ddb, &old, drop_legacy, &mut report).await;
    assert!(refused.is_err() || held.is_expired(now_f64() as i64), "refused while live: {report}");

    // It stopped: taken over after its lease, in both tables.
    let options = AcquireOptions { timeout: Duration::from_secs(20), ..lease(2) };
    let guard = acquire(backend.clone(), &request("new"), &options).await.unwrap();
    assert_eq!(guard.takeover().unwrap().previous_holder, "old@panka");
    let mirrored = moto_old_item(&ddb, &old).await.unwrap();
    assert_eq!(mirrored.lock_id, guard.lock_id(), "an older panka sees the new lock");
    guard.release().await.unwrap();
    assert!(moto_old_item(&ddb, &old).await.is_none());
    let mut report = panka::admin::InitReport::default();
    panka::admin::init_table(&ddb, &old, drop_legacy, &mut report).await.unwrap();
    assert!(ddb.describe_table().table_name(&old).send().await.is_err(), "the old table is gone: {report}");
}

async fn moto_old_item(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Option<panka::lock::LockRecord> {
    let out = ddb
        .get_item()
        .table_name(table)
        .key("lockKey", aws_sdk_dynamodb::types::AttributeValue::S(scope().lock_key()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().map(|i| panka::lock::dynamodb::from_item(i).unwrap())
}

// ---------------------------------------------------------------- admin init

/// `admin init` on a bucket a platform team already hardened keeps its
/// SSE-KMS encryption and its own lifecycle rule, adds panka's, and says
/// so; `--dry-run` on a new bucket changes nothing.
#[tokio::test]
async fn admin_init_never_weakens_an_existing_bucket() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let s3 = moto::s3().await;
    let bucket = moto::new_bucket().await;
    let kms = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id("arn:aws:kms:us-east-1:123456789012:key/platform")
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(kms).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let theirs = LifecycleRule::builder()
        .id("platform-logs")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
        .expiration(LifecycleExpiration::builder().days(30).build())
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(theirs).build().unwrap())
        .send()
        .await
        .unwrap();

    let mut report = panka::admin::InitReport::default();
    panka::admin::init_bucket(&s3, &bucket, Default::default(), &mut report).await.unwrap();
    let text = report.to_string();
    assert!(text.contains("aws:kms kept"), "{text}");
    assert!(text.contains("`platform-logs` kept"), "{text}");
    let enc = s3.get_bucket_encryption().bucket(&bucket).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm(), &ServerSideEncryption::AwsKms);
    let rules = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap();
    let ids: Vec<&str> = rules.rules().iter().filter_map(|r| r.id()).collect();
    assert!(ids.contains(&"platform-logs") && ids.contains(&"panka-history"), "{ids:?}");

    // Again: nothing left to change. (moto 5.2.5 answers GetBucketVersioning
    // with a root element aws-sdk-rust cannot parse, so versioning is
    // switched on again each time: idempotent, and never a weakening.)
    let mut again = panka::admin::InitReport::default();
    panka::admin::init_bucket(&s3, &bucket, Default::default(), &mut again).await.unwrap();
    let changed: Vec<_> = again
        .steps
        .iter()
        .filter(|s| s.result != panka::admin::StepResult::Exists && s.result != panka::admin::StepResult::Kept)
        .filter(|s| !s.action.contains("versioning"))
        .collect();
    assert!(changed.is_empty(), "{again}");

    // Dry run on a new bucket: reported, not created.
    let fresh = moto::unique("panka-dry");
    let dry = panka::admin::InitOptions { dry_run: true, ..Default::default() };
    let mut report = panka::admin::InitReport { dry_run: true, ..Default::default() };
    panka::admin::init_bucket(&s3, &fresh, dry, &mut report).await.unwrap();
    assert!(report.to_string().contains("would"), "{report}");
    assert!(s3.head_bucket().bucket(&fresh).send().await.is_err(), "a dry run created the bucket");
}
