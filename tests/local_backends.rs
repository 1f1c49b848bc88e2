//! The local backends (`.panka/` state and lock files): the same guarantees
//! as S3 and DynamoDB, including between separate processes.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panka::exit::ExitStatus;
use panka::lock::local::LocalLocks;
use panka::lock::ops::list_locks;
use panka::lock::record::now_f64;
use panka::lock::{acquire, AcquireOptions, Granularity, LockBackend, LockError, LockHealth, LockRequest, Owner};
use panka::scope::{BasePrefix, Name, StackScope, TenantScope};
use panka::state::local::LocalStateStore;
use panka::state::{read_state, SessionOptions, StateError, StateSession, StateStore};
use serde_json::{json, Value};

fn scope() -> StackScope {
    TenantScope::new(BasePrefix::default(), Name::new("tenant", "default").unwrap())
        .stack(Name::new("stack", "shop").unwrap(), Name::new("env", "dev").unwrap())
}

fn request(who: &str) -> LockRequest {
    let mut owner = Owner::current("apply", "dep");
    owner.locked_by = format!("{who}@test");
    LockRequest { scope: scope(), granularity: Granularity::Stack, owner }
}

fn lease(secs: u64) -> AcquireOptions {
    AcquireOptions { lease: Duration::from_secs(secs), ..AcquireOptions::default() }
}

/// Runs only as a child process: acquire once in PANKA_TEST_LOCK_DIR and report.
#[tokio::test]
async fn child_process_entry() {
    let Ok(dir) = std::env::var("PANKA_TEST_LOCK_DIR") else {
        return;
    };
    let who = std::env::var("PANKA_TEST_WHO").unwrap();
    let start_at: f64 = std::env::var("PANKA_TEST_START_AT").unwrap().parse().unwrap();
    let hold_until: f64 = std::env::var("PANKA_TEST_HOLD_UNTIL").unwrap().parse().unwrap();
    let backend: Arc<dyn LockBackend> = Arc::new(LocalLocks::new(dir));
    let wait = start_at - now_f64();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    let result = match acquire(backend, &request(&who), &lease(120)).await {
        Ok(guard) => {
            let v = json!({"acquired": true, "who": who, "lock_id": guard.lock_id()});
            let wait = hold_until - now_f64();
            if wait > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            }
            guard.release().await.unwrap();
            v
        }
        Err(err) => json!({
            "acquired": false,
            "who": who,
            "holder": match &err { LockError::Held { record, .. } => record.lock_id.clone(), _ => String::new() },
            "message": err.to_string(),
        }),
    };
    #[allow(clippy::print_stdout)]
    {
        println!("RESULT {result}");
    }
}

#[tokio::test]
async fn sixteen_processes_on_one_lock_file_one_holder() {
    let dir = tempfile::tempdir().unwrap();
    let start_at = now_f64() + 2.0;
    let hold_until = start_at + 3.0;
    let children: Vec<_> = (0..16)
        .map(|i| {
            Command::new(std::env::current_exe().unwrap())
                .args(["child_process_entry", "--exact", "--nocapture", "--test-threads=1"])
                .env("PANKA_TEST_LOCK_DIR", dir.path())
                .env("PANKA_TEST_WHO", format!("p{i}"))
                .env("PANKA_TEST_START_AT", start_at.to_string())
                .env("PANKA_TEST_HOLD_UNTIL", hold_until.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Value> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .flat_map(|c| {
                let out = c.wait_with_output().unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.split_once("RESULT ").map(|(_, j)| serde_json::from_str(j).unwrap()))
                    .collect::<Vec<Value>>()
            })
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(outputs.len(), 16);
    let winners: Vec<_> = outputs.iter().filter(|v| v["acquired"] == true).collect();
    assert_eq!(winners.len(), 1, "{outputs:?}");
    for loser in outputs.iter().filter(|v| v["acquired"] == false) {
        assert_eq!(loser["holder"], winners[0]["lock_id"], "{loser}");
        let who = winners[0]["who"].as_str().unwrap();
        assert!(loser["message"].as_str().unwrap().contains(&format!("held by {who}@test")));
    }
    // Released, and no guard or temporary files left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn local_lock_heartbeat_takeover_release_and_loss() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn LockBackend> = Arc::new(LocalLocks::new(dir.path()));
    let a = acquire(backend.clone(), &request("a"), &lease(2)).await.unwrap();
    let file = dir.path().join("tenant_default_stack_shop_env_dev.json");
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for field in [
        "lockKey",
        "lockId",
        "rvn",
        "lockedBy",
        "operation",
        "deploymentId",
        "lockedAt",
        "lastHeartbeat",
        "expiresAt",
        "pid",
        "pankaVersion",
    ] {
        assert!(on_disk.get(field).is_some(), "lock file lacks {field}: {on_disk}");
    }

    // Heartbeats keep it past the lease.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!a.is_lost());
    let err = acquire(backend.clone(), &request("b"), &lease(2)).await.err().unwrap();
    assert_eq!(err.exit_status(), ExitStatus::Locked);

    // Someone else's release fails and leaves it.
    assert!(backend.release(a.key(), "other").await.is_err());
    assert!(file.exists());

    // Overwritten: noticed within lease/4 (+ slack).
    let mut stolen: panka::lock::LockRecord = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    stolen.lock_id = "thief".into();
    stolen.locked_by = "thief@x".into();
    std::fs::write(&file, serde_json::to_vec(&stolen).unwrap()).unwrap();
    let mut watch = a.watch();
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), watch.changed()).await.unwrap().unwrap();
    assert!(t.elapsed() <= Duration::from_millis(750), "{:?}", t.elapsed());
    assert!(matches!(&*watch.borrow(), LockHealth::Lost { .. }));
    assert!(a.release().await.is_err());

    // Expired: taken over and recorded.
    stolen.expires_at = now_f64() as i64 - 10;
    std::fs::write(&file, serde_json::to_vec(&stolen).unwrap()).unwrap();
    let listing = list_locks(backend.as_ref(), &scope().tenant, false).await.unwrap();
    assert_eq!(listing.locks[0].liveness, panka::lock::ops::Liveness::Expired);
    let c = acquire(backend.clone(), &request("c"), &lease(2)).await.unwrap();
    assert_eq!(c.takeover().unwrap().previous_lock_id, "thief");
    let on_disk: panka::lock::LockRecord = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(on_disk.takeover_of.as_deref(), Some("thief"));
    c.release().await.unwrap();
    assert!(!file.exists());
}

#[tokio::test]
async fn local_state_same_layout_cas_and_push() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".panka");
    let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(&root));
    let mut a = StateSession::open(store.clone(), scope(), None, SessionOptions::new("a", dir.path())).await.unwrap();
    a.commit(|s| s.metadata.deployment_id = Some("d1".into())).await.unwrap();
    assert!(root.join("stacks/shop/dev/state.json").is_file());
    assert!(root.join("stacks/shop/dev/history/0000000001-d1.json").is_file());

    let mut b = StateSession::open(store.clone(), scope(), None, SessionOptions::new("b", dir.path())).await.unwrap();
    a.commit(|_| {}).await.unwrap();
    let err = b.commit(|_| {}).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::StateConflict);
    let (stored, _) = read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
    assert_eq!(stored.serial, 2);
    assert_eq!(stored.metadata.last_updated_by.as_deref(), Some("a"));

    // A state file that is not JSON is reported, not overwritten.
    std::fs::write(root.join("stacks/shop/dev/state.json"), b"{not json").unwrap();
    let err = read_state(store.as_ref(), &scope()).await.unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
}
