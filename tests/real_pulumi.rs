//! `panka apply` / `destroy` through the real Pulumi engine: the `pulumi`
//! CLI and `pulumi-language-yaml` built from their published Go modules
//! (`make pulumi`), the stand-in AWS provider serving the real pulumi-aws v7
//! schema (tests/stand-in-aws), the local backend and S3 + DynamoDB on moto.
//! Nothing here is skipped when the tools are missing: it fails.

#![allow(clippy::print_stderr)] // measured figures go to the test log

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use support::pulumi::{operations, resources, seed, seed_load_balancer, Operation};
use support::{copy_dir, moto, panka, stderr, stdout, wait_exit, walk};

const PASSPHRASE: &str = "correct horse battery staple";

/// A copy of a stack in a temp dir, with its own fake cloud.
struct Fixture {
    _dir: tempfile::TempDir,
    stack: PathBuf,
    cloud: PathBuf,
    name: String,
    env: Vec<(String, String)>,
}

impl Fixture {
    fn example(example: &str) -> Fixture {
        let f = Fixture::empty(example);
        copy_dir(&support::root().join("examples").join(example), &f.stack);
        f
    }

    fn empty(name: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join(name);
        std::fs::create_dir_all(&stack).unwrap();
        let cloud = dir.path().join("fake-cloud");
        std::fs::create_dir_all(&cloud).unwrap();
        let mut env = support::pulumi::env(&cloud);
        env.push(("PULUMI_CONFIG_PASSPHRASE".into(), PASSPHRASE.into()));
        Fixture { _dir: dir, stack, cloud, name: name.to_string(), env }
    }

    fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The S3 state backend (Pulumi's too) and DynamoDB locks, on a new
    /// bucket and table of the moto server; returns them.
    fn on_s3(self, rt: &tokio::runtime::Runtime) -> (Self, String, String) {
        let (bucket, table) = rt.block_on(async { (moto::new_bucket().await, moto::new_table().await) });
        let endpoint = moto::endpoint();
        let f = self
            .with_env("PANKA_BACKEND_TYPE", "s3")
            .with_env("PANKA_BACKEND_BUCKET", &bucket)
            .with_env("PANKA_BACKEND_REGION", "us-east-1")
            .with_env("PANKA_BACKEND_ENDPOINT", &endpoint)
            .with_env("PANKA_LOCKS_TYPE", "dynamodb")
            .with_env("PANKA_LOCKS_TABLE", &table)
            .with_env("PANKA_LOCKS_REGION", "us-east-1")
            .with_env("PANKA_LOCKS_ENDPOINT", &endpoint)
            .with_env("AWS_ACCESS_KEY_ID", "testing")
            .with_env("AWS_SECRET_ACCESS_KEY", "testing")
            .with_env("AWS_REGION", "us-east-1");
        (f, bucket, table)
    }

    fn cmd(&self, args: &[&str], extra: &[(&str, &str)]) -> assert_cmd::Command {
        let mut cmd = panka();
        cmd.current_dir(&self.stack).arg("--pulumi").arg(support::pulumi::pulumi()).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.timeout(Duration::from_secs(600));
        cmd
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.cmd(args, extra).output().unwrap()
    }

    /// `panka apply --auto-approve --output json`, expected to exit `code`.
    fn apply(&self, code: i32, extra: &[(&str, &str)]) -> Report {
        let o = self.run(&["apply", "--auto-approve", "--output", "json"], extra);
        assert_eq!(o.status.code(), Some(code), "stderr:\n{}\nstdout:\n{}", stderr(&o), stdout(&o));
        report(&o)
    }

    fn state(&self) -> State {
        let path = self.stack.join(".panka/stacks").join(&self.name).join("dev/state.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn ops(&self) -> Vec<Operation> {
        operations(&self.cloud)
    }

    /// Resources of `type_token` in the fake cloud now.
    fn live(&self, type_token: &str) -> Vec<Value> {
        resources(&self.cloud).into_iter().filter(|r| r["type"] == type_token).collect()
    }

    fn edit(&self, rel: &str, edit: impl FnOnce(String) -> String) {
        let path = self.stack.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    /// The Pulumi stacks in the local DIY backend.
    fn pulumi_stacks(&self) -> Vec<String> {
        let dir = self.stack.join(".panka/stacks").join(&self.name).join("dev/pulumi/.pulumi/stacks");
        let mut out = Vec::new();
        for project in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            for s in std::fs::read_dir(project.path()).into_iter().flatten().flatten() {
                let n = s.file_name().to_string_lossy().into_owned();
                if n.ends_with(".json") {
                    out.push(format!("{}/{}", project.file_name().to_string_lossy(), n.trim_end_matches(".json")));
                }
            }
        }
        out.sort();
        out
    }
}

#[derive(Debug, Deserialize)]
struct State {
    components: BTreeMap<String, ComponentState>,
}

#[derive(Debug, Deserialize)]
struct ComponentState {
    status: String,
    outputs: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Report {
    status: String,
    counts: Counts,
    components: Vec<ComponentReport>,
}

#[derive(Debug, Deserialize)]
struct Counts {
    created: usize,
    updated: usize,
    deleted: usize,
    failed: usize,
}

#[derive(Debug, Deserialize)]
struct ComponentReport {
    component: String,
    outcome: String,
    #[serde(default)]
    error: Option<String>,
}

/// The run's report: the one JSON document on stdout (progress goes to stderr).
fn report(o: &Output) -> Report {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

fn count(ops: &[Operation], op: &str) -> usize {
    ops.iter().filter(|o| o.op == op).count()
}

/// Nothing was created twice: per resource (URN), creates never exceed its
/// deletes plus one. (A replacement creates the new resource before it
/// deletes the old one, under the same URN and often the same id, as ECS
/// task definition revisions do.)
fn assert_nothing_created_twice(ops: &[Operation]) {
    let mut balance: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for o in ops {
        let entry = balance.entry((o.type_token.clone(), o.urn.clone())).or_default();
        match o.op.as_str() {
            "create" => entry.0 += 1,
            "delete" => entry.1 += 1,
            _ => {}
        }
    }
    for (key, (creates, deletes)) in balance {
        assert!(creates <= deletes + 1, "{key:?} created {creates} times, deleted {deletes} times: {ops:#?}");
    }
}

#[test]
fn minimal_on_the_local_backend_applies_is_a_no_op_twice_reapplies_a_version_change_and_destroys_everything() {
    let f = Fixture::example("minimal");
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "succeeded");
    // The shared program (the created cluster), the queue and the worker.
    assert_eq!(r.counts.created, 3, "{r:?}");
    let state = f.state();
    assert_eq!(state.components["_stack/shared"].status, "deployed");
    assert!(state.components["orders/jobs"].outputs["url"].as_str().unwrap().starts_with("https://sqs."));
    assert_eq!(f.live("aws:ecs/cluster:Cluster").len(), 1, "the shared program created the cluster");
    let services = f.live("aws:ecs/service:Service");
    assert_eq!(services.len(), 1);
    // The queue's URL reached the worker's container through a StackReference.
    let task = &f.live("aws:ecs/taskDefinition:TaskDefinition")[0];
    let defs: Value =
        serde_json::from_str(task["inputs"]["containerDefinitions"].as_str().expect("a JSON string")).unwrap();
    assert_eq!(defs[0]["environment"][0]["name"], "QUEUE_URL");
    assert_eq!(defs[0]["environment"][0]["value"], state.components["orders/jobs"].outputs["url"]);
    let before = f.ops().len();

    // Nothing changed: no pulumi up, no provider operation.
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "no-changes", "{r:?}");
    assert_eq!(f.ops().len(), before);

    // VERSION is used by the worker only.
    f.edit("stack.yaml", |t| t.replace("VERSION: \"1.0.0\"", "VERSION: \"1.1.0\""));
    let r = f.apply(0, &[]);
    let changed: Vec<&str> = r.components.iter().map(|c| c.component.as_str()).collect();
    assert_eq!(changed, ["orders/worker"], "{r:?}");
    assert_eq!(r.counts.updated, 1);
    let task = &f.live("aws:ecs/taskDefinition:TaskDefinition")[0];
    assert!(task["inputs"]["containerDefinitions"].as_str().unwrap().contains("orders-worker:1.1.0"));
    assert_nothing_created_twice(&f.ops());

    let o = f.run(&["destroy", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&o).counts.deleted, 3);
    assert!(resources(&f.cloud).is_empty(), "left in the fake cloud: {:#?}", resources(&f.cloud));
    assert!(f.pulumi_stacks().is_empty(), "Pulumi stacks left: {:?}", f.pulumi_stacks());
    assert_nothing_created_twice(&f.ops());
}

#[test]
fn payments_on_s3_and_dynamodb_deploys_every_kind_with_typed_references_then_destroys() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (f, bucket, table) = Fixture::example("payments").on_s3(&rt);
    // What the platform team provides in dev: the cluster and the shared ALB.
    seed(
        &f.cloud,
        "aws:ecs/cluster:Cluster",
        "platform-dev",
        serde_json::json!({"name": "platform-dev", "arn": "arn:aws:ecs:eu-west-1:111111111111:cluster/platform-dev"}),
    );
    seed_load_balancer(&f.cloud, "arn:aws:elasticloadbalancing:eu-west-1:111111111111:listener/app/platform-dev/0a1b2c3d4e5f6a7b/8c9d0e1f2a3b4c5d");
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "succeeded", "{r:?}");
    assert_eq!(r.counts.failed, 0);
    let created = r.counts.created;
    assert!(created >= 10, "{r:?}");
    // Pulumi's state went to the stack's S3 prefix, nothing local.
    let keys = rt.block_on(async {
        let out = moto::s3().await.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    assert!(keys.iter().any(|k| k == "stacks/payments/dev/state.json"), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("stacks/payments/dev/pulumi/.pulumi/stacks/backend-api/")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(".pulumi/locks/") && k.ends_with(".json")), "{keys:?}");
    assert!(!f.stack.join(".panka").exists(), "nothing written locally");
    // The database port is a number; every container environment value is
    // a string, as ECS requires (the stand-in checks that against the ECS
    // API model too).
    for task in f.live("aws:ecs/taskDefinition:TaskDefinition") {
        let defs: Value = serde_json::from_str(task["inputs"]["containerDefinitions"].as_str().unwrap()).unwrap();
        for e in defs[0]["environment"].as_array().into_iter().flatten() {
            assert!(e["value"].is_string(), "{e} in {}", task["inputs"]["family"]);
        }
    }
    status_live_reads_what_aws_says(&f);
    let o = f.run(&["destroy", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&o).counts.deleted, created);
    assert!(resources(&f.cloud).is_empty(), "left in the fake cloud: {:#?}", resources(&f.cloud));
    let keys = rt.block_on(async {
        let out = moto::s3().await.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    assert!(!keys.iter().any(|k| k.contains(".pulumi/stacks/") && k.ends_with(".json")), "{keys:?}");
    let items = rt.block_on(async { moto::dynamodb().await.scan().table_name(&table).send().await.unwrap().count() });
    assert_eq!(items, 0, "the lock is released");
    assert_nothing_created_twice(&f.ops());
}

/// `status --live` of the deployed payments stack asks ECS, Lambda and RDS
/// (moto) by the names the programs gave the resources — read here from
/// the fake cloud, where the stand-in keeps them, and seeded into moto with
/// boto3 — and marks what AWS does not have as missing.
fn status_live_reads_what_aws_says(f: &Fixture) {
    let name = |token: &str, words: &[&str]| -> (String, Value) {
        let r = f
            .live(token)
            .into_iter()
            .find(|r| r["inputs"]["name"].as_str().is_some_and(|n| words.iter().all(|w| n.contains(w))))
            .unwrap_or_else(|| panic!("no {token} named with {words:?} in the fake cloud"));
        (r["inputs"]["name"].as_str().unwrap().to_string(), r["inputs"].clone())
    };
    let (service, inputs) = name("aws:ecs/service:Service", &["backend", "api"]);
    let cluster = inputs["cluster"].as_str().unwrap().to_string();
    let (function, _) = name("aws:lambda/function:Function", &["sender"]);
    moto::seed(
        "eu-west-1",
        serde_json::json!([
            {"ecs": cluster, "service": service, "desired": 3},
            {"lambda": function},
        ]),
    );
    let endpoint = moto::endpoint();
    let o = f.run(&["status", "--live", "--output", "json"], &[("AWS_ENDPOINT_URL", endpoint.as_str())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: panka::cli::history::StatusView =
        serde_json::from_slice(&o.stdout).expect("status --output json is panka's StatusView");
    let live = |component: &str| -> panka::live::health::LiveHealth {
        let c = s.components.iter().find(|c| c.component == component).unwrap();
        c.live.clone().unwrap_or_else(|| panic!("{component} has no live health: {s:#?}"))
    };
    use panka::live::health::LiveHealth;
    match live("backend/api") {
        LiveHealth::EcsService { status, desired, service: s, .. } => {
            assert_eq!((status.as_str(), desired, s), ("ACTIVE", 3, service.clone()))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(live("billing/invoice-worker"), LiveHealth::Missing { what, .. } if what == "ECS service"));
    assert!(matches!(live("notifications/sender"), LiveHealth::Lambda { state: Some(s), .. } if s == "Active"));
    assert!(matches!(live("backend/database"), LiveHealth::Missing { what, .. } if what == "RDS instance"));
    let queue = s.components.iter().find(|c| c.component == "notifications/email-queue").unwrap();
    assert!(queue.live.is_none(), "a queue has no live health: {queue:?}");
    assert!(s.components.iter().all(|c| c.last_deployment.as_ref().is_some_and(|d| d.operation == "apply")));
    // The deployment record went to S3 beside the state.
    let h: panka::cli::history::History =
        serde_json::from_slice(&f.run(&["history", "--output", "json"], &[]).stdout).expect("History");
    assert_eq!(h.deployments.len(), 1);
    assert_eq!((h.deployments[0].operation.as_str(), h.deployments[0].status.as_str()), ("apply", "succeeded"));
    let text = stdout(&f.run(&["status", "--live"], &[("AWS_ENDPOINT_URL", endpoint.as_str())]));
    assert!(text.contains("live: ECS ACTIVE: ") && text.contains("/3 running"), "{text}");
    assert!(text.contains("live: Lambda Active"), "{text}");
}

#[test]
fn the_init_scaffold_applies_and_destroys_on_the_local_backend() {
    init_scaffold_applies_and_destroys(Fixture::empty("shop"));
}

#[test]
fn the_init_scaffold_applies_and_destroys_on_s3_and_dynamodb() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (f, bucket, _) = Fixture::empty("shop").on_s3(&rt);
    init_scaffold_applies_and_destroys(f);
    let keys = rt.block_on(async {
        let out = moto::s3().await.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    });
    assert!(keys.iter().any(|k| k.starts_with("stacks/shop/dev/pulumi/.pulumi/")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(".pulumi/stacks/") && k.ends_with(".json")), "{keys:?}");
}

/// `panka init shop` in the fixture, with the load balancer its scaffold
/// names seeded in the fake cloud.
fn scaffold_shop(f: &Fixture) {
    let o = f.cmd(&["init", "shop"], &[]).current_dir(f.stack.parent().unwrap()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(f.stack.join("stack.yaml")).unwrap();
    let listener =
        text.lines().find_map(|l| l.trim().strip_prefix("listenerArn: ")).expect("the scaffold names a listener");
    seed_load_balancer(&f.cloud, listener.trim_matches('"'));
}

fn init_scaffold_applies_and_destroys(f: Fixture) {
    scaffold_shop(&f);
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "succeeded", "{r:?}");
    assert!(r.counts.created >= 1);
    let o = f.run(&["destroy", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(resources(&f.cloud).is_empty(), "{:#?}", resources(&f.cloud));
}

#[test]
fn a_provider_failure_in_wave_two_exits_4_with_the_providers_error_and_the_next_apply_completes() {
    let f = Fixture::example("minimal");
    let fail = [
        ("FAKE_AWS_FAIL", "create aws:ecs/service:Service"),
        ("FAKE_AWS_FAIL_MESSAGE", "InvalidParameterException: the injected fault"),
    ];
    let r = f.apply(4, &fail);
    assert_eq!(r.status, "failed");
    let worker = r.components.iter().find(|c| c.component == "orders/worker").unwrap();
    assert_eq!(worker.outcome, "failed");
    let error = worker.error.as_deref().unwrap_or_default();
    assert!(error.contains("InvalidParameterException: the injected fault"), "{error}");
    assert_eq!(f.state().components["orders/jobs"].status, "deployed");
    // The fault is gone: the next apply re-runs only the worker.
    let r = f.apply(0, &[]);
    let changed: Vec<&str> = r.components.iter().map(|c| c.component.as_str()).collect();
    assert_eq!(changed, ["orders/worker"], "{r:?}");
    assert_nothing_created_twice(&f.ops());
}

#[test]
fn a_failed_destroy_says_why() {
    let f = Fixture::example("minimal");
    f.apply(0, &[]);
    let o = f.run(
        &["destroy", "--auto-approve"],
        &[("FAKE_AWS_FAIL", "delete aws:sqs/queue:Queue"), ("FAKE_AWS_FAIL_MESSAGE", "AccessDenied: not today")],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("AccessDenied: not today"), "{}", stderr(&o));
}

/// Spawns panka in the background (its own process group, so the test can
/// kill the whole tree).
fn spawn(f: &Fixture, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_panka"));
    cmd.current_dir(&f.stack)
        .env("HOME", std::env::temp_dir().join("panka-test-home-does-not-exist"))
        .arg("--pulumi")
        .arg(support::pulumi::pulumi())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    for (k, v) in &f.env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Waits until the stand-in has started (or done) `op` on a resource of `type_token`.
fn wait_for_op(f: &Fixture, op: &str, type_token: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f.ops().iter().any(|o| o.op == op && o.type_token == type_token) {
        assert!(Instant::now() < deadline, "no `{op}` of {type_token} within 120s: {:#?}", f.ops());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose command line mentions `needle` (from /proc).
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if String::from_utf8_lossy(&environ).contains(needle) {
            out.push(format!("{} {text}", e.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn sigint_mid_up_is_forwarded_to_pulumi_and_the_next_apply_completes() {
    let f = Fixture::example("minimal");
    // The worker's ECS service takes 3 s: SIGINT arrives while it is created.
    let child = spawn(&f, &["apply", "--auto-approve"], &[("FAKE_AWS_DELAY", "create aws:ecs/service:Service=3")]);
    wait_for_op(&f, "create-start", "aws:ecs/service:Service");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (status, out) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupt"), "{}", stderr(&out));
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "succeeded", "{r:?}");
    assert_eq!(f.live("aws:ecs/service:Service").len(), 1);
    assert_nothing_created_twice(&f.ops());
}

#[test]
fn sigkill_of_panka_mid_up_ends_its_pulumi_and_the_next_apply_takes_over_and_completes() {
    let f = Fixture::example("minimal");
    let lease = ("PANKA_LOCKS_LEASE", "3s");
    let (child, marker) = apply_until_the_service_is_being_created(&f, 4, lease);
    // The engine, its YAML language host and the provider are running.
    let running = processes_with(&marker);
    for name in ["pulumi", "pulumi-language-yaml", "pulumi-resource-aws"] {
        assert!(
            running.iter().any(|p| p.split(' ').nth(1).is_some_and(|cmd| cmd.ends_with(name))),
            "no {name} in {running:#?}"
        );
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let (status, _) = wait_exit(child, 10);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // panka's pulumi, its YAML host and provider end with it (the engine
    // gets SIGINT as its parent-death signal and stops gracefully).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = processes_with(&marker);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running 60 s after panka died: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(f.state().components["orders/worker"].status, "in-progress");
    let o = f.run(&["apply", "--auto-approve", "--output", "json", "--lock-timeout", "60s"], &[lease]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("took over"), "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(r.status, "succeeded");
    assert_eq!(f.live("aws:ecs/service:Service").len(), 1);
    assert_eq!(f.state().components["orders/worker"].status, "deployed");
    assert_nothing_created_twice(&f.ops());
    assert_eq!(count(&f.ops(), "create"), f.live_count(), "every create is live once");
}

impl Fixture {
    fn live_count(&self) -> usize {
        resources(&self.cloud).len()
    }
}

#[test]
fn secrets_stay_out_of_output_state_and_history() {
    let f = Fixture::example("minimal");
    let o = f.run(&["apply", "--auto-approve", "-v"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut seen = stdout(&o) + &stderr(&o);
    for e in walk(&f.stack.join(".panka")) {
        seen.push_str(&String::from_utf8_lossy(&std::fs::read(e).unwrap()));
    }
    assert!(!seen.contains(PASSPHRASE), "the passphrase leaked");
}

/// Starts `apply` of the minimal example in the background, its worker's ECS
/// service taking `secs` to create, and returns once that create started,
/// with the environment marker every process of the run carries.
fn apply_until_the_service_is_being_created(
    f: &Fixture,
    secs: u32,
    lease: (&str, &str),
) -> (std::process::Child, String) {
    let run_id = f.cloud.display().to_string();
    let delay = format!("create aws:ecs/service:Service={secs}");
    let child =
        spawn(f, &["apply", "--auto-approve"], &[("FAKE_AWS_DELAY", &delay), lease, ("PANKA_TEST_RUN", &run_id)]);
    wait_for_op(f, "create-start", "aws:ecs/service:Service");
    (child, format!("PANKA_TEST_RUN={run_id}"))
}

/// What SPEC §9 calls provably dead: the whole tree is killed (panka, its
/// pulumi, the YAML host and the provider), so Pulumi's own lock stays
/// behind naming this host and a pid that is gone. The next apply takes
/// over panka's lock after the lease, clears Pulumi's lock itself (never a
/// live one's), and completes without creating anything twice.
#[test]
fn sigkill_of_the_whole_tree_leaves_pulumis_lock_which_the_next_apply_clears_as_provably_dead() {
    let f = Fixture::example("minimal");
    let lease = ("PANKA_LOCKS_LEASE", "3s");
    let (child, marker) = apply_until_the_service_is_being_created(&f, 30, lease);
    // Every process of the run, at once.
    let pids: Vec<i32> = processes_with(&marker).iter().filter_map(|p| p.split(' ').next()?.parse().ok()).collect();
    assert!(pids.len() >= 4, "panka, pulumi, its YAML host and provider: {pids:?}");
    for pid in &pids {
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    let (status, _) = wait_exit(child, 10);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let locks = f.stack.join(".panka/stacks/minimal/dev/pulumi/.pulumi/locks/organization/orders-worker/dev");
    let json = |d: &Path| {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    assert_eq!(json(&locks), 1, "the killed pulumi left its lock at {}", locks.display());

    let o = f.run(&["apply", "--auto-approve", "--output", "json", "--lock-timeout", "60s"], &[lease]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("took over"), "{}", stderr(&o));
    assert!(stderr(&o).contains("clearing the Pulumi lock of"), "{}", stderr(&o));
    assert_eq!(json(&locks), 0);
    assert_eq!(f.live("aws:ecs/service:Service").len(), 1);
    assert_eq!(f.state().components["orders/worker"].status, "deployed");
    assert_nothing_created_twice(&f.ops());
}

/// A Pulumi lock held by a process panka cannot prove dead (here: one on
/// another machine) is never cleared: the run that took over stops with
/// exit 3 and the exact `pulumi cancel` command, and Pulumi's lock stays.
#[test]
fn a_pulumi_lock_panka_cannot_prove_dead_is_never_cleared_and_exits_3_with_the_cancel_command() {
    let f = Fixture::example("minimal");
    let lease = ("PANKA_LOCKS_LEASE", "3s");
    let (child, marker) = apply_until_the_service_is_being_created(&f, 3, lease);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = wait_exit(child, 10);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !processes_with(&marker).is_empty() {
        assert!(Instant::now() < deadline, "{:#?}", processes_with(&marker));
        std::thread::sleep(Duration::from_millis(100));
    }
    // A pulumi on another machine holds the worker's Pulumi stack.
    let locks = f.stack.join(".panka/stacks/minimal/dev/pulumi/.pulumi/locks/organization/orders-worker/dev");
    std::fs::create_dir_all(&locks).unwrap();
    let planted = locks.join("5f0c3f0e-0000-4000-8000-000000000001.json");
    std::fs::write(
        &planted,
        r#"{"pid":4242,"username":"ci","hostname":"build-agent-7","timestamp":"2026-12-03T09:00:00Z"}"#,
    )
    .unwrap();
    let o = f.run(
        &["apply", "--auto-approve", "--output", "json", "--lock-timeout", "60s"],
        &[lease, ("PANKA_PULUMI_LOCK_WAIT", "3s")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report(&o);
    let worker = r.components.iter().find(|c| c.component == "orders/worker").unwrap();
    let error = worker.error.as_deref().unwrap_or_default();
    assert!(error.contains("ci@build-agent-7 (pid 4242)") && error.contains("cannot prove dead"), "{error}");
    assert!(error.contains("pulumi cancel --yes --stack organization/orders-worker/dev"), "{error}");
    assert!(planted.exists(), "the other machine's lock is untouched");
    assert_nothing_created_twice(&f.ops());
}

/// The minimal example with DynamoDB locks reached through a fault proxy
/// (state and Pulumi's backend stay local).
fn with_locks_behind(f: Fixture, rt: &tokio::runtime::Runtime, proxy: &support::proxy::Proxy) -> (Fixture, String) {
    let table = rt.block_on(moto::new_table());
    let f = f
        .with_env("PANKA_LOCKS_TYPE", "dynamodb")
        .with_env("PANKA_LOCKS_TABLE", &table)
        .with_env("PANKA_LOCKS_REGION", "us-east-1")
        .with_env("PANKA_LOCKS_ENDPOINT", &proxy.endpoint())
        .with_env("PANKA_AWS_TIMEOUT", "3s")
        .with_env("AWS_ACCESS_KEY_ID", "testing")
        .with_env("AWS_SECRET_ACCESS_KEY", "testing")
        .with_env("AWS_REGION", "us-east-1");
    (f, table)
}

/// Issue 11, failure 1, end to end: the lock table goes dark while the real
/// engine creates a service. At the lease deadline panka starts nothing,
/// writes nothing, interrupts its `pulumi` (which ends gracefully and
/// clears Pulumi's own lock) and exits 3 with its summary; the component
/// finishing after the deadline is in the rescue copy, not in the state.
/// The next run takes the abandoned lock over after watching it for a
/// lease and completes without creating anything twice.
#[test]
fn a_lock_table_black_holed_mid_up_interrupts_pulumi_writes_nothing_and_exits_3() {
    use support::proxy::{Action, Proxy, Rule};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = Proxy::start(&moto::endpoint());
    let (f, _table) = with_locks_behind(Fixture::example("minimal"), &rt, &proxy);
    let lease = ("PANKA_LOCKS_LEASE", "4s");
    let (child, marker) = apply_until_the_service_is_being_created(&f, 6, lease);
    proxy.add(Rule::all(Action::BlackHole));
    let dark = Instant::now();
    let (status, out) = wait_exit(child, 120);
    let took = dark.elapsed();
    assert_eq!(status.code(), Some(3), "{}\n{}", stderr(&out), stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("lock-lost") && err.contains("interrupting the running pulumi"), "{err}");
    assert!(stdout(&out).contains("stopped: the lock was lost"), "{}", stdout(&out));
    // The deadline is at most 3 s (lease − a quarter) after the last heartbeat;
    // the engine then finishes the 6 s create in flight and stops.
    assert!(took < Duration::from_secs(3 + 6 + 15), "exit 3 after {took:?}");
    eprintln!("FIGURE black-hole-to-exit-3-s {:.1} (lease 4s, create in flight 6s)", took.as_secs_f64());
    assert!(processes_with(&marker).is_empty(), "{:#?}", processes_with(&marker));
    assert_eq!(f.state().components["orders/worker"].status, "in-progress", "nothing written after the deadline");
    let rescue: Vec<PathBuf> = std::fs::read_dir(&f.stack)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("panka-state-"))
        .collect();
    assert_eq!(rescue.len(), 1, "{rescue:?}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&rescue[0]).unwrap()).unwrap();
    assert_ne!(saved["components"]["orders/worker"]["status"], "in-progress", "{saved}");

    proxy.clear();
    let o = f.run(&["apply", "--auto-approve", "--output", "json", "--lock-timeout", "60s"], &[lease]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("took over"), "{}", stderr(&o));
    assert_eq!(f.live("aws:ecs/service:Service").len(), 1);
    assert_eq!(f.state().components["orders/worker"].status, "deployed");
    assert_nothing_created_twice(&f.ops());
}

/// A state write that fails mid-run (S3 refuses every write of
/// `state.json` once the service is being created) ends with the run's
/// summary and the saved copy, which also holds what finished afterwards.
#[test]
fn a_state_write_failure_mid_run_ends_with_the_summary_and_a_rescue_copy_with_later_results() {
    use support::proxy::{Action, Proxy, Rule};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = Proxy::start(&moto::endpoint());
    let (f, _, _) = Fixture::example("minimal").on_s3(&rt);
    let f = f.with_env("PANKA_BACKEND_ENDPOINT", &proxy.endpoint());
    let (child, _) = apply_until_the_service_is_being_created(&f, 3, ("PANKA_LOCKS_LEASE", "120s"));
    proxy.add(Rule::new("PutObject", Action::Error(403)).containing("state.json"));
    let (status, out) = wait_exit(child, 120);
    assert_eq!(status.code(), Some(1), "{}\n{}", stderr(&out), stdout(&out));
    let summary = stdout(&out);
    assert!(summary.contains("apply of `minimal` (dev) failed"), "{summary}");
    assert!(summary.contains("orders/worker"), "{summary}");
    let err = stderr(&out);
    assert!(err.contains("AccessDenied") || err.contains("access denied"), "{err}");
    let rescue = err
        .lines()
        .find_map(|l| l.split("saved to `").nth(1).and_then(|r| r.split('`').next()))
        .unwrap_or_else(|| panic!("no rescue path in: {err}"));
    let saved: Value = serde_json::from_slice(&std::fs::read(rescue).unwrap()).unwrap();
    assert_eq!(saved["components"]["orders/worker"]["status"], "deployed", "{saved}");
    assert!(err.contains("panka state push"), "{err}");
}

/// A passphrase written into the config as a bare value is refused with
/// exit 2 before anything runs, and never echoed.
#[test]
fn a_bare_passphrase_in_the_config_is_refused_with_exit_2_and_not_echoed() {
    let f = Fixture::example("minimal");
    let o = f.run(&["apply", "--auto-approve"], &[("PANKA_PULUMI_PASSPHRASE", "hunter2-is-my-passphrase")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let all = stdout(&o) + &stderr(&o);
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("not a passphrase source"), "{all}");
    assert!(f.ops().is_empty(), "nothing ran");
}

/// SIGTERM (a cancelled CI job) while the lock table is unreachable: the
/// interrupt reaches `pulumi`, and releasing the lock gives up after one
/// call timeout instead of hanging; the run ends with exit 130.
#[test]
fn sigterm_with_the_lock_table_black_holed_still_ends_promptly() {
    use support::proxy::{Action, Proxy, Rule};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = Proxy::start(&moto::endpoint());
    let (f, _table) = with_locks_behind(Fixture::example("minimal"), &rt, &proxy);
    let lease = ("PANKA_LOCKS_LEASE", "20s");
    let (child, marker) = apply_until_the_service_is_being_created(&f, 2, lease);
    proxy.add(Rule::all(Action::BlackHole));
    let t = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (status, out) = wait_exit(child, 60);
    let took = t.elapsed();
    assert_eq!(status.code(), Some(130), "{}", stderr(&out));
    // The create in flight (2 s), then one bounded release (a quarter lease, 5 s).
    assert!(took < Duration::from_secs(2 + 5 + 8), "ended after {took:?}");
    assert!(processes_with(&marker).is_empty());
    eprintln!("FIGURE sigterm-with-dark-table-to-exit-s {:.1}", took.as_secs_f64());
    proxy.clear();
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Ana", "-c", "user.email=ana@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every apply and destroy that changes something leaves a deployment
/// record with its git commit, branch and dirty flag; `history` lists them
/// newest first (filtered by component), `status` shows per component what
/// is deployed and its last deployment, with secrets never shown.
#[test]
fn history_and_status_show_each_deployment_with_its_commit() {
    let f = Fixture::example("minimal");
    git(&f.stack, &["init", "-q", "-b", "main"]);
    git(&f.stack, &["add", "."]);
    git(&f.stack, &["commit", "-q", "-m", "v1"]);
    let v1 = git(&f.stack, &["rev-parse", "HEAD"]);
    f.apply(0, &[]);
    f.edit("stack.yaml", |t| t.replace("VERSION: \"1.0.0\"", "VERSION: \"1.1.0\""));
    // Applied before committing: the record says the tree was dirty.
    f.apply(0, &[]);
    git(&f.stack, &["commit", "-q", "-am", "v1.1"]);

    let o = f.run(&["history", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = h["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{h:#}");
    assert_eq!((d[0]["operation"].as_str(), d[0]["status"].as_str()), (Some("apply"), Some("succeeded")));
    assert_eq!(d[0]["git_commit"], v1.as_str());
    assert_eq!(d[0]["git_branch"], "main");
    assert_eq!(d[0]["git_dirty"], true);
    assert_eq!(d[1]["git_dirty"], false);
    assert_eq!(d[0]["components"], serde_json::json!(["orders/worker"]));
    assert!(d[1]["components"].as_array().unwrap().len() >= 3, "{h:#}");
    let only_jobs = f.run(&["history", "--component", "orders/jobs", "--output", "json"], &[]);
    let only_jobs: Value = serde_json::from_slice(&only_jobs.stdout).unwrap();
    assert_eq!(only_jobs["deployments"].as_array().unwrap().len(), 1, "{only_jobs:#}");

    // The full record: the command line and per component the config hash.
    let id = d[0]["id"].as_str().unwrap();
    let record_path = f.stack.join(format!(".panka/stacks/minimal/dev/deployments/{id}.json"));
    let record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    assert!(record["command"].as_array().unwrap().iter().any(|a| a == "apply"), "{record:#}");
    let worker = &record["components"][0];
    assert_eq!(worker["outcome"], "updated");
    assert_eq!(
        worker["config_hash"],
        serde_json::to_value(&f.state_raw()["components"]["orders/worker"]["config_hash"]).unwrap()
    );

    let o = f.run(&["status", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let worker = s["components"].as_array().unwrap().iter().find(|c| c["component"] == "orders/worker").unwrap();
    assert_eq!(worker["status"], "deployed");
    assert_eq!(worker["last_deployment"]["id"], id);
    let jobs = s["components"].as_array().unwrap().iter().find(|c| c["component"] == "orders/jobs").unwrap();
    assert_eq!(jobs["last_deployment"]["id"], d[1]["id"]);
    let text = stdout(&f.run(&["status"], &[]));
    assert!(text.contains("orders/worker") && text.contains("lock: free"), "{text}");
    assert!(!text.contains(PASSPHRASE));

    let o = f.run(&["destroy", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let h: Value = serde_json::from_slice(&f.run(&["history", "--output", "json"], &[]).stdout).unwrap();
    assert_eq!(h["deployments"][0]["operation"], "destroy");
    assert_eq!(h["deployments"][0]["git_commit"], git(&f.stack, &["rev-parse", "HEAD"]).as_str());
}

impl Fixture {
    fn state_raw(&self) -> Value {
        let path = self.stack.join(".panka/stacks").join(&self.name).join("dev/state.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }
}

/// Deploy v1, then v2; `rollback --steps 1` puts back v1's recorded program
/// and configuration (checked in the fake cloud, not in panka's record),
/// whatever the files say now; history then lists three deployments with
/// their commits; impossible targets are refused with exit 2.
#[test]
fn rollback_restores_the_recorded_configuration_through_the_real_engine() {
    let f = Fixture::example("minimal");
    git(&f.stack, &["init", "-q", "-b", "main"]);
    git(&f.stack, &["add", "."]);
    git(&f.stack, &["commit", "-q", "-m", "v1"]);
    f.apply(0, &[]);
    let v1_hash = f.state_raw()["components"]["orders/worker"]["config_hash"].clone();
    f.edit("stack.yaml", |t| t.replace("VERSION: \"1.0.0\"", "VERSION: \"2.0.0\""));
    git(&f.stack, &["commit", "-q", "-am", "v2"]);
    f.apply(0, &[]);
    let image = |f: &Fixture| {
        f.live("aws:ecs/taskDefinition:TaskDefinition")[0]["inputs"]["containerDefinitions"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(image(&f).contains("orders-worker:2.0.0"));

    let o = f.run(&["rollback", "--steps", "5", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot go back 5"), "{}", stderr(&o));
    let o = f.run(&["rollback", "--to", "no-such-id", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let o = f.run(&["rollback", "--steps", "1", "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(r.status, "succeeded", "{r:?}");
    let changed: Vec<&str> = r.components.iter().map(|c| c.component.as_str()).collect();
    assert_eq!(changed, ["orders/worker"]);
    // The fake cloud runs v1 again, though stack.yaml still says 2.0.0.
    assert!(image(&f).contains("orders-worker:1.0.0"), "{}", image(&f));
    assert_eq!(f.state_raw()["components"]["orders/worker"]["config_hash"], v1_hash);
    assert_nothing_created_twice(&f.ops());

    let h: Value = serde_json::from_slice(&f.run(&["history", "--output", "json"], &[]).stdout).unwrap();
    let d = h["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 3, "{h:#}");
    let ops: Vec<&str> = d.iter().map(|x| x["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["rollback", "apply", "apply"]);
    assert!(d.iter().all(|x| x["git_commit"].as_str().is_some_and(|c| c.len() == 40)), "{h:#}");

    // Rolling back again, to the rollback's own target, changes nothing.
    let o = f.run(&["rollback", "--to", d[2]["id"].as_str().unwrap(), "--auto-approve", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&o).status, "no-changes");
}

/// A queue edited out of band (its record in the fake cloud) is reported by
/// `drift` with the field and both values, exit 6 with
/// `--detailed-exitcode`; drift writes neither `state.json` nor Pulumi's
/// state (a second run still sees it), and `status` shows the result.
#[test]
fn drift_finds_an_out_of_band_edit_without_writing_any_state() {
    let f = Fixture::example("minimal");
    f.apply(0, &[]);
    let o = f.run(&["drift", "--detailed-exitcode", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "in sync: {}", stderr(&o));

    let queue = std::fs::read_dir(f.cloud.join("sqs/Queue"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.to_string_lossy().contains("dlq"))
        .unwrap();
    let mut record: Value = serde_json::from_slice(&std::fs::read(&queue).unwrap()).unwrap();
    let before = record["outputs"]["visibilityTimeoutSeconds"].clone();
    record["outputs"]["visibilityTimeoutSeconds"] = Value::from(999);
    std::fs::write(&queue, serde_json::to_vec(&record).unwrap()).unwrap();
    let serial = f.state_raw()["serial"].clone();

    for _ in 0..2 {
        let o = f.run(&["drift", "--detailed-exitcode", "--output", "json"], &[]);
        assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
        let typed: panka::deploy::drift::DriftReport = serde_json::from_slice(&o.stdout).expect("a DriftReport");
        assert_eq!(typed.drifted(), 1);
        let d: Value = serde_json::from_slice(&o.stdout).unwrap();
        let comps = d["components"].as_array().unwrap();
        let jobs = comps.iter().find(|c| c["component"] == "orders/jobs").unwrap();
        assert_eq!(jobs["drifted"], true, "{d:#}");
        let field = &jobs["resources"][0]["fields"][0];
        assert_eq!(jobs["resources"][0]["change"], "changed");
        assert_eq!(field["field"], "visibilityTimeoutSeconds");
        assert_eq!((field["recorded"].clone(), field["live"].clone()), (before.clone(), Value::from(999)));
        assert!(comps.iter().filter(|c| c["component"] != "orders/jobs").all(|c| c["drifted"] == false), "{d:#}");
    }
    assert_eq!(f.state_raw()["serial"], serial, "drift wrote state.json");
    let text = stdout(&f.run(&["drift"], &[]));
    assert!(text.contains("visibilityTimeoutSeconds") && text.contains("1 of 3 component(s) drifted"), "{text}");
    let s: Value = serde_json::from_slice(&f.run(&["status", "--output", "json"], &[]).stdout).unwrap();
    let jobs = s["components"].as_array().unwrap().iter().find(|c| c["component"] == "orders/jobs").unwrap();
    assert_eq!(jobs["drift"]["result"], "drifted", "{s:#}");

    // --remediate re-applies the drifted queue (refreshing first): the fake
    // cloud holds panka's value again, and the next check finds nothing.
    let o = f.run(&["drift", "--remediate", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(&o), stdout(&o));
    assert!(stdout(&o).contains("orders/jobs"), "{}", stdout(&o));
    let record: Value = serde_json::from_slice(&std::fs::read(&queue).unwrap()).unwrap();
    assert_eq!(record["outputs"]["visibilityTimeoutSeconds"], before, "{record:#}");
    let o = f.run(&["drift", "--detailed-exitcode"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_nothing_created_twice(&f.ops());
}

/// `plan --preview` shows Pulumi's resource-level changes below the plan:
/// an edited queue's property with both values (from `pulumi preview`), a
/// new component's resources, and a dependent of a changing upstream as
/// waiting for it; it writes nothing (no state, no engine step).
#[test]
fn plan_preview_shows_pulumis_resource_changes_and_writes_nothing() {
    let f = Fixture::example("minimal");
    f.apply(0, &[]);
    let ops = f.ops().len();
    let serial = f.state_raw()["serial"].clone();
    f.edit("services/orders/components/jobs/sqs.yaml", |t| {
        t.replace("visibilityTimeoutSeconds: 120", "visibilityTimeoutSeconds: 300")
    });
    f.edit("stack.yaml", |t| t.replace("VERSION: \"1.0.0\"", "VERSION: \"2.0.0\""));
    let extra = f.stack.join("services/orders/components/extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(
        extra.join("sqs.yaml"),
        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata:\n  name: extra\nspec:\n  visibilityTimeoutSeconds: 60\n",
    )
    .unwrap();

    let o = f.run(&["plan", "--preview", "--output", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(&o), stdout(&o));
    let plan: panka::plan::Plan = serde_json::from_slice(&o.stdout).expect("the plan with previews deserialises");
    let change = |name: &str| plan.changes.iter().find(|c| c.component == name).unwrap_or_else(|| panic!("{name}"));
    let jobs = change("orders/jobs").preview.clone().expect("jobs previewed");
    assert_eq!(jobs.status, "previewed", "{jobs:?}");
    let queue = jobs.resources.iter().find(|r| r.op == "update").unwrap_or_else(|| panic!("{jobs:?}"));
    assert_eq!(queue.type_token, "aws:sqs/queue:Queue");
    let field = queue.fields.iter().find(|d| d.field == "visibilityTimeoutSeconds").unwrap();
    assert_eq!((field.before.clone(), field.after.clone()), (Some(Value::from(120)), Some(Value::from(300))));
    assert_eq!(jobs.resources.iter().filter(|r| r.op == "update").count(), 1, "only the edited queue: {jobs:?}");
    let worker = change("orders/worker").preview.clone().expect("worker previewed");
    assert_eq!((worker.status.as_str(), worker.after.clone()), ("after-upstream", vec!["orders/jobs".to_string()]));
    let extra = change("orders/extra").preview.clone().expect("extra listed");
    assert_eq!(extra.status, "listed");
    assert!(extra.resources.iter().all(|r| r.op == "create") && !extra.resources.is_empty(), "{extra:?}");

    let text = stdout(&f.run(&["plan", "--preview"], &[]));
    assert!(text.contains("Resource-level changes") && text.contains("visibilityTimeoutSeconds: 120 → 300"), "{text}");
    // Read-only: no engine step ran, state.json did not move, the fake
    // cloud's queue still has the deployed value.
    assert_eq!(f.ops().len(), ops, "a preview ran an engine step");
    assert_eq!(f.state_raw()["serial"], serial);
    let queues = f.live("aws:sqs/queue:Queue");
    assert!(queues.iter().any(|q| q["outputs"]["visibilityTimeoutSeconds"] == 120), "{queues:#?}");
}

/// Issue 12, replacement-safe updates through the real engine: toggling
/// `spot` both ways updates the ECS service in place (capacity provider
/// strategies, never `launchType`, which forces a replacement that
/// collided on the service's fixed name), and a new container port
/// replaces the target group under a new name (the port is in it), created
/// before the old one is deleted, with the listener rule following.
#[test]
fn spot_toggles_in_place_and_a_new_port_replaces_the_target_group_create_first() {
    let f = Fixture::empty("shop");
    scaffold_shop(&f);
    assert_eq!(f.apply(0, &[]).status, "succeeded");
    let service_id = |f: &Fixture| {
        let services: Vec<Value> = f
            .live("aws:ecs/service:Service")
            .into_iter()
            .filter(|s| s["inputs"]["name"].as_str().is_some_and(|n| n.ends_with("-api")))
            .collect();
        assert_eq!(services.len(), 1, "{services:#?}");
        let s = &services[0];
        assert!(s["inputs"].get("launchType").is_none(), "a service never sets launchType: {s:#?}");
        (s["id"].clone(), s["inputs"]["capacityProviderStrategies"][0]["capacityProvider"].clone())
    };
    let (id, provider) = service_id(&f);
    assert_eq!(provider, "FARGATE");

    for (from, to, expected) in
        [("spec:\n", "spec:\n  spot: true\n", "FARGATE_SPOT"), ("spot: true", "spot: false", "FARGATE")]
    {
        let before = f.ops().len();
        f.edit("services/web/components/api/infra.yaml", |t| t.replacen(from, to, 1));
        let r = f.apply(0, &[]);
        assert_eq!(r.status, "succeeded", "{r:?}");
        let ops = f.ops().split_off(before);
        let on_service: Vec<&str> =
            ops.iter().filter(|o| o.type_token == "aws:ecs/service:Service").map(|o| o.op.as_str()).collect();
        assert!(on_service.contains(&"update") && !on_service.contains(&"delete"), "{on_service:?}");
        let (now, provider) = service_id(&f);
        assert_eq!((now, provider), (id.clone(), Value::from(expected)), "the same service, now on {expected}");
    }

    let before = f.ops().len();
    f.edit("services/web/components/api/microservice.yaml", |t| t.replace("8080", "9090"));
    let r = f.apply(0, &[]);
    assert_eq!(r.status, "succeeded", "{r:?}");
    let ops = f.ops().split_off(before);
    let tg: Vec<(&str, &str)> = ops
        .iter()
        .filter(|o| o.type_token == "aws:lb/targetGroup:TargetGroup" && matches!(o.op.as_str(), "create" | "delete"))
        .map(|o| (o.op.as_str(), o.name.as_str()))
        .collect();
    assert_eq!(tg.len(), 2, "one replacement: {tg:?}");
    assert_eq!(tg[0].0, "create", "the new target group is created first: {tg:?}");
    assert!(tg[0].1.ends_with("-9090") && tg[1].1.ends_with("-8080"), "{tg:?}");
    let groups = f.live("aws:lb/targetGroup:TargetGroup");
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let rules = f.live("aws:lb/listenerRule:ListenerRule");
    assert_eq!(rules[0]["inputs"]["actions"][0]["targetGroupArn"], groups[0]["outputs"]["arn"], "{rules:#?}");
    assert_nothing_created_twice(&f.ops());
}

/// Issue 12, alarms through the real engine: `spec.alarms.createTopic`
/// puts one SNS topic in the stack's shared program; every alarm (the
/// MicroService's 5xx alarm, which is also its deployment rollback alarm,
/// and the queue's dead-letter depth) notifies it through a
/// StackReference; destroy removes the topic after the components.
#[test]
fn alarms_notify_the_environment_topic_from_the_shared_program() {
    let f = Fixture::empty("shop");
    scaffold_shop(&f);
    std::fs::write(
        f.stack.join("environments/dev.yaml"),
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  alarms: {createTopic: true}\n",
    )
    .unwrap();
    assert_eq!(f.apply(0, &[]).status, "succeeded");
    let topics = f.live("aws:sns/topic:Topic");
    assert_eq!(topics.len(), 1, "{topics:#?}");
    assert_eq!(topics[0]["inputs"]["name"], "shop-dev-alarms");
    let topic_arn = &topics[0]["outputs"]["arn"];
    let alarms = f.live("aws:cloudwatch/metricAlarm:MetricAlarm");
    let mut names: Vec<&str> = alarms.iter().filter_map(|a| a["inputs"]["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["shop-dev-web-api-5xx", "shop-dev-web-jobs-dlq-depth"]);
    for a in &alarms {
        assert_eq!(&a["inputs"]["alarmActions"][0], topic_arn, "{a:#?}");
    }
    let service = f
        .live("aws:ecs/service:Service")
        .into_iter()
        .find(|s| s["inputs"]["name"] == "shop-dev-web-api")
        .expect("the api service");
    assert_eq!(service["inputs"]["alarms"]["alarmNames"][0], "shop-dev-web-api-5xx");
    assert_eq!(service["inputs"]["alarms"]["rollback"], true);
    let o = f.run(&["destroy", "--auto-approve"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(resources(&f.cloud).is_empty(), "{:#?}", resources(&f.cloud));
}
