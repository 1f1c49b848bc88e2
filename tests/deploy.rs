//! `panka apply` / `panka destroy` end to end: the real binary and the real
//! Pulumi engine (`make pulumi`: the CLI, its YAML host and the stand-in AWS
//! provider, see tests/support/pulumi.rs), the local backend and S3 +
//! DynamoDB on a moto server. The calls panka makes are recorded by
//! tests/support/pulumi-spy.sh, which then `exec`s the real `pulumi`.
//! Faults are injected at the provider (`FAKE_AWS_FAIL`, `_DELAY`, `_HANG`).
//! Only a secret stack output, which no panka program exports, still needs
//! the `pulumi-double` test double (docs/pulumi-double.md).

mod support;

use std::path::PathBuf;
use std::process::Output;

use serde::Deserialize;
use serde_json::Value;
use support::pulumi::{seed, seed_load_balancer};
use support::{copy_dir, moto, panka, stderr, stdout, wait_exit, walk};

const PASSPHRASE: &str = "correct horse battery staple";

fn double() -> &'static str {
    env!("CARGO_BIN_EXE_pulumi-double")
}

/// A copy of an example stack in a temp dir, its fake cloud, and a log of
/// the pulumi calls panka made.
struct Fixture {
    _dir: tempfile::TempDir,
    stack: PathBuf,
    log: PathBuf,
    /// What panka runs as `pulumi`: the spy in front of the real CLI, or the double.
    pulumi: PathBuf,
    env: Vec<(String, String)>,
}

impl Fixture {
    /// `example` deployed through the real Pulumi engine.
    fn new(example: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join(example);
        copy_dir(&support::root().join("examples").join(example), &stack);
        let log = dir.path().join("pulumi-calls.log");
        let cloud = dir.path().join("fake-cloud");
        std::fs::create_dir_all(&cloud).unwrap();
        if example == "payments" {
            // What the platform team provides in dev: the cluster and the ALB.
            seed(
                &cloud,
                "aws:ecs/cluster:Cluster",
                "platform-dev",
                serde_json::json!({"name": "platform-dev", "arn": "arn:aws:ecs:eu-west-1:111111111111:cluster/platform-dev"}),
            );
            seed_load_balancer(
                &cloud,
                "arn:aws:elasticloadbalancing:eu-west-1:111111111111:listener/app/platform-dev/0a1b2c3d4e5f6a7b/8c9d0e1f2a3b4c5d",
            );
        }
        let mut env = support::pulumi::env(&cloud);
        env.push(("PULUMI_SPY_LOG".into(), log.display().to_string()));
        env.push(("PULUMI_SPY_REAL".into(), support::pulumi::pulumi().display().to_string()));
        env.push(("PULUMI_CONFIG_PASSPHRASE".into(), PASSPHRASE.into()));
        let pulumi = support::root().join("tests/support/pulumi-spy.sh");
        Fixture { _dir: dir, stack, log, pulumi, env }
    }

    /// `example` deployed by the `pulumi-double` test double.
    fn with_double(example: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join(example);
        copy_dir(&support::root().join("examples").join(example), &stack);
        let log = dir.path().join("pulumi-calls.log");
        let env = vec![
            ("PULUMI_DOUBLE_LOG".into(), log.display().to_string()),
            ("PULUMI_CONFIG_PASSPHRASE".into(), PASSPHRASE.into()),
        ];
        Fixture { _dir: dir, stack, log, pulumi: PathBuf::from(double()), env }
    }

    fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    fn cmd(&self, args: &[&str], extra: &[(&str, &str)]) -> assert_cmd::Command {
        let mut cmd = panka();
        cmd.current_dir(&self.stack).arg("--pulumi").arg(&self.pulumi).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.cmd(args, extra).output().unwrap()
    }

    /// The pulumi calls made so far, then forgets them.
    fn take_calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines().map(str::to_string).collect()
    }

    /// Rewrites the copy's `stack.yaml`.
    fn edit_stack(&self, edit: impl FnOnce(String) -> String) {
        let path = self.stack.join("stack.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    fn state_path(&self, name: &str) -> PathBuf {
        self.stack.join(".panka/stacks").join(name).join("dev/state.json")
    }

    fn state(&self, name: &str) -> State {
        serde_json::from_slice(&std::fs::read(self.state_path(name)).unwrap()).unwrap()
    }
}

#[derive(Debug, Deserialize)]
struct State {
    serial: u64,
    components: std::collections::BTreeMap<String, ComponentState>,
    deployments: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct ComponentState {
    status: String,
    outputs: std::collections::BTreeMap<String, Value>,
    pulumi_project: String,
}

#[derive(Debug, Deserialize)]
struct Report {
    status: String,
    counts: Counts,
    components: Vec<ComponentReport>,
}

#[derive(Debug, Deserialize)]
struct Counts {
    created: u32,
    updated: u32,
    failed: u32,
    skipped: u32,
}

#[derive(Debug, Deserialize)]
struct ComponentReport {
    component: String,
    outcome: String,
}

fn report(o: &Output) -> Report {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

fn ups(calls: &[String]) -> Vec<String> {
    let mut v: Vec<String> =
        calls.iter().filter(|c| c.starts_with("up ")).map(|c| c.split(' ').nth(1).unwrap().to_string()).collect();
    v.sort();
    v
}

#[test]
fn apply_minimal_records_every_component_then_a_second_apply_runs_no_pulumi_up() {
    let f = Fixture::new("minimal");
    let o = f.run(&["apply", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    // The stack's shared program (the created cluster), the queue, the worker.
    assert_eq!((r.status.as_str(), r.counts.created), ("succeeded", 3));
    let state = f.state("minimal");
    for (name, c) in &state.components {
        assert_eq!(c.status, "deployed", "{name}");
        assert!(!c.outputs.is_empty(), "{name} has outputs");
        let checkpoint =
            f.stack.join(format!(".panka/stacks/minimal/dev/pulumi/.pulumi/stacks/{}/dev.json", c.pulumi_project));
        assert!(checkpoint.is_file(), "{}", checkpoint.display());
    }
    assert!(state.components["orders/jobs"].outputs["url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(state.deployments.len(), 1);
    // Dependencies first.
    let calls = f.take_calls();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("up orders-jobs dev") < pos("up orders-worker dev"), "{calls:?}");
    assert!(pos("up minimal-shared dev") < pos("up orders-worker dev"), "{calls:?}");
    // Two pulumi processes per component: the outputs come from `up`'s
    // engine events, not from a `stack output` call.
    assert_eq!(calls.len(), 1 + 3 * 2, "`version`, then select and up per component: {calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("stack output")), "{calls:?}");
    // Nothing changed: no pulumi up, no state write.
    let o = f.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("found nothing to change"), "{}", stdout(&o));
    assert!(ups(&f.take_calls()).is_empty());
    assert_eq!(f.state("minimal").serial, state.serial);
    // No lock left behind.
    let locks = f.stack.join(".panka/locks");
    assert_eq!(std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn changing_version_reapplies_exactly_the_components_that_use_it_and_destroy_goes_in_reverse() {
    let f = Fixture::new("payments");
    let o = f.run(&["apply", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&o).counts.created, 11);
    assert_eq!(ups(&f.take_calls()).len(), 11);
    let o = f.run(&["apply", "--auto-approve", "--var", "VERSION=9.9.9", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        ups(&f.take_calls()),
        ["backend-api", "billing-invoice-worker", "billing-reconciliation", "notifications-sender"]
    );
    assert_eq!(report(&o).counts.updated, 4);

    let o = f.run(&["destroy", "--auto-approve", "--var", "VERSION=9.9.9"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let calls = f.take_calls();
    let destroyed: Vec<&str> =
        calls.iter().filter(|c| c.starts_with("destroy ")).map(|c| c.split(' ').nth(1).unwrap()).collect();
    assert_eq!(destroyed.len(), 11);
    let at = |p: &str| destroyed.iter().position(|d| *d == p).unwrap();
    // Dependents before what they depend on.
    assert!(at("billing-invoice-worker") < at("backend-api"));
    assert!(at("backend-api") < at("backend-database"));
    assert!(at("notifications-sender") < at("notifications-email-queue"));
    assert!(at("notifications-events") < at("notifications-email-queue"));
    assert_eq!(calls.iter().filter(|c| c.starts_with("stack rm ")).count(), 11);
    let state = f.state("payments");
    assert!(state.components.values().all(|c| c.status == "deleted"));
    // No Pulumi stack is left: `stack rm` removes `<project>/<env>.json`
    // (the real DIY backend keeps its `.json.bak` backups).
    let stacks = f.stack.join(".panka/stacks/payments/dev/pulumi/.pulumi/stacks");
    let left: Vec<_> = walk(&stacks).into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_failure_in_wave_two_keeps_wave_one_skips_dependents_exits_4_and_the_next_apply_resumes() {
    let f = Fixture::new("payments");
    let fail = [
        ("FAKE_AWS_FAIL", "^create aws:sns/topic:Topic .*notifications-events"),
        ("FAKE_AWS_FAIL_MESSAGE", "InvalidParameter: injected failure by FAKE_AWS_FAIL"),
    ];
    let o = f.run(&["apply", "--auto-approve", "--output", "json"], &fail);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(r.status, "failed");
    assert_eq!(r.counts.failed, 1);
    let outcome = |c: &str| r.components.iter().find(|x| x.component == c).map(|x| x.outcome.clone());
    assert_eq!(outcome("notifications/events").as_deref(), Some("failed"));
    for c in ["backend/cache", "backend/database", "notifications/email-queue"] {
        assert_eq!(outcome(c).as_deref(), Some("created"), "{c}");
    }
    assert_eq!(outcome("backend/api").as_deref(), Some("skipped"));
    assert_eq!(r.counts.skipped, 7);
    let state = f.state("payments");
    assert_eq!(state.components["notifications/events"].status, "failed");
    assert_eq!(state.components["backend/database"].status, "deployed");
    assert!(!state.components.contains_key("backend/api"));
    // The failing component's Pulumi errors are shown.
    let o2 = f.run(&["apply", "--auto-approve"], &fail);
    assert_eq!(o2.status.code(), Some(4));
    assert!(stderr(&o2).contains("InvalidParameter: injected failure by FAKE_AWS_FAIL"), "{}", stderr(&o2));
    f.take_calls();
    // The lock was released; the next apply resumes where it stopped.
    let o = f.run(&["apply", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let resumed = ups(&f.take_calls());
    assert_eq!(resumed.len(), 8, "{resumed:?}");
    assert!(!resumed.contains(&"backend-database".to_string()));
    assert!(f.state("payments").components.values().all(|c| c.status == "deployed"));
}

#[test]
fn keep_going_runs_every_branch_that_does_not_depend_on_the_failure() {
    // notifications/email-queue heads the longest chain, so with parallelism 1
    // it starts first.
    let fail = [("FAKE_AWS_FAIL", "^create aws:sqs/queue:Queue .*notifications-email-queue")];
    let f = Fixture::new("payments");
    let o = f.run(&["apply", "--auto-approve", "--parallelism", "1", "--output", "json"], &fail);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(report(&o).counts.created, 0, "without --keep-going nothing new starts after the failure");
    let f = Fixture::new("payments");
    let o = f.run(&["apply", "--auto-approve", "--keep-going", "--parallelism", "1", "--output", "json"], &fail);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let r = report(&o);
    // backend/cache and backend/database do not depend on the queue.
    assert_eq!(r.counts.created, 2);
    assert_eq!(r.counts.skipped, 8);
}

#[test]
fn concurrent_applies_one_deploys_the_others_exit_3_naming_the_holder() {
    let f = Fixture::new("minimal");
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = background(&f, &["apply", "--auto-approve"], &[("USER", "tester")]);
            cmd.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let ok = outputs.iter().filter(|o| o.status.code() == Some(0)).count();
    let locked: Vec<&Output> = outputs.iter().filter(|o| o.status.code() == Some(3)).collect();
    // A late starter may find the lock free and nothing to do: also exit 0.
    assert!(ok >= 1, "{outputs:?}");
    assert_eq!(ok + locked.len(), 8, "{outputs:?}");
    assert!(!locked.is_empty(), "no apply saw the lock held");
    for o in &locked {
        assert!(stderr(o).contains("is locked") && stderr(o).contains("tester@"), "{}", stderr(o));
    }
    let state = f.state("minimal");
    let deployed_runs = state.deployments.len();
    assert_eq!(deployed_runs, 1, "exactly one apply deployed");
}

#[test]
fn secret_outputs_never_reach_output_state_or_history() {
    // No panka program exports a secret output: the double marks one secret.
    let f = Fixture::with_double("minimal").with_env("PULUMI_DOUBLE_SECRET_OUTPUTS", "url");
    let o = f.run(&["apply", "--auto-approve", "-v"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let oj = f.run(&["state", "show", "--output", "json"], &[]);
    assert_eq!(f.state("minimal").components["orders/jobs"].outputs["url"], "[secret]");
    // The plaintext, as only `--show-secrets` reveals it.
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(workdir.path().join("Pulumi.yaml"), "name: orders-jobs\nruntime: yaml\n").unwrap();
    let backend = format!("file://{}", f.stack.join(".panka/stacks/minimal/dev/pulumi").display());
    let shown = std::process::Command::new(double())
        .current_dir(workdir.path())
        .env("PULUMI_BACKEND_URL", &backend)
        .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        .args(["stack", "output", "--json", "--show-secrets", "--stack", "dev"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let secret = shown["url"].as_str().expect("the double reveals the secret").to_string();
    assert!(secret.len() > 10);
    let mut haystack = format!("{}{}{}{}", stdout(&o), stderr(&o), stdout(&oj), stderr(&oj));
    for p in walk(&f.stack.join(".panka/stacks/minimal/dev")) {
        if !p.to_string_lossy().contains("/pulumi/") {
            haystack.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    assert!(haystack.contains("[secret]"));
    assert!(!haystack.contains(&secret), "the secret leaked");
}

#[test]
fn without_a_passphrase_or_pulumi_apply_says_what_to_do() {
    let f = Fixture::new("minimal");
    let o = f.cmd(&["apply", "--auto-approve"], &[]).env_remove("PULUMI_CONFIG_PASSPHRASE").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("PULUMI_CONFIG_PASSPHRASE"), "{}", stderr(&o));
    let o = panka()
        .current_dir(&f.stack)
        .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        .args(["apply", "--auto-approve", "--pulumi", "/nonexistent/pulumi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("get.pulumi.com"), "{}", stderr(&o));
    assert!(!f.state_path("minimal").exists());
}

#[test]
fn an_environment_that_requires_approval_is_refused_without_a_terminal() {
    let f = Fixture::new("minimal");
    f.edit_stack(|text| format!("{text}  deployment:\n    requireApproval: [dev]\n"));
    let o = f.run(&["apply"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--auto-approve"), "{}", stderr(&o));
    assert!(ups(&f.take_calls()).is_empty());
    let o = f.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn apply_of_a_saved_plan_refuses_when_the_state_moved() {
    let f = Fixture::new("minimal");
    let plan = f.stack.join("plan.json");
    let o = f.run(&["plan", "--out", plan.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = f.run(&["apply", "--auto-approve", "--var", "VERSION=2.0.0"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    f.take_calls();
    let o = f.run(&["apply", plan.to_str().unwrap(), "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("state changed since the plan"), "{}", stderr(&o));
    assert!(ups(&f.take_calls()).is_empty());
}

/// panka started in the background (for signals and pty tests).
fn spawn(f: &Fixture, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
    background(f, args, extra).spawn().unwrap()
}

/// The panka command of [`spawn`], stdout and stderr piped.
fn background(f: &Fixture, args: &[&str], extra: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_panka"));
    cmd.current_dir(&f.stack)
        .env("HOME", std::env::temp_dir().join("panka-test-home-does-not-exist"))
        .args(args)
        .arg("--pulumi")
        .arg(&f.pulumi)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("PANKA_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in &f.env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

/// Waits until the double's call log contains `line`.
fn wait_for_call(f: &Fixture, line: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&f.log).unwrap_or_default().contains(line) {
        assert!(std::time::Instant::now() < deadline, "`{line}` never happened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: signalling a child we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

fn lock_files(f: &Fixture) -> usize {
    std::fs::read_dir(f.stack.join(".panka/locks")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn sigint_mid_apply_is_forwarded_checkpointed_and_the_lock_released() {
    interrupted_mid_apply(libc::SIGINT);
}

/// What a CI runner sends when a job is cancelled: handled as Ctrl-C, not
/// dying with the pulumi children orphaned and the lock left.
#[test]
fn sigterm_mid_apply_is_handled_like_ctrl_c() {
    interrupted_mid_apply(libc::SIGTERM);
}

fn interrupted_mid_apply(sig: i32) {
    let f = Fixture::new("minimal");
    let child = spawn(&f, &["apply", "--auto-approve"], &[("FAKE_AWS_HANG", "^create aws:ecs/service:Service")]);
    wait_for_call(&f, "up orders-worker");
    std::thread::sleep(std::time::Duration::from_millis(200));
    signal(&child, sig);
    let (status, out) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(130), "{}", stderr(&out));
    let state = f.state("minimal");
    assert_eq!(state.components["orders/jobs"].status, "deployed");
    assert_eq!(state.components["orders/worker"].status, "failed");
    assert_eq!(lock_files(&f), 0);
    // Pulumi released its own lock on SIGINT, so the next apply just works.
    let o = f.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_lock_lost_mid_apply_starts_nothing_new_writes_nothing_and_exits_3() {
    let f = Fixture::new("minimal");
    let env = [("PANKA_LOCKS_LEASE", "2s"), ("FAKE_AWS_DELAY", "^create aws:sqs/queue:Queue=3")];
    let child = spawn(&f, &["apply", "--auto-approve"], &env);
    wait_for_call(&f, "up orders-jobs");
    let before = std::fs::read(f.state_path("minimal")).unwrap();
    // Someone else breaks the lock (as `panka unlock --force` does).
    let o = f.run(&["locks", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let locks: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = locks["locks"][0]["lockId"].as_str();
    let id = id.unwrap_or_else(|| panic!("no lock id in {locks:#}")).to_string();
    let o = f.run(&["unlock", "--force", &id], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (status, out) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("lost"), "{}", stderr(&out));
    let calls = f.take_calls();
    assert!(!calls.iter().any(|c| c.starts_with("up orders-worker")), "the dependent started: {calls:?}");
    assert_eq!(
        std::fs::read(f.state_path("minimal")).unwrap(),
        before,
        "the state was written after the lock was lost"
    );
}

type Collected = std::sync::Arc<std::sync::Mutex<String>>;

/// Everything read from `from` until it ends, gathered on a thread.
fn collect(mut from: impl std::io::Read + Send + 'static) -> Collected {
    let text = Collected::default();
    let sink = std::sync::Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // A pty's master reads EIO once the last slave closes: that ends it too.
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// panka with a pseudo-terminal as stdin (so it may ask) and, with
/// `stderr_too`, as stderr (so it draws the live view). Returns the child,
/// the pty's master and what panka wrote to stderr.
fn spawn_on_a_terminal(
    f: &Fixture,
    args: &[&str],
    extra: &[(&str, &str)],
    stderr_too: bool,
) -> (std::process::Child, std::fs::File, Collected) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors we then own.
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (master, slave) = unsafe { (std::fs::File::from_raw_fd(master), std::fs::File::from_raw_fd(slave)) };
    let mut cmd = background(f, args, extra);
    cmd.env("TERM", "xterm");
    if stderr_too {
        cmd.stderr(slave.try_clone().unwrap());
    }
    let mut child = cmd.stdin(slave).spawn().unwrap();
    drop(cmd);
    let text = if stderr_too { collect(master.try_clone().unwrap()) } else { collect(child.stderr.take().unwrap()) };
    (child, master, text)
}

fn wait_for_text(text: &std::sync::Mutex<String>, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !text.lock().unwrap().contains(what) {
        assert!(std::time::Instant::now() < deadline, "`{what}` never shown; stderr so far:\n{}", text.lock().unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn at_the_approval_prompt_ctrl_c_changes_nothing_and_yes_deploys() {
    use std::io::Write;
    let f = Fixture::new("minimal");
    f.edit_stack(|text| format!("{text}  deployment:\n    requireApproval: [dev]\n"));

    let (child, _master, err) = spawn_on_a_terminal(&f, &["apply"], &[], false);
    wait_for_text(&err, "Type `yes` to continue");
    assert_eq!(lock_files(&f), 1, "the lock is held while asking");
    signal(&child, libc::SIGINT);
    let (status, _) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(130), "{}", err.lock().unwrap());
    assert!(err.lock().unwrap().contains("nothing was changed"), "{}", err.lock().unwrap());
    assert_eq!(lock_files(&f), 0, "the lock is released");
    assert!(ups(&f.take_calls()).is_empty());
    assert!(!f.state_path("minimal").exists());

    let (child, mut master, err) = spawn_on_a_terminal(&f, &["apply"], &[], false);
    wait_for_text(&err, "Type `yes` to continue");
    master.write_all(b"no\n").unwrap();
    let (status, _) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(2), "{}", err.lock().unwrap());
    assert!(ups(&f.take_calls()).is_empty());

    let (child, mut master, err) = spawn_on_a_terminal(&f, &["apply"], &[], false);
    wait_for_text(&err, "Type `yes` to continue");
    master.write_all(b"yes\n").unwrap();
    let (status, _) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(0), "{}", err.lock().unwrap());
    assert_eq!(ups(&f.take_calls()), ["minimal-shared", "orders-jobs", "orders-worker"]);
    assert_eq!(lock_files(&f), 0);
}

#[test]
fn on_a_terminal_progress_is_a_live_view_with_a_line_per_finished_component() {
    let f = Fixture::new("minimal");
    let (child, _master, err) = spawn_on_a_terminal(&f, &["apply", "--auto-approve"], &[], true);
    let (status, out) = wait_exit(child, 120);
    // The master may still hold bytes the reader has not taken yet.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let err = err.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("\u{1b}["), "redrawn with terminal escapes: {err:?}");
    for c in ["orders/jobs", "orders/worker"] {
        let done = err.lines().any(|l| l.contains('✓') && l.contains(c) && l.contains("create in"));
        assert!(done, "no finished line for {c}: {err:?}");
    }
    assert!(!err.contains(" started create"), "plain CI lines on a terminal: {err:?}");
    assert!(stdout(&out).contains("created"), "{}", stdout(&out));
}

#[test]
fn with_service_granularity_two_services_deploy_at_once_and_no_state_write_is_lost() {
    let f = Fixture::new("payments");
    f.edit_stack(|text| text.replace("lockGranularity: stack", "lockGranularity: service"));
    let o = f.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let serial = f.state("payments").serial;
    f.take_calls();

    let slow = [("FAKE_AWS_DELAY", "^create aws:ecs/taskDefinition:TaskDefinition=1.5")];
    let version = ["--var", "VERSION=3.0.0", "--auto-approve"];
    let billing = spawn(&f, &[&["apply", "--service", "billing"], &version[..]].concat(), &slow);
    let notifications = spawn(&f, &[&["apply", "--service", "notifications"], &version[..]].concat(), &slow);
    wait_for_call(&f, "up billing-");
    wait_for_call(&f, "up notifications-sender");
    // While both run: the same service, or the whole stack, is refused.
    let o = f.run(&["apply", "--service", "billing", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = f.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    for child in [billing, notifications] {
        let (status, out) = wait_exit(child, 60);
        assert_eq!(status.code(), Some(0), "{}", stderr(&out));
    }
    let calls = f.take_calls();
    assert_eq!(ups(&calls), ["billing-invoice-worker", "billing-reconciliation", "notifications-sender"]);
    let state = f.state("payments");
    // billing: in progress, 2 done, its deployment; notifications: 3 of the same.
    assert_eq!(state.serial, serial + 7, "every checkpoint of both runs landed");
    // Both runs' results are in the one state: only backend/api is left to update.
    let o = f.run(&["apply", "--auto-approve", "--var", "VERSION=3.0.0", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ups(&f.take_calls()), ["backend-api"]);
    assert_eq!(lock_files(&f), 0);
}

#[test]
fn apply_and_destroy_on_s3_and_dynamodb() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (bucket, table) = rt.block_on(async { (moto::new_bucket().await, moto::new_table().await) });
    let endpoint = moto::endpoint();
    let env: Vec<(&str, &str)> = vec![
        ("PANKA_BACKEND_TYPE", "s3"),
        ("PANKA_BACKEND_BUCKET", &bucket),
        ("PANKA_BACKEND_REGION", "us-east-1"),
        ("PANKA_BACKEND_ENDPOINT", &endpoint),
        ("PANKA_LOCKS_TYPE", "dynamodb"),
        ("PANKA_LOCKS_TABLE", &table),
        ("PANKA_LOCKS_REGION", "us-east-1"),
        ("PANKA_LOCKS_ENDPOINT", &endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let f = Fixture::new("minimal");
    let o = f.run(&["apply", "--auto-approve", "--output", "json"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&o).counts.created, 3);
    let keys = rt.block_on(async {
        let out = moto::s3().await.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    for k in [
        "stacks/minimal/dev/state.json",
        "stacks/minimal/dev/pulumi/.pulumi/stacks/orders-jobs/dev.json",
        "stacks/minimal/dev/pulumi/.pulumi/stacks/orders-worker/dev.json",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
    }
    assert!(!keys.iter().any(|k| k.contains(".pulumi/locks/") && k.ends_with(".json")), "{keys:?}");
    assert!(!f.stack.join(".panka").exists(), "nothing written locally");
    let o = f.run(&["apply", "--auto-approve"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ups(&f.take_calls()).len(), 3, "only the first apply ran pulumi up");
    let o = f.run(&["destroy", "--auto-approve"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let keys = rt.block_on(async {
        let out = moto::s3().await.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    assert!(!keys.iter().any(|k| k.contains(".pulumi/stacks/") && k.ends_with(".json")), "{keys:?}");
    // The lock is gone.
    let items = rt.block_on(async { moto::dynamodb().await.scan().table_name(&table).send().await.unwrap().count() });
    assert_eq!(items, 0);
}
