//! Policy evaluation speed (issue 15): a 1,000-component plan (500
//! Workers, 250 SQS queues, 250 DynamoDB tables, loaded from YAML files like
//! any stack) against 20 policies (the 3 built-ins and 17 written here:
//! labels, regions, sizes, budget, names …). Target: ≤ 200 ms per
//! evaluation, input document included.
//!
//! Run with `cargo bench --bench policy_bench` (`make bench-policy`;
//! `PANKA_BENCH_ITERATIONS` sets the sample count, default 20).
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use panka::load::LoadOptions;
use panka::policy::{builtin, input, PolicyFile, PolicySet};

const SERVICES: usize = 100;
const PER_SERVICE: usize = 10;

fn write_stack(dir: &Path) {
    std::fs::write(
        dir.join("stack.yaml"),
        "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata:\n  name: bench\n  labels: {team: bench}\nspec:\n  provider:\n    region: eu-west-1\n  shared:\n    network:\n      vpcId: vpc-0123456789abcdef0\n      privateSubnetIds: [subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2]\n    cluster:\n      name: bench\n",
    )
    .unwrap();
    for s in 0..SERVICES {
        let svc = dir.join(format!("services/s{s}"));
        std::fs::create_dir_all(&svc).unwrap();
        std::fs::write(
            svc.join("service.yaml"),
            format!("apiVersion: core.panka.io/v1\nkind: Service\nmetadata:\n  name: s{s}\n"),
        )
        .unwrap();
        let mut docs = Vec::new();
        for c in 0..PER_SERVICE {
            let doc = match c % 4 {
                0 | 1 => format!(
                    "apiVersion: components.panka.io/v1\nkind: Worker\nmetadata:\n  name: w{c}\n  labels: {{{}: team{s}}}\nspec:\n  image: {{repository: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/w, tag: \"1.0.{c}\"}}\n  environment:\n    - {{name: LOG_LEVEL, value: info}}\n",
                    // every tenth service forgets its owner: findings to report
                    if s % 10 == 0 { "team" } else { "owner" }
                ),
                2 => format!(
                    "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata:\n  name: q{c}\nspec:\n  visibilityTimeoutSeconds: 60\n  usage: {{requestsPerMonth: 1000000}}\n"
                ),
                _ => format!(
                    "apiVersion: components.panka.io/v1\nkind: DynamoDB\nmetadata:\n  name: t{c}\nspec:\n  attributes: [{{name: id, type: S}}]\n  partitionKey: id\n  billingMode: PROVISIONED\n  capacity: {{read: 5, write: 5}}\n"
                ),
            };
            docs.push(doc);
        }
        std::fs::write(svc.join("components.yaml"), docs.join("---\n")).unwrap();
    }
}

/// 17 policies of the kinds platform teams write, one package each.
fn policies() -> Vec<PolicyFile> {
    let bodies = [
        r#"deny contains {"msg": sprintf("%s has no owner label", [id]), "component": id, "path": "labels"} if { some id, c in input.components; c.kind in {"Worker", "MicroService"}; not c.labels.owner }"#,
        r#"deny contains "region not allowed" if { not input.region in {"eu-west-1", "eu-central-1", "us-east-1"} }"#,
        r#"deny contains {"msg": "too many vCPU", "component": id, "path": "infra.cpu"} if { some id, c in input.components; c.infra.cpu > 4096 }"#,
        r#"deny contains {"msg": "too much memory", "component": id, "path": "infra.memory"} if { some id, c in input.components; c.infra.memory > 16384 }"#,
        r#"warn contains {"msg": "latest tag", "component": id, "path": "spec.image.tag"} if { some id, c in input.components; c.spec.image.tag == "latest" }"#,
        r#"deny contains {"msg": "image from outside ECR", "component": id} if { some id, c in input.components; c.spec.image; not contains(c.spec.image.repository, ".dkr.ecr.") }"#,
        r#"deny contains "over budget" if { input.cost.total_monthly > 1000000 }"#,
        r#"warn contains {"msg": "capacity high", "component": id} if { some id, c in input.components; c.kind == "DynamoDB"; c.spec.capacity.read > 1000 }"#,
        r#"deny contains {"msg": "fifo needs dedup", "component": id} if { some id, c in input.components; c.kind == "SQS"; c.spec.fifo; not c.spec.contentBasedDeduplication }"#,
        r#"deny contains {"msg": "short visibility", "component": id, "path": "spec.visibilityTimeoutSeconds"} if { some id, c in input.components; c.kind == "SQS"; c.spec.visibilityTimeoutSeconds < 10 }"#,
        r#"deny contains {"msg": "bad name", "component": id} if { some id, c in input.components; startswith(c.name, "tmp") }"#,
        r#"warn contains {"msg": "replace in prod", "component": ch.component} if { input.environment == "production"; some ch in input.changes; ch.action == "replace" }"#,
        r#"deny contains {"msg": "delete in prod", "component": ch.component} if { input.environment == "production"; some ch in input.changes; ch.action == "delete" }"#,
        r#"deny contains {"msg": "secret in env", "component": id} if { some id, c in input.components; some e in c.spec.environment; regex.match(`(?i)password|secret`, e.name); e.value }"#,
        r#"warn contains {"msg": "spot", "component": id} if { some id, c in input.components; c.infra.spot == true }"#,
        r#"deny contains {"msg": "too many replicas", "component": id, "path": "infra.replicas"} if { some id, c in input.components; c.infra.replicas > 50 }"#,
        r#"deny contains "too many changes" if { count(input.changes) > 5000 }"#,
    ];
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| PolicyFile {
            path: format!("policies/p{i}.rego"),
            text: format!("package bench.p{i}\n\nimport rego.v1\n\n{body}\n"),
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let iterations: usize = std::env::var("PANKA_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    write_stack(dir.path());
    let opts = LoadOptions { dir: dir.path().to_path_buf(), environment: "production".into(), ..Default::default() };
    let prepared = panka::pipeline::prepare(&opts).unwrap_or_else(|f| panic!("the bench stack is invalid: {f}"));
    let stack = &prepared.stack;
    assert_eq!(stack.components.len(), SERVICES * PER_SERVICE);
    let mut plan = panka::plan::plan(stack, &prepared.graph, None, "default");
    plan.cost = Some(panka::cost::estimate(&plan, None, &stack.provider.region));

    let mut files = builtin::files(&[]);
    files.extend(policies());
    assert_eq!(files.len(), 20);
    let t = Instant::now();
    let set = PolicySet::compile(files).unwrap_or_else(|e| panic!("bench policies do not compile: {e:?}"));
    let compile = t.elapsed();

    let mut input_times = Vec::new();
    let mut eval_times = Vec::new();
    let mut total_times = Vec::new();
    let mut findings = 0;
    for _ in 0..iterations {
        let t0 = Instant::now();
        let doc = input::for_plan(&plan, stack);
        let t1 = Instant::now();
        let found = set.evaluate(&doc).unwrap();
        let t2 = Instant::now();
        findings = found.len();
        input_times.push(t1 - t0);
        eval_times.push(t2 - t1);
        total_times.push(t2 - t0);
    }
    let total = median(total_times);
    println!("policy_bench: {} components, {} policies ({} rules)", stack.components.len(), 20, set.rule_count());
    println!("  compile once:          {:>8.1} ms", compile.as_secs_f64() * 1e3);
    println!("  input document:        {:>8.1} ms (median of {iterations})", median(input_times).as_secs_f64() * 1e3);
    println!("  evaluation:            {:>8.1} ms (median of {iterations})", median(eval_times).as_secs_f64() * 1e3);
    println!("  input + evaluation:    {:>8.1} ms (target ≤ 200 ms)", total.as_secs_f64() * 1e3);
    println!("  findings per run:      {findings}");
    if total > Duration::from_millis(200) {
        println!("  OVER TARGET");
        std::process::exit(1);
    }
}
