//! The IAM fixture (two topics of two services subscribing one queue, a
//! CronJob with its dead-letter queue, roles waiting for their policies)
//! through the real Pulumi engine and the stand-in provider: the queue's
//! one policy names the ARNs the topics really got, with no cycle between
//! the programs.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::pulumi::{resources, seed};
use support::{copy_dir, panka, stderr, stdout};

fn live(cloud: &std::path::Path, type_token: &str) -> Vec<Value> {
    resources(cloud).into_iter().filter(|r| r["type"] == type_token).collect()
}

/// A policy input: the JSON text the program's `fn::toJSON` produced.
fn policy(r: &Value) -> Value {
    serde_json::from_str(r["inputs"]["policy"].as_str().unwrap_or_else(|| panic!("no policy in {r:#}"))).unwrap()
}

#[test]
fn two_topics_deliver_to_one_queue_through_its_one_policy_and_the_cronjob_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("iamfix");
    let cloud = dir.path().join("fake-cloud");
    std::fs::create_dir_all(&cloud).unwrap();
    copy_dir(&support::root().join("tests/fixtures/pulumi/iam"), &stack);
    seed(
        &cloud,
        "aws:ecs/cluster:Cluster",
        "iamfix",
        serde_json::json!({"name": "iamfix", "arn": "arn:aws:ecs:eu-west-1:111111111111:cluster/iamfix"}),
    );
    let run = |args: &[&str]| {
        let mut cmd = panka();
        cmd.current_dir(&stack).arg("--pulumi").arg(support::pulumi::pulumi()).args(args);
        for (k, v) in support::pulumi::env(&cloud) {
            cmd.env(k, v);
        }
        cmd.env("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple");
        cmd.timeout(Duration::from_secs(600));
        cmd.output().unwrap()
    };
    let o = run(&["apply", "--auto-approve", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}\nstdout:\n{}", stderr(&o), stdout(&o));

    let topics: Vec<String> = live(&cloud, "aws:sns/topic:Topic")
        .iter()
        .map(|t| t["outputs"]["arn"].as_str().unwrap().to_string())
        .filter(|a| !a.ends_with(":iamfix-dev-data-secure"))
        .collect();
    assert_eq!(topics.len(), 2, "{topics:?}");
    let queue_policies = live(&cloud, "aws:sqs/queuePolicy:QueuePolicy");
    let inbox: Vec<&Value> = queue_policies
        .iter()
        .filter(|p| p["inputs"]["queueUrl"].as_str().is_some_and(|u| u.ends_with("/iamfix-dev-data-inbox")))
        .collect();
    assert_eq!(inbox.len(), 1, "one policy on the queue: {queue_policies:#?}");
    let doc = policy(inbox[0]);
    let mut sources: Vec<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].as_str().unwrap().to_string())
        .collect();
    sources.sort();
    let mut expected = topics.clone();
    expected.sort();
    assert_eq!(sources, expected, "the policy names the topics' real ARNs");
    assert_eq!(live(&cloud, "aws:sns/topicSubscription:TopicSubscription").len(), 2);

    // The CronJob's schedule sends what it cannot deliver to its own queue.
    let schedule = &live(&cloud, "aws:scheduler/schedule:Schedule")[0];
    let dlq_arn = schedule["inputs"]["target"]["deadLetterConfig"]["arn"].as_str().unwrap().to_string();
    assert!(dlq_arn.ends_with(":iamfix-dev-app-nightly-dlq"), "{dlq_arn}");
    let dlq_policy = queue_policies
        .iter()
        .find(|p| p["inputs"]["queueUrl"].as_str().is_some_and(|u| u.ends_with("/iamfix-dev-app-nightly-dlq")))
        .expect("the dead-letter queue has a policy");
    assert_eq!(policy(dlq_policy)["Statement"][0]["Resource"].as_str(), Some(dlq_arn.as_str()));

    let o = run(&["destroy", "--auto-approve", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(resources(&cloud).is_empty(), "left in the fake cloud: {:#?}", resources(&cloud));
}
