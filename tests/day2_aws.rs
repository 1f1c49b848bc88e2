//! `panka logs` against CloudWatch Logs on a real moto server: events put
//! there with boto3 (AWS's own client) under the log group the component's
//! rendered program names come back in time order with their stream,
//! `--follow` prints new ones and stops on SIGINT with exit 0.

#![allow(clippy::print_stderr)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use panka::live::logs::LogEvent;
use support::{copy_dir, moto, panka, stderr, stdout};

/// The payments example in a temp dir.
fn payments() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("payments");
    copy_dir(&support::root().join("examples/payments"), &stack);
    (dir, stack)
}

/// The log group `render` gives `service-component`'s program.
fn log_group(stack: &Path, program: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let o = panka().current_dir(stack).args(["render", "-e", "dev", "--out-dir"]).arg(out.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for wave in std::fs::read_dir(out.path()).unwrap().flatten() {
        let file = wave.path().join(program).join("Pulumi.yaml");
        if let Ok(text) = std::fs::read_to_string(&file) {
            let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            for (_, r) in doc["resources"].as_mapping().unwrap() {
                if r["type"] == "aws:cloudwatch:LogGroup" {
                    return r["properties"]["name"].as_str().expect("a literal log group name").to_string();
                }
            }
        }
    }
    panic!("no log group in the program of {program}")
}

fn logs(stack: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = panka();
    cmd.current_dir(stack)
        .args(["logs", "-e", "dev"])
        .args(args)
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .timeout(Duration::from_secs(60));
    cmd
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[test]
fn logs_interleave_streams_by_time_filter_and_say_when_the_group_is_missing() {
    let (_dir, stack) = payments();
    let group = log_group(&stack, "backend-api");
    assert!(group.contains("backend") && group.contains("api"), "{group}");
    let t = now_ms() - 60_000;
    moto::seed(
        "eu-west-1",
        serde_json::json!([
            {"logs": group, "stream": "api/api/task-1", "events": [[t, "first"], [t + 2000, "third ERROR boom"]]},
            {"logs": group, "stream": "api/api/task-2", "events": [[t + 1000, "second"], [t + 3000, "fourth"]]},
            // Too old for --since 10m.
            {"logs": group, "stream": "api/api/task-0", "events": [[t - 3_600_000, "an hour ago"]]},
        ]),
    );

    let o = logs(&stack, &["backend/api", "--since", "10m"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    let messages: Vec<&str> = lines.iter().map(|l| l.rsplit("] ").next().unwrap()).collect();
    assert_eq!(messages, ["first", "second", "third ERROR boom", "fourth"], "{lines:#?}");
    assert!(lines[1].contains("[api/api/task-2]") && lines[0].contains("[api/api/task-1]"), "{lines:#?}");

    // JSON lines, each one of panka's own LogEvent; a bare component name
    // works when the stack has it once.
    let o = logs(&stack, &["api", "--since", "2h", "--output", "json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events: Vec<LogEvent> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].message, "an hour ago");
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(events.iter().all(|e| e.group == group));

    let o = logs(&stack, &["backend/api", "--since", "10m", "--filter", "ERROR"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("third ERROR boom"));

    // Nothing was deployed for the worker: its group does not exist.
    let o = logs(&stack, &["billing/invoice-worker"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist") && stderr(&o).contains("invoice-worker"), "{}", stderr(&o));
    // A queue has no logs; an unknown component is named.
    let o = logs(&stack, &["notifications/email-queue"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("writes no logs"), "{}", stderr(&o));
    let o = logs(&stack, &["backend/nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn logs_follow_prints_new_events_once_and_stops_on_sigint_with_exit_0() {
    let (_dir, stack) = payments();
    let group = log_group(&stack, "notifications-sender");
    assert!(group.starts_with("/aws/lambda/"), "{group}");
    let t = now_ms() - 5_000;
    moto::seed(
        "eu-west-1",
        serde_json::json!([{"logs": group, "stream": "2026/12/03/[$LATEST]a", "events": [[t, "boot"]]}]),
    );

    let bin = assert_cmd::cargo::cargo_bin("panka");
    let mut child = Command::new(bin)
        .current_dir(&stack)
        .args(["logs", "-e", "dev", "notifications/sender", "--follow", "--poll", "1s"])
        .env("HOME", std::env::temp_dir().join("panka-test-home-does-not-exist"))
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("PANKA_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no line: {what}"));
    assert!(next("boot").ends_with("] boot"));
    moto::seed(
        "eu-west-1",
        serde_json::json!([{"logs": group, "stream": "2026/12/03/[$LATEST]b", "events": [[now_ms(), "new one"]]}]),
    );
    assert!(next("new one").ends_with("] new one"));
    // Several more polls: nothing is printed twice.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(rx.try_recv().is_err(), "an event was printed twice");

    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(10), "logs --follow did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

/// `plan` and `apply` with an S3 backend on moto, AWS calls to moto.
fn planner(stack: &Path, bucket: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = panka();
    cmd.current_dir(stack)
        .args(args)
        .env("PANKA_BACKEND_TYPE", "s3")
        .env("PANKA_BACKEND_BUCKET", bucket)
        .env("PANKA_BACKEND_REGION", "eu-west-1")
        .env("PANKA_BACKEND_ENDPOINT", moto::endpoint())
        .env("PANKA_LOCKS_TYPE", "local")
        .env("PULUMI_CONFIG_PASSPHRASE", "listener-test")
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .timeout(Duration::from_secs(60));
    cmd
}

/// Points the payments example's shared listener at `arn`.
fn use_listener(stack: &Path, arn: &str) {
    let file = stack.join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let old = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:listener/app/platform-dev/0a1b2c3d4e5f6a7b/8c9d0e1f2a3b4c5d";
    assert!(text.contains(old));
    std::fs::write(&file, text.replace(old, arn)).unwrap();
}

/// A copy of the payments example whose shared listener is a new load
/// balancer's on moto, with rules at these priorities; returns the
/// listener's ARN and the rules' ARNs by priority.
fn with_listener(rules: serde_json::Value) -> (tempfile::TempDir, PathBuf, String, serde_json::Value) {
    let (dir, stack) = payments();
    let name = moto::unique("shared");
    let out = moto::seed("eu-west-1", serde_json::json!([{"elbv2": name, "rules": rules}]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("aws_seed.py prints the listener");
    let listener = v["listener"].as_str().unwrap().to_string();
    use_listener(&stack, &listener);
    (dir, stack, listener, v["rules"].clone())
}

fn panka_tags(stack: &str, service: &str, component: &str) -> serde_json::Value {
    serde_json::json!({
        "panka:tenant": "default", "panka:stack": stack, "panka:environment": "dev",
        "panka:service": service, "panka:component": component,
    })
}

#[test]
fn plan_and_apply_refuse_a_listener_priority_another_rule_holds_and_pass_the_components_own() {
    let bucket = moto::unique("listener-state");
    moto::seed("eu-west-1", serde_json::json!([{"bucket": bucket}]));

    // Priority 100 (backend/api's) is held by a rule panka did not create,
    // 101 and 102 by others: the hint offers the next free ones.
    let (_dir, stack, _, rules) = with_listener(
        serde_json::json!([{"priority": 100}, {"priority": 101}, {"priority": 102, "tags": panka_tags("shop", "web", "front")}]),
    );
    let o = planner(&stack, &bucket, &["plan", "-e", "dev"]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("listener rule priority 100 of `backend/api`"), "{err}");
    assert!(err.contains("a rule panka did not create") && err.contains(rules["100"].as_str().unwrap()), "{err}");
    assert!(err.contains("infra.yaml"), "the error points at the priority: {err}");
    assert!(err.contains("(103, 104, 105)"), "{err}");
    // apply stops at the same check, before any lock, state or Pulumi.
    let o = planner(&stack, &bucket, &["apply", "-e", "dev", "--auto-approve"])
        .arg("--pulumi")
        .arg(support::pulumi::pulumi())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("listener rule priority 100"), "{}", stderr(&o));
    assert!(!stack.join(".panka").exists() || support::walk(&stack.join(".panka")).is_empty());

    // Held by another panka stack: named.
    let (_dir, stack, _, _) =
        with_listener(serde_json::json!([{"priority": 100, "tags": panka_tags("shop", "web", "front")}]));
    let o = planner(&stack, &bucket, &["plan", "-e", "dev"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("held on the shared listener by panka stack shop/dev component web/front"),
        "{}",
        stderr(&o)
    );

    // The component's own rule (a deployed stack planned again) is no conflict.
    let (_dir, stack, listener, _) =
        with_listener(serde_json::json!([{"priority": 100, "tags": panka_tags("payments", "backend", "api")}]));
    let o = planner(&stack, &bucket, &["plan", "-e", "dev"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("listener"), "{}", stderr(&o));

    // A listener AWS does not have: a warning, and the plan goes on.
    let (_dir, stack) = payments();
    use_listener(&stack, &listener.replace("listener/app/", "listener/app/gone-"));
    let o = planner(&stack, &bucket, &["plan", "-e", "dev"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not checked against the live listener"), "{}", stderr(&o));
}
