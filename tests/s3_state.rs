//! State in S3 against a real moto server: compare-and-swap writes, lineage,
//! history, 409 retries, failed writes saved locally, push, and user errors.

mod support;

use std::sync::Arc;

use panka::aws::AwsErrorKind;
use panka::exit::ExitStatus;
use panka::scope::{BasePrefix, Name, StackScope, TenantScope};
use panka::state::ops;
use panka::state::s3::S3StateStore;
use panka::state::store::{StateStore, StoreError};
use panka::state::{read_state, SessionOptions, StateError, StateSession};
use support::faults::{Fault, Faults};
use support::moto;

fn scope(tenant: &str) -> StackScope {
    TenantScope::new(
        BasePrefix::new("org").unwrap(),
        Name::new("tenant", tenant).unwrap(),
    )
    .stack(
        Name::new("stack", "payments").unwrap(),
        Name::new("env", "dev").unwrap(),
    )
}

fn options(who: &str, dir: &std::path::Path) -> SessionOptions {
    SessionOptions::new(who, dir)
}

async fn store(bucket: &str) -> Arc<dyn StateStore> {
    Arc::new(S3StateStore::new(moto::s3().await, bucket))
}

async fn faulty_store(bucket: &str, faults: &Faults) -> Arc<dyn StateStore> {
    let config = moto::s3_builder().await.interceptor(faults.clone()).build();
    Arc::new(S3StateStore::new(
        aws_sdk_s3::Client::from_conf(config),
        bucket,
    ))
}

#[tokio::test]
async fn writes_bump_the_serial_keep_the_lineage_and_copy_to_history() {
    let bucket = moto::new_bucket().await;
    let store = store(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session = StateSession::open(
        store.clone(),
        scope("acme"),
        None,
        options("ana@ci", dir.path()),
    )
    .await
    .unwrap();
    assert!(session.version().is_none());
    let lineage = session.state().lineage.clone();
    for i in 1..=3u64 {
        let c = session
            .commit(|s| s.metadata.deployment_id = Some(format!("dep-{i}")))
            .await
            .unwrap();
        assert_eq!(c.serial, i);
        assert!(c.history_warning.is_none());
    }
    let (stored, version) = read_state(store.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.serial, 3);
    assert_eq!(stored.lineage, lineage);
    assert_eq!(stored.metadata.last_updated_by.as_deref(), Some("ana@ci"));
    assert_eq!(Some(&version), session.version());

    // The key layout of SPEC §8 / §12.
    let keys: Vec<String> = moto::s3()
        .await
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        vec![
            "org/tenants/acme/stacks/payments/dev/history/0000000001-dep-1.json",
            "org/tenants/acme/stacks/payments/dev/history/0000000002-dep-2.json",
            "org/tenants/acme/stacks/payments/dev/history/0000000003-dep-3.json",
            "org/tenants/acme/stacks/payments/dev/state.json",
        ]
    );
    let history = ops::history(store.as_ref(), &scope("acme")).await.unwrap();
    assert_eq!(
        history.entries.iter().map(|e| e.serial).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let old = ops::pull(store.as_ref(), &scope("acme"), Some(2))
        .await
        .unwrap()
        .unwrap();
    let old: panka::state::State = serde_json::from_slice(&old).unwrap();
    assert_eq!(old.serial, 2);
    let list = ops::list(store.as_ref(), &scope("acme").tenant)
        .await
        .unwrap();
    assert_eq!(list.states.len(), 1);
    assert_eq!(list.states[0].stack, "payments");
}

#[tokio::test]
async fn two_writers_from_the_same_etag_one_wins_the_other_gets_exit_5() {
    let bucket = moto::new_bucket().await;
    let store = store(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    StateSession::open(
        store.clone(),
        scope("acme"),
        None,
        options("setup", dir.path()),
    )
    .await
    .unwrap()
    .commit(|_| {})
    .await
    .unwrap();

    let mut a = StateSession::open(
        store.clone(),
        scope("acme"),
        None,
        options("a@host", dir.path()),
    )
    .await
    .unwrap();
    let mut b = StateSession::open(
        store.clone(),
        scope("acme"),
        None,
        options("b@host", dir.path()),
    )
    .await
    .unwrap();
    assert_eq!(a.version(), b.version(), "both start from the same ETag");

    a.commit(|s| s.metadata.git_commit = Some("aaaa".into()))
        .await
        .unwrap();
    let err = b
        .commit(|s| s.metadata.git_commit = Some("bbbb".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::StateConflict);
    assert_eq!(panka::exit::Failure::from(err).status.code(), 5);

    let (stored, _) = read_state(store.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.serial, 2);
    assert_eq!(stored.metadata.git_commit.as_deref(), Some("aaaa"));
    assert_eq!(stored.metadata.last_updated_by.as_deref(), Some("a@host"));
}

#[tokio::test]
async fn the_first_write_is_if_none_match_so_two_creators_cannot_both_win() {
    let bucket = moto::new_bucket().await;
    let store = store(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = StateSession::open(
        store.clone(),
        scope("default"),
        None,
        options("a", dir.path()),
    )
    .await
    .unwrap();
    let mut b = StateSession::open(
        store.clone(),
        scope("default"),
        None,
        options("b", dir.path()),
    )
    .await
    .unwrap();
    a.commit(|_| {}).await.unwrap();
    let err = b.commit(|_| {}).await.unwrap_err();
    // b's new lineage differs from the one a created.
    assert_eq!(err.exit_status(), ExitStatus::StateConflict, "{err}");
    let (stored, _) = read_state(store.as_ref(), &scope("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.lineage, a.state().lineage);
    assert_eq!(stored.metadata.last_updated_by.as_deref(), Some("a"));
    // tenant `default` uses the plain prefix
    assert!(store
        .describe(&scope("default").state_key())
        .ends_with("/org/stacks/payments/dev/state.json"));
}

#[tokio::test]
async fn a_409_conditional_request_conflict_is_retried_after_rereading() {
    let bucket = moto::new_bucket().await;
    let faults = Faults::new(Fault::Conflict409, "/state.json", 2);
    let store = faulty_store(&bucket, &faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session =
        StateSession::open(store.clone(), scope("acme"), None, options("a", dir.path()))
            .await
            .unwrap();
    let committed = session
        .commit(|s| s.metadata.git_branch = Some("main".into()))
        .await
        .unwrap();
    assert_eq!(faults.injected(), 2);
    assert_eq!(committed.retries, 2);
    assert_eq!(committed.serial, 1);
    let (stored, _) = read_state(store.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.metadata.git_branch.as_deref(), Some("main"));
    assert_eq!(stored.serial, 1);
}

#[tokio::test]
async fn a_failed_write_leaves_a_local_copy_and_the_push_command() {
    let bucket = moto::new_bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let clean = store(&bucket).await;
    StateSession::open(clean.clone(), scope("acme"), None, options("a", dir.path()))
        .await
        .unwrap()
        .commit(|_| {})
        .await
        .unwrap();

    // Every attempt of the next state write goes to a closed port.
    let faults = Faults::new(Fault::Unreachable, "/state.json", 100);
    let faulty = faulty_store(&bucket, &faults).await;
    let rescue_dir = dir.path().join("rescue");
    let mut session = StateSession::open(faulty, scope("acme"), None, options("a", &rescue_dir))
        .await
        .unwrap();
    let err = session
        .commit(|s| s.metadata.git_commit = Some("deployed".into()))
        .await
        .unwrap_err();
    assert!(faults.injected() >= 1);
    let StateError::WriteFailed {
        rescue,
        push_command,
        ..
    } = &err
    else {
        panic!("expected WriteFailed, got {err}");
    };
    assert_eq!(err.exit_status(), ExitStatus::Error);
    assert!(rescue.starts_with(&rescue_dir), "{}", rescue.display());
    let saved: panka::state::State =
        serde_json::from_slice(&std::fs::read(rescue).unwrap()).unwrap();
    assert_eq!(saved.serial, 2);
    assert_eq!(saved.metadata.git_commit.as_deref(), Some("deployed"));
    assert_eq!(
        push_command,
        &format!(
            "panka state push {} --stack payments -e dev --tenant acme",
            rescue.display()
        )
    );
    let message = err.to_string();
    assert!(message.contains(push_command.as_str()), "{message}");
    assert!(
        !message.contains("testing"),
        "no credentials in messages: {message}"
    );

    // The stored state is untouched, and the saved copy pushes cleanly.
    let (stored, _) = read_state(clean.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.serial, 1);
    let pushed = ops::push(
        clean.as_ref(),
        &scope("acme"),
        &std::fs::read(rescue).unwrap(),
        "rescue",
        false,
        None,
    )
    .await
    .unwrap();
    assert_eq!((pushed.previous_serial, pushed.serial), (Some(1), 2));
    let (stored, _) = read_state(clean.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.metadata.git_commit.as_deref(), Some("deployed"));
}

#[tokio::test]
async fn push_refuses_an_older_serial_or_another_lineage_unless_forced() {
    let bucket = moto::new_bucket().await;
    let store = store(&bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session =
        StateSession::open(store.clone(), scope("acme"), None, options("a", dir.path()))
            .await
            .unwrap();
    session.commit(|_| {}).await.unwrap();
    let old = ops::pull(store.as_ref(), &scope("acme"), None)
        .await
        .unwrap()
        .unwrap();
    session.commit(|_| {}).await.unwrap();

    let err = ops::push(
        store.as_ref(),
        &scope("acme"),
        &old,
        "old.json",
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StateError::PushRefused { .. }), "{err}");
    assert!(err.to_string().contains("serial 1"), "{err}");

    let mut other: panka::state::State = serde_json::from_slice(&old).unwrap();
    other.lineage = "another-lineage".into();
    other.serial = 99;
    let other = serde_json::to_vec(&other).unwrap();
    let err = ops::push(
        store.as_ref(),
        &scope("acme"),
        &other,
        "other.json",
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("lineage"), "{err}");
    let (stored, _) = read_state(store.as_ref(), &scope("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.serial, 2, "refused pushes write nothing");

    let pushed = ops::push(store.as_ref(), &scope("acme"), &old, "old.json", true, None)
        .await
        .unwrap();
    assert_eq!(
        pushed.serial, 3,
        "a forced push still moves the serial forward"
    );
}

#[tokio::test]
async fn a_missing_bucket_says_so_and_points_at_admin_init() {
    moto::moto();
    let store = store("panka-no-such-bucket").await;
    let err = read_state(store.as_ref(), &scope("acme"))
        .await
        .unwrap_err();
    let StateError::Read { source, .. } = &err else {
        panic!("{err}");
    };
    let StoreError::Aws(aws) = source.as_ref() else {
        panic!("{err}");
    };
    assert_eq!(aws.kind, AwsErrorKind::MissingBucket);
    let text = err.to_string();
    assert!(
        text.contains("bucket `panka-no-such-bucket` does not exist"),
        "{text}"
    );
    assert!(
        text.contains("hint: create it with `panka admin init`"),
        "{text}"
    );
}

#[tokio::test]
async fn access_denied_is_explained() {
    let bucket = moto::new_bucket().await;
    let faults = Faults::new(Fault::AccessDenied, "/state.json", 10);
    let store = faulty_store(&bucket, &faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut session = StateSession::open(store, scope("acme"), None, options("a", dir.path()))
        .await
        .unwrap();
    let err = session.commit(|_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("access denied: PutObject"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert!(err.rescue_path().is_some(), "the state is saved locally");
}
