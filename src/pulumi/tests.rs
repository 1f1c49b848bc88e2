//! Cross-module tests of emission: golden programs per kind and hostile
//! strings in every string field.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::Value;

use super::check::check_program;
use super::emit::{emit_component, EmitOptions};
use super::interp::{self, Part};
use super::schema::tests::real_schema;
use crate::load::{load, LoadOptions, LoadedStack};
use crate::model::{ComponentSpec, Kind};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pulumi").join(name)
}

fn load_env(env: &str) -> LoadedStack {
    let opts = LoadOptions { dir: fixture("all-kinds"), environment: env.to_string(), ..LoadOptions::default() };
    load(&opts).unwrap_or_else(|f| panic!("{f}: {:#?}", f.diagnostics))
}

fn opts() -> EmitOptions {
    EmitOptions { tenant: "default".into(), endpoint: None }
}

/// One golden program per kind: `tests/fixtures/pulumi/golden/<Kind>.yaml`,
/// from the all-kinds fixture in `production`. `PANKA_UPDATE_GOLDEN=1`
/// rewrites them.
#[test]
fn golden_program_per_kind() {
    let stack = load_env("production");
    let dir = fixture("golden");
    let update = std::env::var_os("PANKA_UPDATE_GOLDEN").is_some();
    let mut kinds = BTreeSet::new();
    let mut mismatches = Vec::new();
    for (id, c) in &stack.components {
        assert!(kinds.insert(c.kind), "two {} in the fixture", c.kind);
        let program = emit_component(&stack, id, &opts()).unwrap();
        let text = program.to_yaml();
        let path = dir.join(format!("{}.yaml", c.kind));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (PANKA_UPDATE_GOLDEN=1 writes it)", path.display()));
            if want != text {
                mismatches.push(path.display().to_string());
            }
        }
    }
    assert_eq!(kinds.len(), 10, "the fixture has one component of every kind");
    assert!(
        mismatches.is_empty(),
        "programs differ from their golden files (PANKA_UPDATE_GOLDEN=1 to accept): {mismatches:?}"
    );
}

#[test]
fn in_tenant_mode_every_role_carries_the_tenants_boundary() {
    let stack = load_env("production");
    let o = EmitOptions { tenant: "shop".into(), endpoint: None };
    let mut roles = 0;
    for id in stack.components.keys() {
        let program = emit_component(&stack, id, &o).unwrap();
        let v = program.to_value();
        let problems = check_program(real_schema(), &v);
        assert!(problems.is_empty(), "{id}: {problems:?}");
        for (_, r) in v["resources"].as_mapping().unwrap() {
            if r["type"] == "aws:iam:Role" {
                roles += 1;
                assert_eq!(
                    r["properties"]["permissionsBoundary"],
                    Value::from("arn:${partition}:iam::${pankaAccountId}:policy/panka/panka-tenant-shop-boundary"),
                    "{id}"
                );
            }
        }
        let default = emit_component(&stack, id, &opts()).unwrap().to_yaml();
        assert!(!default.contains("permissionsBoundary"), "{id}: only in tenant mode");
    }
    assert!(roles >= 3, "the fixture's kinds create roles: {roles}");
}

#[test]
fn emulator_endpoint_reaches_the_provider() {
    let stack = load_env("dev");
    let id = stack.components.keys().next().unwrap().clone();
    let o = EmitOptions { tenant: "default".into(), endpoint: Some("http://127.0.0.1:5000".into()) };
    let v = emit_component(&stack, &id, &o).unwrap().to_value();
    let provider = &v["resources"]["aws"]["properties"];
    assert_eq!(provider["endpoints"][0]["s3"], Value::from("http://127.0.0.1:5000"));
    assert_eq!(provider["s3UsePathStyle"], Value::Bool(true));
    assert_eq!(provider["skipCredentialsValidation"], Value::Bool(true));
    assert!(provider.get("allowedAccountIds").is_none(), "dev has no account guard");
    assert!(check_program(real_schema(), &v).is_empty());
    let prod = load_env("production");
    let v = emit_component(&prod, &id, &opts()).unwrap().to_value();
    let provider = &v["resources"]["aws"]["properties"];
    assert_eq!(provider["allowedAccountIds"][0], Value::from("123456789012"));
    assert_eq!(provider["region"], Value::from("eu-west-1"));
    assert!(provider.get("endpoints").is_none());
}

#[test]
fn production_protects_stateful_kinds_and_dev_does_not() {
    for (env, protected) in [("production", true), ("dev", false)] {
        let stack = load_env(env);
        for (id, c) in &stack.components {
            let v = emit_component(&stack, id, &opts()).unwrap().to_value();
            let resources = v["resources"].as_mapping().unwrap();
            let any_protected = resources.values().any(|r| r["options"]["protect"] == Value::Bool(true));
            assert_eq!(any_protected, protected && c.kind.is_stateful(), "{env} {id}");
        }
    }
}

/// Every string in a program as Pulumi will read it (escapes removed),
/// with the text of interpolations dropped.
fn pulumi_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Ok(parts) = interp::parse(s) {
                out.push(
                    parts
                        .iter()
                        .filter_map(|p| match p {
                            Part::Text(t) => Some(t.as_str()),
                            Part::Interp(_) => None,
                        })
                        .collect(),
                );
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Value::String(k) = k {
                    out.push(k.clone());
                }
                pulumi_texts(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| pulumi_texts(x, out)),
        _ => {}
    }
}

/// Resource names with types, output names and variable names.
fn shape(v: &Value) -> Vec<String> {
    let mut s = Vec::new();
    for (section, with_type) in [("resources", true), ("outputs", false), ("variables", false)] {
        if let Some(m) = v.get(section).and_then(Value::as_mapping) {
            for (k, r) in m {
                let ty = if with_type { r["type"].as_str().unwrap_or("") } else { "" };
                // Subscriptions are named by a hash of their (user) name.
                let name = k.as_str().unwrap_or("");
                let name = match name.find("sub-") {
                    Some(i) => format!("{}sub-#", &name[..i]),
                    None => name.to_string(),
                };
                s.push(format!("{section}.{name}:{ty}"));
            }
        }
    }
    s
}

fn string_leaves(v: &serde_json::Value, path: &mut Vec<serde_json::Value>, out: &mut Vec<Vec<serde_json::Value>>) {
    match v {
        serde_json::Value::String(_) => out.push(path.clone()),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.into());
                string_leaves(x, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone().into());
                string_leaves(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn set_at(v: &mut serde_json::Value, path: &[serde_json::Value], new: &str) {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            serde_json::Value::Number(n) => &mut cur[n.as_u64().unwrap() as usize],
            serde_json::Value::String(k) => &mut cur[k.as_str()],
            _ => unreachable!(),
        };
    }
    *cur = serde_json::Value::String(new.to_string());
}

/// Fields that never reach a program (graph-only), or that name other
/// components (a hostile value there is an unknown component: an error).
fn not_emitted(path: &[serde_json::Value]) -> bool {
    let first = path.first().and_then(|s| s.as_str()).unwrap_or("");
    let last = path.last().and_then(|s| s.as_str()).unwrap_or("");
    first == "dependsOn"
        || last == "component"
        || (first == "environment" && last == "output")
        || (first == "secrets" && last == "output")
}

#[test]
fn hostile_strings_in_every_string_field_arrive_intact_and_change_no_structure() {
    let base = "${x} $${y} $$z \"dq\" 'sq'\nnext: line # not a comment\t{a: [b]} ünïcødé ☃ ${a.b.c} fn::toJSON";
    let long = base.repeat(10_240 / base.len() + 1);
    let hostile = [base.to_string(), long];
    let stack = load_env("dev");
    let mut checked = 0;
    let mut refused = 0;
    for (id, c) in &stack.components {
        let baseline = shape(&emit_component(&stack, id, &opts()).unwrap().to_value());
        let spec = serde_json::to_value(&c.spec).unwrap();
        let mut leaves = Vec::new();
        string_leaves(&spec, &mut Vec::new(), &mut leaves);
        for path in leaves {
            if not_emitted(&path) {
                continue;
            }
            for h in &hostile {
                let mut j = spec.clone();
                // The resolved model holds panka templates: literal text is
                // escaped (`${` → `$${`), exactly as the loader leaves it.
                set_at(&mut j, &path, &crate::load::template::escape(h));
                let Ok(new_spec) = ComponentSpec::from_json(c.kind, j) else {
                    continue; // an enum or a constrained field
                };
                let mut st = stack.clone();
                st.components.get_mut(id).unwrap().spec = new_spec;
                let program = match emit_component(&st, id, &opts()) {
                    Ok(p) => p,
                    // A clean refusal (e.g. a value whose meaning panka
                    // checks) is fine; a panic or a broken program is not.
                    Err(e @ super::emit::EmitError::Invalid { .. }) => {
                        assert!(e.to_string().contains(&id.to_string()));
                        refused += 1;
                        continue;
                    }
                    Err(e) => panic!("{id} {path:?}: hostile value refused: {e}"),
                };
                let v = program.to_value();
                let text = program.to_yaml();
                let back: Value = serde_yaml::from_str(&text).unwrap();
                assert_eq!(back, v, "{id} {path:?}: YAML text does not read back");
                let problems = check_program(real_schema(), &v);
                assert!(problems.is_empty(), "{id} {path:?}: {problems:#?}");
                assert_eq!(shape(&v), baseline, "{id} {path:?}: structure changed");
                if path.first().and_then(|p| p.as_str()) == Some("subscriptions")
                    && path.last().and_then(|p| p.as_str()) == Some("name")
                {
                    continue; // only its hash names the resource
                }
                let mut texts = Vec::new();
                pulumi_texts(&v, &mut texts);
                let json = serde_json::to_string(h).unwrap();
                let json = &json[1..json.len() - 1];
                assert!(
                    texts.iter().any(|t| t.contains(h.as_str()) || t.contains(json)),
                    "{id} {path:?}: the value did not arrive intact"
                );
                checked += 1;
            }
        }
        let _ = Kind::ALL;
    }
    assert!(checked > 100, "only {checked} field/value pairs checked");
    assert!(refused < 5, "{refused} hostile values refused");
}

#[test]
fn hostile_strings_in_stack_level_fields_arrive_intact() {
    let h = "${x} $${y} \"q\"\n: # ☃ ${a.b.c}";
    let escaped = crate::load::template::escape(h);
    let stack = load_env("dev");
    let spec = serde_json::to_value(&stack.stack.spec).unwrap();
    let mut leaves = Vec::new();
    string_leaves(&spec["shared"], &mut vec!["shared".into()], &mut leaves);
    type Mutation = Box<dyn Fn(&mut LoadedStack)>;
    let mut cases: Vec<Mutation> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for path in leaves {
        // Public subnets belong to the shared load balancer, not to panka.
        if path.iter().any(|p| p == "publicSubnetIds") {
            continue;
        }
        let escaped = escaped.clone();
        names.push(format!("{path:?}"));
        cases.push(Box::new(move |st: &mut LoadedStack| {
            let mut j = serde_json::to_value(&st.stack.spec).unwrap();
            set_at(&mut j, &path, &escaped);
            st.stack.spec = serde_json::from_value(j).unwrap();
        }));
    }
    names.push("region".into());
    names.push("accountId".into());
    let e2 = escaped.clone();
    cases.push(Box::new(move |st: &mut LoadedStack| st.provider.region = e2.clone()));
    cases.push(Box::new(move |st: &mut LoadedStack| st.provider.account_id = Some(escaped.clone())));
    assert!(cases.len() > 5);
    for (i, mutate) in cases.iter().enumerate() {
        let mut st = stack.clone();
        mutate(&mut st);
        let mut seen = false;
        for id in st.components.keys() {
            let v = emit_component(&st, id, &opts()).unwrap().to_value();
            let problems = check_program(real_schema(), &v);
            assert!(problems.is_empty(), "case {i} {id}: {problems:#?}");
            let mut texts = Vec::new();
            pulumi_texts(&v, &mut texts);
            seen |= texts.iter().any(|t| t.contains(h));
        }
        assert!(seen, "case {i}: the value reached no program ({})", names[i]);
    }
}

/// Every example under `examples/`, for every environment it mentions,
/// renders and every program passes the pulumi-aws schema check.
#[test]
fn every_example_renders_valid_programs_in_every_environment() {
    use crate::pulumi::render::{render_stack, waves_of};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut rendered = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("stack.yaml").exists() {
            continue;
        }
        let base = LoadOptions { dir: dir.clone(), ..LoadOptions::default() };
        for env in crate::load::known_environments(&base) {
            let o = LoadOptions { environment: env.clone(), ..base.clone() };
            let p = crate::pipeline::prepare(&o)
                .unwrap_or_else(|f| panic!("{} {env}: {f} {:#?}", dir.display(), f.diagnostics));
            for endpoint in [None, Some("http://127.0.0.1:5000".to_string())] {
                let opts = EmitOptions { tenant: "default".into(), endpoint };
                let programs = render_stack(&p.stack, &waves_of(&p.graph), &opts)
                    .unwrap_or_else(|e| panic!("{} {env}: {e:?}", dir.display()));
                let shared = usize::from(crate::plan::has_shared(&p.stack));
                assert_eq!(programs.len(), p.stack.components.len() + shared);
                if shared == 1 {
                    assert_eq!((programs[0].wave, programs[0].component.as_str()), (0, crate::plan::SHARED_KEY));
                }
                for r in programs {
                    let problems = check_program(real_schema(), &r.program.to_value());
                    assert!(problems.is_empty(), "{} {env} {}: {problems:#?}", dir.display(), r.component);
                    rendered += 1;
                }
            }
        }
    }
    assert!(rendered >= 20, "only {rendered} programs rendered");
}

#[test]
fn every_program_exports_every_output_its_kind_documents() {
    let stack = load_env("production");
    for (id, c) in &stack.components {
        let v = emit_component(&stack, id, &opts()).unwrap().to_value();
        let outputs = v["outputs"].as_mapping().unwrap();
        for name in c.kind.outputs() {
            assert!(outputs.contains_key(*name), "{id} ({}) lacks output `{name}`", c.kind);
        }
    }
}
