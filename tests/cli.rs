//! End-to-end tests of the commands on the bundled examples and on
//! scaffolded stacks: the real binary, JSON deserialized into panka's types.

mod support;

use std::path::{Path, PathBuf};

use panka::graph::render::GraphJson;
use panka::plan::{Action, Plan};
use panka::state::{ComponentState, ComponentStatus, State};
use support::*;

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn plan_json(dir: &Path, env: &str) -> Plan {
    let out = run(&["plan", "-e", env, "--output", "json", "-C", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("plan JSON: {e}\n{}", stdout(&out)))
}

#[test]
fn every_example_validates_and_plans_for_every_environment() {
    for name in ["payments", "minimal"] {
        let dir = example(name);
        let out = run(&["validate", "-C", dir.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let envs =
            panka::load::known_environments(&panka::load::LoadOptions { dir: dir.clone(), ..Default::default() });
        assert!(!envs.is_empty());
        for env in envs {
            let plan = plan_json(&dir, &env);
            assert_eq!(plan.environment, env);
            assert_eq!(
                plan.summary.create,
                plan.changes.len(),
                "{name}/{env}: nothing deployed, everything is created"
            );
            // Components from wave 1; the stack's shared program (a created
            // cluster) first, as wave 0.
            assert!(plan.changes.iter().all(|c| (c.wave >= 1 || c.component == "_stack/shared") && c.config.is_some()));
            let shared = plan.changes.iter().position(|c| c.component == "_stack/shared");
            assert!(shared.is_none_or(|i| i == 0 && plan.changes[0].wave == 0), "{:?}", plan.changes[0]);
        }
    }
}

#[test]
fn payments_uses_every_component_kind_and_environment() {
    let plan = plan_json(&example("payments"), "production");
    let kinds: std::collections::BTreeSet<String> = plan.changes.iter().map(|c| c.kind.to_string()).collect();
    for k in ["MicroService", "Worker", "CronJob", "Lambda", "RDS", "DynamoDB", "S3", "SQS", "SNS", "ElastiCache"] {
        assert!(kinds.contains(k), "payments has no {k}");
    }
    let services: std::collections::BTreeSet<&str> =
        plan.changes.iter().map(|c| c.component.split('/').next().unwrap()).collect();
    assert!(services.len() >= 3);
    assert!(plan.waves.len() >= 3, "cross-service references give several waves");
    let envs =
        panka::load::known_environments(&panka::load::LoadOptions { dir: example("payments"), ..Default::default() });
    for e in ["dev", "staging", "production"] {
        assert!(envs.contains(&e.to_string()));
    }
}

#[test]
fn overlays_change_the_desired_config_per_environment() {
    let dev = plan_json(&example("payments"), "dev");
    let prod = plan_json(&example("payments"), "production");
    let differing = dev
        .changes
        .iter()
        .filter(|d| prod.change(&d.component).is_some_and(|p| p.config_hash != d.config_hash))
        .count();
    assert!(differing >= 3, "production overlays should change several components, changed {differing}");
}

/// Record a plan's components as deployed in the local state backend.
fn write_state(dir: &Path, plan: &Plan) -> State {
    let mut state = State::new(&plan.stack, &plan.environment, "default");
    state.serial = 7;
    for c in &plan.changes {
        let now = chrono::Utc::now();
        state.components.insert(
            c.component.clone(),
            ComponentState {
                kind: c.kind.to_string(),
                status: ComponentStatus::Deployed,
                config: c.config.clone().unwrap(),
                config_hash: c.config_hash.clone(),
                outputs: Default::default(),
                inputs_hash: None,
                pulumi_project: c.component.replace('/', "-"),
                pulumi_stack: plan.environment.clone(),
                dependencies: c.dependencies.clone(),
                created_at: now,
                updated_at: now,
                last_error: None,
            },
        );
    }
    let path = dir.join(format!(".panka/stacks/{}/{}/state.json", plan.stack, plan.environment));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    state
}

fn scaffold() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["init", dir.path().join("shop").to_str().unwrap(), "--name", "shop"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

#[test]
fn init_scaffolds_a_stack_that_validates_and_plans() {
    let tmp = scaffold();
    let dir = tmp.path().join("shop");
    assert_eq!(run(&["validate", "-C", dir.to_str().unwrap()], None).status.code(), Some(0));
    let plan = plan_json(&dir, "production");
    assert!(plan.summary.create >= 3);
    let again = run(&["init", dir.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(1), "init refuses to overwrite");
}

#[test]
fn plan_against_state_shows_field_diffs_updates_deletes_and_no_ops() {
    let tmp = scaffold();
    let dir = tmp.path().join("shop");
    let first = plan_json(&dir, "dev");
    let mut state_plan = first.clone();
    // A component that is in the state but no longer in the stack.
    let mut gone = first.changes[0].clone();
    gone.component = "web/old-queue".into();
    state_plan.changes.push(gone);
    write_state(&dir, &state_plan);

    let same = plan_json(&dir, "dev");
    assert_eq!(same.state_serial, Some(7));
    assert_eq!(same.summary.no_op, first.changes.len());
    assert_eq!(same.summary.delete, 1);
    assert_eq!(same.change("web/old-queue").unwrap().action, Action::Delete);

    let out =
        run(&["plan", "-e", "dev", "--var", "VERSION=0.2.0", "--output", "json", "-C", dir.to_str().unwrap()], None);
    let changed: Plan = serde_json::from_slice(&out.stdout).unwrap();
    for id in ["web/api", "web/worker"] {
        let c = changed.change(id).unwrap();
        assert_eq!(c.action, Action::Update, "{id}");
        let d = c.diffs.iter().find(|d| d.path == "spec.image.tag").expect("a tag diff");
        assert_eq!((d.before.as_ref().unwrap(), d.after.as_ref().unwrap()), (&"0.1.0".into(), &"0.2.0".into()));
    }
    assert_eq!(changed.change("web/jobs").unwrap().action, Action::NoOp);

    let text = run(&["plan", "-e", "dev", "--var", "VERSION=0.2.0", "-C", dir.to_str().unwrap()], None);
    assert!(stdout(&text).contains("spec.image.tag: \"0.1.0\" → \"0.2.0\""), "{}", stdout(&text));

    // A queue turned FIFO must be replaced.
    let sqs = dir.join("services/web/components/jobs/sqs.yaml");
    let text = std::fs::read_to_string(&sqs).unwrap() + "  fifo: true\n";
    std::fs::write(&sqs, text).unwrap();
    let replaced = plan_json(&dir, "dev");
    let jobs = replaced.change("web/jobs").unwrap();
    assert_eq!(jobs.action, Action::Replace);
    assert_eq!(jobs.replace_fields, vec!["spec.fifo".to_string()]);
    // Its consumers get new outputs after apply.
    assert_eq!(replaced.change("web/worker").unwrap().action, Action::Update);
}

#[test]
fn detailed_exitcode_and_saved_plan() {
    let tmp = scaffold();
    let dir = tmp.path().join("shop");
    let out_file = tmp.path().join("plan.json");
    let out = run(
        &["plan", "-e", "dev", "--detailed-exitcode", "--out", out_file.to_str().unwrap(), "-C", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(6), "changes present");
    let saved: Plan = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(saved.format_version, "panka-plan-v1");
    write_state(&dir, &saved);
    let out = run(&["plan", "-e", "dev", "--detailed-exitcode", "-C", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "no changes: {}", stdout(&out));
    assert!(stdout(&out).contains("No changes"));
}

#[test]
fn graph_in_every_format() {
    let dir = example("payments");
    let d = dir.to_str().unwrap();
    let json = run(&["graph", "-e", "production", "--format", "json", "-C", d], None);
    let g: GraphJson = serde_json::from_slice(&json.stdout).unwrap();
    assert!(g.nodes.len() >= 10);
    assert!(!g.critical_path.is_empty());
    for e in &g.edges {
        let (from, to) =
            (g.nodes.iter().find(|n| n.id == e.from).unwrap(), g.nodes.iter().find(|n| n.id == e.to).unwrap());
        assert!(from.wave > to.wave, "{} (wave {}) depends on {} (wave {})", e.from, from.wave, e.to, to.wave);
    }
    let dot = stdout(&run(&["graph", "-e", "production", "--format", "dot", "-C", d], None));
    assert!(dot.starts_with("digraph panka {") && dot.contains("->"));
    let mermaid = stdout(&run(&["graph", "-e", "production", "--format", "mermaid", "-C", d], None));
    assert!(mermaid.starts_with("flowchart LR") && mermaid.contains("-->"));
    let text = stdout(&run(&["graph", "-e", "production", "-C", d], None));
    assert!(text.contains("wave 1") && text.contains("critical path"));
}

#[test]
fn variables_precedence_cli_over_var_file_over_environment_over_stack() {
    let tmp = scaffold();
    let dir = tmp.path().join("shop");
    let tag = |args: &[&str]| -> String {
        let mut all = vec!["plan", "-e", "production", "--output", "json", "-C", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = run(&all, None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let p: Plan = serde_json::from_slice(&out.stdout).unwrap();
        let api = p.change("web/api").unwrap().config.clone().unwrap();
        api["spec"]["environment"][0]["value"].as_str().unwrap().to_string()
    };
    assert_eq!(tag(&[]), "warn", "Environment production overrides the stack's LOG_LEVEL");
    let vf = tmp.path().join("vars.yaml");
    std::fs::write(&vf, "LOG_LEVEL: debug\n").unwrap();
    assert_eq!(tag(&["--var-file", vf.to_str().unwrap()]), "debug");
    assert_eq!(tag(&["--var-file", vf.to_str().unwrap(), "--var", "LOG_LEVEL=trace"]), "trace");
}

#[test]
fn config_file_errors_are_located_and_env_twins_apply() {
    let tmp = scaffold();
    let dir = tmp.path().join("shop");
    let cfg = tmp.path().join("config.yaml");
    std::fs::write(&cfg, "backend:\n  tpye: local\n").unwrap();
    let out = panka().args(["plan", "-C", dir.to_str().unwrap()]).env("PANKA_CONFIG", &cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("config.yaml:2:3"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `type`?"));
    // A tenant from the environment puts the state under tenants/<t>/.
    let plan: Plan = serde_json::from_slice(
        &panka()
            .args(["plan", "--output", "json", "-C", dir.to_str().unwrap()])
            .env("PANKA_TENANT_NAME", "payments-team")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(plan.tenant, "payments-team");
    // Tenant mode: the configured tenant refuses another, and a name
    // crafted to escape is refused before any request (SPEC §12).
    for other in ["flag-team", "../b", "a:stack:x"] {
        let out = panka()
            .args(["plan", "--tenant", other, "-C", dir.to_str().unwrap()])
            .env("PANKA_TENANT_NAME", "payments-team")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{other}: {}", stderr(&out));
        assert!(stderr(&out).contains("tenant `payments-team`'s (tenant mode)"), "{}", stderr(&out));
    }
    let out = panka().args(["plan", "--tenant", "../b", "-C", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tenant name `../b` is not valid"), "{}", stderr(&out));
    // Without a configured tenant the flag picks one.
    let flag: Plan = serde_json::from_slice(
        &panka()
            .args(["plan", "--output", "json", "--tenant", "flag-team", "-C", dir.to_str().unwrap()])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(flag.tenant, "flag-team");
}

#[test]
fn single_file_stack_with_f() {
    let file = fixture("diagnostics/cycle.yaml");
    let out = run(&["validate", "-f", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let ok = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("diagnostics/cycle.yaml")).unwrap().replace("  dependsOn: [a]\n", "");
    std::fs::write(ok.path().join("all.yaml"), text).unwrap();
    let out = run(&["plan", "-f", ok.path().join("all.yaml").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn version_and_completion() {
    let out = run(&["version", "--output", "json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let out = run(&["completion", "bash"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("_panka"));
    let bad = run(&["plan", "--output", "yaml"], None);
    assert_eq!(bad.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn the_shared_program_is_planned_first_under_its_own_heading() {
    let out = run(&["plan", "-e", "dev"], Some(&support::root().join("examples/minimal")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let shared = text.find("the stack's shared program").unwrap_or_else(|| panic!("{text}"));
    let wave1 = text.find("wave 1").unwrap_or_else(|| panic!("{text}"));
    assert!(shared < wave1 && text[shared..wave1].contains("_stack/shared (Stack)"), "{text}");
    assert!(!text.contains("deletions"), "nothing is deleted: {text}");
}
