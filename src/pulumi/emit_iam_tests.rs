//! Permissions in emitted programs (issue 12), one test per defect, on the
//! fixture `tests/fixtures/pulumi/iam`. tests/iam_documents.rs checks the
//! same documents against AWS's own data.

use serde_yaml::Value;

use super::check::check_program;
use super::emit::{emit_component, EmitOptions};
use super::program::Program;
use super::schema::tests::real_schema;
use crate::load::{load, LoadOptions, LoadedStack};
use crate::model::ComponentId;

fn stack() -> LoadedStack {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pulumi/iam");
    let opts = LoadOptions { dir, environment: "dev".into(), ..LoadOptions::default() };
    load(&opts).unwrap_or_else(|f| panic!("{f}: {:#?}", f.diagnostics))
}

fn emit(stack: &LoadedStack, id: &str) -> Program {
    let (service, name) = id.split_once('/').unwrap();
    let opts = EmitOptions { tenant: "default".into(), endpoint: None };
    emit_component(stack, &ComponentId::new(service, name), &opts).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn of_type<'p>(p: &'p Program, token: &str) -> Vec<&'p str> {
    p.resources.iter().filter(|(_, r)| r.type_token == token).map(|(n, _)| n.as_str()).collect()
}

/// The statements of resource `name`'s `policy` (a `fn::toJSON` document).
fn statements(p: &Program, name: &str) -> Vec<Value> {
    let r = p.resources.get(name).unwrap_or_else(|| panic!("no `{name}` in\n{}", p.to_yaml()));
    let doc = &r.properties[&Value::from("policy")]["fn::toJSON"];
    doc["Statement"].as_sequence().cloned().unwrap_or_default()
}

fn actions(statements: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for s in statements {
        match &s["Action"] {
            Value::String(a) => out.push(a.clone()),
            Value::Sequence(items) => out.extend(items.iter().filter_map(|a| a.as_str().map(str::to_string))),
            _ => {}
        }
    }
    out
}

fn depends_on(p: &Program, name: &str) -> Vec<String> {
    p.resources[name].options.depends_on.clone()
}

#[test]
fn every_fixture_program_passes_the_schema_check() {
    let stack = stack();
    for id in stack.components.keys() {
        let p = emit(&stack, &id.to_string());
        let problems = check_program(real_schema(), &p.to_value());
        assert!(problems.is_empty(), "{id}: {problems:#?}\n{}", p.to_yaml());
    }
}

#[test]
fn two_topics_subscribing_one_queue_share_the_queues_one_policy() {
    let stack = stack();
    for topic in ["data/orders", "other/refunds"] {
        let p = emit(&stack, topic);
        assert!(of_type(&p, "aws:sqs:QueuePolicy").is_empty(), "{topic} still writes the queue's policy");
        assert_eq!(of_type(&p, "aws:sns:TopicSubscription").len(), 1, "{topic}");
    }
    let queue = emit(&stack, "data/inbox");
    assert_eq!(of_type(&queue, "aws:sqs:QueuePolicy"), vec!["topicsPolicy"]);
    let st = statements(&queue, "topicsPolicy");
    assert_eq!(st.len(), 2, "{st:#?}");
    let sources: Vec<&str> =
        st.iter().map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].as_str().unwrap_or_default()).collect();
    assert!(sources[0].ends_with(":iamfix-dev-data-orders"), "{sources:?}");
    assert!(sources[1].ends_with(":iamfix-dev-other-refunds"), "{sources:?}");
    // No account configured: read from the caller's identity, no cycle
    // through the topics' programs.
    assert!(sources.iter().all(|s| s.starts_with("arn:${partition}:sns:eu-west-1:${callerAccountId}:")), "{sources:?}");
    assert!(queue.variables.contains_key("callerAccountId"));
    assert!(!queue.resources.keys().any(|k| k.starts_with("ref-")), "the queue reads no other program");
    // A queue nobody subscribes has no policy.
    assert!(of_type(&emit(&stack, "data/files"), "aws:sqs:QueuePolicy").is_empty());
}

#[test]
fn a_plain_reference_grants_read_and_access_grants_write() {
    let stack = stack();
    let reader = actions(&statements(&emit(&stack, "app/reader"), "taskRoleAccess"));
    for read in ["sqs:ReceiveMessage", "sns:GetTopicAttributes", "s3:GetObject", "dynamodb:GetItem"] {
        assert!(reader.contains(&read.to_string()), "{read} missing: {reader:?}");
    }
    for write in [
        "sqs:SendMessage",
        "sqs:DeleteMessage",
        "sns:Publish",
        "s3:PutObject",
        "lambda:InvokeFunction",
        "dynamodb:PutItem",
    ] {
        assert!(!reader.contains(&write.to_string()), "a plain reference grants {write}: {reader:?}");
    }
    let writer = actions(&statements(&emit(&stack, "app/writer"), "taskRoleAccess"));
    for write in ["sqs:SendMessage", "sns:Publish", "s3:PutObject", "lambda:InvokeFunction"] {
        assert!(writer.contains(&write.to_string()), "{write} missing: {writer:?}");
    }
}

#[test]
fn customer_managed_keys_are_granted_and_aws_managed_keys_are_not() {
    let stack = stack();
    let key = "arn:aws:kms:eu-west-1:111122223333:key/1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809";
    let kms = |p: &Program| -> Vec<Value> {
        statements(p, "taskRoleAccess")
            .into_iter()
            .filter(|s| actions(std::slice::from_ref(s)).iter().any(|a| a.starts_with("kms:")))
            .collect()
    };
    let reader = kms(&emit(&stack, "app/reader"));
    assert_eq!(reader.len(), 1, "{reader:#?}");
    assert_eq!(actions(&reader), vec!["kms:Decrypt"]);
    assert_eq!(reader[0]["Resource"][0].as_str(), Some(key));

    let writer = kms(&emit(&stack, "app/writer"));
    // The bucket's key by ARN; the secure topic's alias by condition; the
    // orders topic (alias/aws/sns) and the plain bucket (AES256) need none.
    assert_eq!(writer.len(), 2, "{writer:#?}");
    assert_eq!(actions(&writer[..1]), vec!["kms:Decrypt", "kms:GenerateDataKey"]);
    assert_eq!(writer[0]["Resource"][0].as_str(), Some(key));
    assert_eq!(
        writer[1]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"][0].as_str(),
        Some("alias/iamfix-events")
    );
    assert_eq!(writer[1]["Resource"][0].as_str(), Some("arn:${partition}:kms:eu-west-1:${callerAccountId}:key/*"));
}

#[test]
fn the_scheduler_tags_the_task_passes_both_roles_and_has_a_dead_letter_queue() {
    let p = emit(&stack(), "app/nightly");
    let st = statements(&p, "schedulerRolePolicy");
    let by_sid = |sid: &str| st.iter().find(|s| s["Sid"].as_str() == Some(sid)).unwrap_or_else(|| panic!("{sid}"));
    let tag = by_sid("TagTheTask");
    assert_eq!(tag["Action"].as_str(), Some("ecs:TagResource"));
    assert_eq!(tag["Condition"]["StringEquals"]["ecs:CreateAction"].as_str(), Some("RunTask"));
    assert_eq!(tag["Resource"][0].as_str(), Some("arn:${partition}:ecs:eu-west-1:${callerAccountId}:task/iamfix/*"));
    let pass = by_sid("PassTheTaskRoles");
    assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"].as_str(), Some("ecs-tasks.amazonaws.com"));
    let roles: Vec<&str> = pass["Resource"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(roles, vec!["${taskRole.arn}", "${executionRole.arn}"]);
    assert_eq!(by_sid("DeadLetters")["Resource"][0].as_str(), Some("${deadLetterQueue.arn}"));

    let target = &p.resources["schedule"].properties[&Value::from("target")];
    assert_eq!(target["deadLetterConfig"]["arn"].as_str(), Some("${deadLetterQueue.arn}"));
    assert!(target["retryPolicy"]["maximumRetryAttempts"].is_number());
    assert_eq!(p.resources["deadLetterQueue"].type_token, "aws:sqs:Queue");
    let dlq = statements(&p, "deadLetterQueuePolicy");
    assert_eq!(dlq[0]["Principal"]["AWS"].as_str(), Some("${schedulerRole.arn}"));
    let deps = depends_on(&p, "schedule");
    assert!(deps.contains(&"schedulerRolePolicy".into()) && deps.contains(&"deadLetterQueuePolicy".into()), "{deps:?}");
}

#[test]
fn what_runs_with_a_role_waits_for_the_roles_policies() {
    let stack = stack();
    let writer = emit(&stack, "app/writer");
    for r in ["taskDefinition", "service"] {
        let deps = depends_on(&writer, r);
        for policy in ["taskRoleAccess", "executionRoleManaged"] {
            assert!(deps.contains(&policy.to_string()), "{r} does not wait for {policy}: {deps:?}");
        }
    }
    let handler = emit(&stack, "app/handler");
    let deps = depends_on(&handler, "function");
    for policy in ["roleLogs", "roleAccess", "roleVpc"] {
        assert!(deps.contains(&policy.to_string()), "function does not wait for {policy}: {deps:?}");
    }
    let mapping = of_type(&handler, "aws:lambda:EventSourceMapping");
    assert_eq!(mapping.len(), 1);
    assert!(depends_on(&handler, mapping[0]).contains(&"roleAccess".to_string()));
    // The scheduler's policy names the task definition: no cycle.
    let nightly = emit(&stack, "app/nightly");
    assert!(!depends_on(&nightly, "taskDefinition").contains(&"schedulerRolePolicy".to_string()));
    assert!(depends_on(&nightly, "schedulerRolePolicy").is_empty());
}
