//! Policies and the cost estimate (issue 15), through the real binary on
//! copies of the bundled examples: denies and warnings located at the
//! exact file:line:column of the field, the built-ins, `panka policy test`,
//! policy syntax errors, a bundle read from moto's S3, the payments
//! estimate against figures computed here by hand, and a budget policy
//! that stops an apply before anything runs.
#![allow(clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use support::{copy_dir, panka, root, stderr, stdout};

#[derive(Debug, Deserialize)]
struct Source {
    package: String,
    rule: String,
}

#[derive(Debug, Deserialize)]
struct Diag {
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    severity: String,
    code: String,
    message: String,
    source: Option<Source>,
}

#[derive(Debug, Deserialize)]
struct PolicyReport {
    denies: usize,
    warnings: usize,
    violations: Vec<Diag>,
}

#[derive(Debug, Deserialize)]
struct ComponentCost {
    component: String,
    monthly: f64,
    current_monthly: f64,
    not_estimated: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct TableInfo {
    date: String,
    source: String,
}

#[derive(Debug, Deserialize)]
struct Cost {
    region: String,
    components: Vec<ComponentCost>,
    total_monthly: f64,
    current_monthly: f64,
    delta_monthly: f64,
    table: TableInfo,
    assumptions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PlanDoc {
    cost: Option<Cost>,
    policy: Option<PolicyReport>,
}

/// A copy of an example in a temp dir (so `policies/` and `.panka/` stay there).
fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&root().join("examples").join(name), &dir);
    (tmp, dir)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Line and column (1-based) of the first `needle` in a file, found after
/// `after` on the same line when given.
fn position(file: &Path, after: &str, needle: &str) -> (u32, u32) {
    let text = std::fs::read_to_string(file).unwrap();
    for (i, line) in text.lines().enumerate() {
        if let Some(a) = line.find(after) {
            if let Some(n) = line[a + after.len()..].find(needle) {
                let byte = a + after.len() + n;
                return (i as u32 + 1, line[..byte].chars().count() as u32 + 1);
            }
        }
    }
    panic!("`{after}…{needle}` not in {}", file.display());
}

fn plan_json(dir: &Path, env: &str, extra: &[&str]) -> (std::process::Output, PlanDoc) {
    let out = panka().args(["plan", "-C"]).arg(dir).args(["-e", env, "--output", "json"]).args(extra).output().unwrap();
    let doc: PlanDoc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\nstdout: {}\nstderr: {}", stdout(&out), stderr(&out)));
    (out, doc)
}

fn validate_json(dir: &Path, env: &str, extra: &[&str]) -> (std::process::Output, Vec<Diag>) {
    let out =
        panka().args(["validate", "-C"]).arg(dir).args(["-e", env, "--output", "json"]).args(extra).output().unwrap();
    let diags: Vec<Diag> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("validate JSON: {e}\nstdout: {}\nstderr: {}", stdout(&out), stderr(&out)));
    (out, diags)
}

fn find<'a>(diags: &'a [Diag], package: &str) -> &'a Diag {
    diags
        .iter()
        .find(|d| d.source.as_ref().is_some_and(|s| s.package == package))
        .unwrap_or_else(|| panic!("no finding of `{package}` in {diags:#?}"))
}

fn at(d: &Diag) -> (String, u32, u32) {
    (d.file.clone().unwrap_or_default(), d.line.unwrap_or(0), d.column.unwrap_or(0))
}

const PAYMENTS_POLICY: &str = r#"package panka.sizes

import rego.v1

# No memory-optimised cache nodes outside production.
deny contains {"msg": sprintf("`%s` uses %s; r7g nodes need the platform team's approval", [id, c.spec.nodeType]), "component": id, "path": "spec.nodeType"} if {
	some id, c in input.components
	c.kind == "ElastiCache"
	startswith(c.spec.nodeType, "cache.r7g")
}

warn contains {"msg": "more than 100 GB of database storage", "path": "components[\"backend/database\"].spec.instance.storage.allocatedGB"} if {
	input.components["backend/database"].spec.instance.storage.allocatedGB > 100
}
"#;

#[test]
fn payments_deny_and_warn_are_located_at_the_offending_fields() {
    let (_tmp, dir) = example("payments");
    write(&dir.join("policies/sizes.rego"), PAYMENTS_POLICY);
    let cache = Path::new("services/backend/components/cache/elasticache.production.yaml");
    let rds = Path::new("services/backend/components/database/rds.production.yaml");
    let (cl, cc) = position(&dir.join(cache), "nodeType: ", "cache.r7g.large");
    let (rl, rc) = position(&dir.join(rds), "allocatedGB: ", "400");

    // validate: the desired configuration alone.
    let (out, diags) = validate_json(&dir, "production", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let deny = find(&diags, "panka.sizes");
    assert_eq!(at(deny), (cache.display().to_string(), cl, cc));
    assert_eq!((deny.severity.as_str(), deny.code.as_str()), ("error", "policy"));
    assert_eq!(deny.source.as_ref().unwrap().rule, "deny");
    assert!(deny.message.contains("backend/cache"), "{}", deny.message);
    let warn = diags
        .iter()
        .find(|d| d.source.as_ref().is_some_and(|s| s.rule == "warn"))
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(at(warn), (rds.display().to_string(), rl, rc));
    assert_eq!(warn.severity, "warning");

    // plan: the same findings in the plan document; exit 2.
    let (out, doc) = plan_json(&dir, "production", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = doc.policy.expect("the plan carries `policy`");
    assert_eq!((report.denies, report.warnings), (1, 1));
    assert_eq!(at(find(&report.violations, "panka.sizes")), (cache.display().to_string(), cl, cc));

    // The text output shows the location, the rule and the line.
    let out = panka().args(["plan", "-C"]).arg(&dir).args(["-e", "production"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:{cl}:{cc}", cache.display())), "{err}");
    assert!(err.contains("policy: package `panka.sizes`, rule `deny`"), "{err}");
    assert!(err.contains("denied by policy"), "{err}");

    // --policy-warn-only: the deny is a warning and the plan succeeds.
    let (out, doc) = plan_json(&dir, "production", &["--policy-warn-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = doc.policy.unwrap();
    assert_eq!((report.denies, report.warnings), (0, 2));

    // dev has a t4g cache and 20 GB: nothing to say.
    let (out, diags) = validate_json(&dir, "dev", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(diags.iter().all(|d| d.source.is_none()), "{diags:#?}");
}

const MINIMAL_POLICY: &str = r#"package main

import rego.v1

deny contains {"msg": "images are pinned by digest", "component": id, "path": ["spec", "image", "tag"]} if {
	some id, c in input.components
	c.spec.image.tag
	not startswith(c.spec.image.tag, "sha256:")
}

warn_visibility contains {"msg": "a visibility timeout over a minute", "component": "jobs", "path": "spec.visibilityTimeoutSeconds"} if {
	input.components["orders/jobs"].spec.visibilityTimeoutSeconds > 60
}

deny_region contains "the stack must run in eu-central-1" if input.region != "eu-central-1"
"#;

#[test]
fn minimal_deny_and_warn_are_located_at_the_offending_fields() {
    let (_tmp, dir) = example("minimal");
    write(&dir.join("policies/conventions.rego"), MINIMAL_POLICY);
    let worker = Path::new("services/orders/components/worker/worker.yaml");
    let sqs = Path::new("services/orders/components/jobs/sqs.yaml");
    let (wl, wc) = position(&dir.join(worker), "tag: ", "${VERSION}");
    let (sl, sc) = position(&dir.join(sqs), "visibilityTimeoutSeconds: ", "120");
    let (nl, nc) = position(&dir.join("stack.yaml"), "name: ", "minimal");
    for cmd in ["validate", "plan"] {
        let out = panka().args([cmd, "-C"]).arg(&dir).args(["-e", "dev", "--output", "json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let diags: Vec<Diag> = if cmd == "validate" {
            serde_json::from_slice(&out.stdout).unwrap()
        } else {
            serde_json::from_slice::<PlanDoc>(&out.stdout).unwrap().policy.unwrap().violations
        };
        let rule = |r: &str| {
            diags
                .iter()
                .find(|d| d.source.as_ref().is_some_and(|s| s.package == "main" && s.rule == r))
                .unwrap_or_else(|| panic!("{cmd}: no `{r}` in {diags:#?}"))
        };
        assert_eq!(at(rule("deny")), (worker.display().to_string(), wl, wc), "{cmd}");
        assert_eq!(rule("deny").severity, "error");
        assert_eq!(at(rule("warn_visibility")), (sqs.display().to_string(), sl, sc), "{cmd}");
        assert_eq!(rule("warn_visibility").severity, "warning");
        // A finding with no component points at the stack's name.
        assert_eq!(at(rule("deny_region")), ("stack.yaml".to_string(), nl, nc), "{cmd}");
    }
}

#[test]
fn builtins_pass_every_example_in_every_environment() {
    for (name, envs) in [("payments", &["dev", "staging", "production"][..]), ("minimal", &["dev", "production"][..])] {
        let dir = root().join("examples").join(name);
        let out = panka().args(["validate", "-C"]).arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "validate {name}: {}", stderr(&out));
        for env in envs {
            let tmp = tempfile::tempdir().unwrap();
            let copy = tmp.path().join(name);
            copy_dir(&dir, &copy);
            let (out, doc) = plan_json(&copy, env, &[]);
            assert_eq!(out.status.code(), Some(0), "plan {name} -e {env}: {}", stderr(&out));
            let report = doc.policy.unwrap();
            assert_eq!((report.denies, report.warnings), (0, 0), "{name} -e {env}: {:#?}", report.violations);
        }
    }
}

#[test]
fn a_microservice_with_one_replica_in_production_is_denied_and_a_cronjob_is_not() {
    let (_tmp, dir) = example("payments");
    let infra = Path::new("services/backend/components/api/infra.production.yaml");
    let text = std::fs::read_to_string(dir.join(infra)).unwrap();
    let text = text.replace("replicas: 3", "replicas: 1").replace("{min: 3,", "{min: 2,");
    std::fs::write(dir.join(infra), text).unwrap();
    let (line, col) = position(&dir.join(infra), "replicas: ", "1");
    let (out, diags) = validate_json(&dir, "production", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let policy: Vec<&Diag> = diags.iter().filter(|d| d.source.is_some()).collect();
    assert_eq!(policy.len(), 1, "{policy:#?}");
    let d = policy[0];
    assert_eq!(d.source.as_ref().unwrap().package, "panka.builtin.production_replicas");
    assert_eq!(at(d), (infra.display().to_string(), line, col));
    assert!(d.message.contains("backend/api"), "{}", d.message);
    // billing/reconciliation is a CronJob with one replica: not concerned.
    // (Validation itself warns about it: it injects the RDS-managed
    // password, which rotates; that is not a policy finding.)
    assert!(policy.iter().all(|d| !d.message.contains("reconciliation")), "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d.code == "rotating-secret" && d.severity == "warning" && d.message.contains("reconciliation")),
        "the rotating-secret warning: {diags:#?}"
    );
    // Every environment at once (regression: the production overlay's line
    // was shown empty, from the sources of `dev`, which does not read it).
    let out = panka().args(["validate", "-C"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:{line}:{col}", infra.display())), "{err}");
    assert!(err.contains("replicas: 1"), "{err}");

    // Switched off by name in the config: passes.
    // (outside the stack directory: every YAML file inside it is a stack file)
    let config = dir.parent().unwrap().join("panka-config.yaml");
    write(&config, "policy:\n  disable: [production-replicas]\n");
    let out = panka()
        .args(["validate", "-C"])
        .arg(&dir)
        .args(["-e", "production", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A name that is no built-in is refused, not ignored.
    write(&config, "policy:\n  disable: [production-replica]\n");
    let out = panka().args(["validate", "-C"]).arg(&dir).args(["--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("production-replicas"), "{}", stderr(&out));
}

#[test]
fn a_public_bucket_and_an_unencrypted_database_are_denied_everywhere() {
    let (_tmp, dir) = example("payments");
    let s3 = dir.join("services/billing/components/invoices/s3.yaml");
    let text = std::fs::read_to_string(&s3).unwrap().replace("blockPublicAccess: true", "blockPublicAccess: false");
    std::fs::write(&s3, text).unwrap();
    let rds = dir.join("services/backend/components/database/rds.yaml");
    let text =
        std::fs::read_to_string(&rds).unwrap().replace("encryption: {atRest: true}", "encryption: {atRest: false}");
    std::fs::write(&rds, text).unwrap();
    let (out, diags) = validate_json(&dir, "dev", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let s3d = find(&diags, "panka.builtin.s3_private");
    assert_eq!(at(s3d).0, "services/billing/components/invoices/s3.yaml");
    let (l, c) = position(&s3, "blockPublicAccess: ", "false");
    assert_eq!((s3d.line, s3d.column), (Some(l), Some(c)));
    let rdsd = find(&diags, "panka.builtin.rds_protected");
    let (l, c) = position(&rds, "atRest: ", "false");
    assert_eq!(at(rdsd), ("services/backend/components/database/rds.yaml".to_string(), l, c));
}

const TESTED_POLICY: &str = r#"package panka.labels

import rego.v1

deny contains sprintf("`%s` has no owner label", [id]) if {
	some id, c in input.components
	not c.labels.owner
}
"#;

#[test]
fn policy_test_passes_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policies");
    write(&dir.join("labels.rego"), TESTED_POLICY);
    write(
        &dir.join("labels_test.rego"),
        r#"package panka.labels

import rego.v1

test_unlabelled_is_denied if {
	count(deny) == 1 with input as {"components": {"a/b": {"labels": {}}}}
}

test_labelled_passes if {
	count(deny) == 0 with input as {"components": {"a/b": {"labels": {"owner": "x"}}}}
}
"#,
    );
    let out = panka().args(["policy", "test"]).current_dir(tmp.path()).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("PASS policies/labels_test.rego: data.panka.labels.test_unlabelled_is_denied"), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");

    write(
        &dir.join("wrong_test.rego"),
        r#"package panka.labels

import rego.v1

test_wrong_expectation if {
	count(deny) == 0 with input as {"components": {"a/b": {"labels": {}}}}
}
"#,
    );
    let out = panka().args(["policy", "test"]).arg(&dir).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("test_wrong_expectation"), "{text}");
    assert!(text.contains("2 passed, 1 failed"), "{text}");
}

#[test]
fn a_syntax_error_is_reported_at_its_own_file_and_line() {
    let (_tmp, dir) = example("minimal");
    // Line 6 holds an expression with no right operand.
    write(
        &dir.join("policies/broken.rego"),
        "package panka.broken\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := \"x\" +\n}\n",
    );
    for args in [&["validate"][..], &["plan", "-e", "dev"][..]] {
        let out = panka().args(args).arg("-C").arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("policies/broken.rego:6:"), "{args:?}: {err}");
        assert!(err.contains("does not compile"), "{err}");
    }
    let out = panka().args(["policy", "test"]).arg(dir.join("policies")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("policies/broken.rego:6:"), "{}", stderr(&out));
}

/// The payments estimate in production, against figures worked out here
/// from the unit prices in src/cost/prices.json (eu-west-1, 730 h).
#[test]
fn the_payments_estimate_matches_hand_computed_figures() {
    let (_tmp, dir) = example("payments");
    let (out, doc) = plan_json(&dir, "production", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cost = doc.cost.expect("the plan carries `cost`");
    assert_eq!(cost.region, "eu-west-1");
    assert_eq!(cost.table.date, "2025-01-15");
    assert!(cost.table.source.contains("AWS public on-demand list prices"));
    assert!(cost.assumptions.iter().any(|a| a.contains("730 hours per month")), "{:?}", cost.assumptions);
    let h = 730.0;
    // backend/api: MicroService, arm64 Fargate, 3 tasks × 1 vCPU × 2 GB
    // (infra.production.yaml), plus a share of 1 LCU of the shared ALB.
    let api = 3.0 * 1.0 * h * 0.03238 + 3.0 * 2.0 * h * 0.00356 + h * 0.008; // 70.91 + 15.59 + 5.84
                                                                             // backend/cache: Valkey cache.r7g.large, 1 primary + 2 replicas, at 80 % of the node price.
    let cache = 3.0 * h * 0.240 * 0.8; // 420.48
                                       // backend/database: db.r7g.large Multi-AZ (×2) + 400 GB gp3 (×2).
    let database = 2.0 * h * 0.262 + 2.0 * 400.0 * 0.127; // 382.52 + 101.60
                                                          // billing/invoice-worker: Fargate Spot, 2 tasks × 0.5 vCPU × 2 GB.
    let worker = 2.0 * 0.5 * h * 0.01338 + 2.0 * 2.0 * h * 0.00147; // 9.77 + 4.29
                                                                    // billing/ledger: provisioned 200 RCU + 100 WCU, 40 GB stored.
    let ledger = 200.0 * h * 0.000147 + 100.0 * h * 0.000735 + 40.0 * 0.283; // 21.46 + 53.66 + 11.32
                                                                             // billing/invoices: 800 GB in S3 Standard.
    let invoices = 800.0 * 0.023; // 18.40
                                  // notifications/events: 3 M publishes.
    let events = 3.0 * 0.5; // 1.50
                            // notifications/sender: 3 M requests, 400 ms at 512 MB on arm64.
    let sender = 3.0 * 0.2 + 3_000_000.0 * 0.4 * 0.5 * 0.0000133334; // 0.60 + 8.00
    let expected = [
        ("backend/api", api),
        ("backend/cache", cache),
        ("backend/database", database),
        ("billing/invoice-worker", worker),
        ("billing/ledger", ledger),
        ("billing/invoices", invoices),
        ("notifications/events", events),
        ("notifications/sender", sender),
        ("billing/reconciliation", 0.0),
        ("billing/invoice-jobs", 0.0),
        ("notifications/email-queue", 0.0),
    ];
    for (id, want) in expected {
        let c = cost.components.iter().find(|c| c.component == id).unwrap_or_else(|| panic!("no estimate for {id}"));
        assert!((c.monthly - want).abs() < 0.02, "{id}: {} vs hand-computed {want:.2}", c.monthly);
        assert_eq!(c.current_monthly, 0.0, "{id}: nothing is deployed yet");
    }
    let total: f64 = expected.iter().map(|(_, v)| v).sum();
    assert!((cost.total_monthly - total).abs() < 0.05, "total {} vs {total:.2}", cost.total_monthly);
    assert!((cost.delta_monthly - total).abs() < 0.05, "the whole stack is new: delta = total");
    assert_eq!(cost.current_monthly, 0.0);
    // Undeclared usage is listed, not guessed.
    let jobs = cost.components.iter().find(|c| c.component == "billing/invoice-jobs").unwrap();
    assert!(jobs.not_estimated.as_ref().is_some_and(|n| n[0].contains("usage.requestsPerMonth")), "{jobs:?}");

    // The text plan has the cost section.
    let out = panka().args(["plan", "-C"]).arg(&dir).args(["-e", "production"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("Estimated monthly cost (USD, eu-west-1)"), "{text}");
    assert!(text.contains(&format!("${:.2}", cost.total_monthly)), "{text}");
    assert!(text.contains("2025-01-15"), "{text}");
    assert!(text.contains("assumptions:"), "{text}");
}

#[test]
fn a_saved_plan_without_cost_or_policy_still_loads() {
    let (_tmp, dir) = example("minimal");
    let saved = dir.join("plan.json");
    let out = panka().args(["plan", "-C"]).arg(&dir).args(["-e", "dev", "--out"]).arg(&saved).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert!(doc.get("cost").is_some() && doc.get("policy").is_some());
    doc.as_object_mut().unwrap().remove("cost");
    doc.as_object_mut().unwrap().remove("policy");
    let old: panka::plan::Plan = serde_json::from_value(doc).expect("an older plan document loads");
    assert!(old.cost.is_none() && old.policy.is_none());
}

const BUDGET_POLICY: &str = r#"package panka.budget

import rego.v1

deny contains {"msg": sprintf("production costs $%.2f a month, over the $1000.00 budget", [input.cost.total_monthly])} if {
	input.environment == "production"
	input.cost.total_monthly > 1000
}
"#;

#[test]
fn a_budget_policy_denies_an_expensive_production_plan_and_nothing_runs() {
    let (_tmp, dir) = example("payments");
    write(&dir.join("policies/budget.rego"), BUDGET_POLICY);
    let (out, doc) = plan_json(&dir, "production", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = doc.policy.unwrap();
    assert_eq!(report.denies, 1);
    assert!(report.violations[0].message.contains("over the $1000.00 budget"), "{:?}", report.violations);
    // dev is cheap and not production: allowed.
    let (out, _) = plan_json(&dir, "dev", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // apply: exit 2 before any lock or Pulumi run.
    let marker = dir.join("pulumi-ran");
    let fake = dir.join("fake-pulumi.sh");
    write(&fake, &format!("#!/bin/sh\ntouch {}\necho v3.276.0\n", marker.display()));
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = panka()
        .args(["apply", "-C"])
        .arg(&dir)
        .args(["-e", "production", "--auto-approve", "--pulumi"])
        .arg(&fake)
        .env("PULUMI_CONFIG_PASSPHRASE", "test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("denied by policy"), "{}", stderr(&out));
    assert!(!marker.exists(), "pulumi must not run");
    let panka_dir = dir.join(".panka");
    let files = if panka_dir.exists() { support::walk(&panka_dir) } else { Vec::new() };
    assert!(files.iter().all(|f| !f.ends_with("state.json") && !f.to_string_lossy().contains("lock")), "{files:?}");
}

#[test]
fn a_policy_bundle_is_read_from_s3() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = rt.block_on(support::moto::new_bucket());
    let s3 = rt.block_on(support::moto::s3());
    let put = |key: &str, body: &str| {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(body.as_bytes().to_vec()))
                .send(),
        )
        .unwrap();
    };
    put("admin/policies/sizes.rego", PAYMENTS_POLICY);
    // Tests in the bundle are not policies; a broken one must not matter.
    put("admin/policies/sizes_test.rego", "package broken\n\ntest_x if {\n");
    put("other/ignored.rego", "not rego at all");
    let (_tmp, dir) = example("payments");
    let out = panka()
        .args(["validate", "-C"])
        .arg(&dir)
        .args(["-e", "production", "--output", "json"])
        .env("PANKA_POLICY_PATHS", format!("s3://{bucket}/admin/policies"))
        .env("AWS_ENDPOINT_URL", support::moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let diags: Vec<Diag> = serde_json::from_slice(&out.stdout).unwrap();
    let cache = "services/backend/components/cache/elasticache.production.yaml";
    let (l, c) = position(&dir.join(cache), "nodeType: ", "cache.r7g.large");
    assert_eq!(at(find(&diags, "panka.sizes")), (cache.to_string(), l, c));

    // A bundle that does not exist is an error that names it.
    let out = panka()
        .args(["validate", "-C"])
        .arg(&dir)
        .env("PANKA_POLICY_PATHS", "s3://no-such-bucket-here/admin/policies")
        .env("AWS_ENDPOINT_URL", support::moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("s3://no-such-bucket-here/admin/policies"), "{}", stderr(&out));
}

#[test]
fn programs_are_in_the_input_only_with_the_flag() {
    let (_tmp, dir) = example("minimal");
    write(
        &dir.join("policies/programs.rego"),
        r#"package panka.programs

import rego.v1

deny contains {"msg": sprintf("`%s` renders an %s", [id, r.type]), "component": id} if {
	some id, p in input.programs
	some r in p.resources
	r.type == "aws:sqs:Queue"
}
"#,
    );
    let (out, doc) = plan_json(&dir, "dev", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(doc.policy.unwrap().denies, 0, "no programs without --programs");
    let (out, doc) = plan_json(&dir, "dev", &["--programs"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = doc.policy.unwrap();
    let d = find(&report.violations, "panka.programs");
    assert_eq!(d.message, "`orders/jobs` renders an aws:sqs:Queue");
    let (l, c) = position(&dir.join("services/orders/components/jobs/sqs.yaml"), "name: ", "jobs");
    assert_eq!(at(d), ("services/orders/components/jobs/sqs.yaml".to_string(), l, c));
}
