//! The IAM documents that confine a tenant (SPEC §12), rendered by one
//! function ([`render`]) so that the Pulumi program and the tests read the
//! same text, and a small evaluator ([`evaluate`]) that answers allow/deny
//! for an action on a resource with a request context, following IAM's
//! evaluation logic for identity policies (an explicit Deny wins, then an
//! Allow, else the implicit deny).
//!
//! The evaluator exists because moto's IAM enforcement ignores condition
//! keys (`s3:prefix`, `dynamodb:LeadingKeys`, `iam:PermissionsBoundary`):
//! those parts of the policy are judged offline here.
//!
//! Action names come from AWS's Service Authorization data (as packaged by
//! parliament: `tests/tenants.rs` checks every action and condition key of
//! the rendered documents against it), not from API operation names
//! (`ListObjectsV2` is authorized as `s3:ListBucket`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The policy language version every document carries.
pub const VERSION: &str = "2012-10-17";

/// The IAM path of everything the platform team creates for tenants; a
/// tenant may not touch roles or policies under it.
pub const IAM_PATH: &str = "/panka/";

/// The tag every resource of a tenant's stacks carries (the provider's
/// default tags, `src/pulumi/emit.rs`): what scopes the resources whose ARNs
/// carry no name (security groups, listener rules, scaling targets).
pub const TENANT_TAG: &str = "panka:tenant";

/// Everything a tenant does with panka's state bucket and lock tables (the
/// statements above narrow them to its prefix and partition); any other
/// action there is denied outright, whatever a deploy statement's pattern
/// might match.
const STATE_ACTIONS: [&str; 13] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
];

/// The name of a tenant's permissions boundary (a managed policy under
/// [`IAM_PATH`]); emitted programs set it on every role in tenant mode.
pub fn boundary_name(tenant: &str) -> String {
    format!("panka-tenant-{tenant}-boundary")
}

/// What the documents of one tenant depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInput {
    pub tenant: String,
    pub bucket: String,
    /// `backend.prefix` without slashes at either end (may be empty).
    pub prefix: String,
    /// `locks.table`; `<table>-v2` is covered too (SPEC §9 migration).
    pub table: String,
    /// A glob over the tenant's stack names (`*`: all of them).
    pub stacks: String,
}

/// Who may assume the tenant's role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Trust {
    /// An IAM principal (account root, role or user ARN), with the
    /// tenant's external id.
    Principal { arn: String },
    /// A web identity: the OIDC provider's ARN and the subject pattern
    /// (`repo:acme/app:ref:refs/heads/main`), audience `sts.amazonaws.com`.
    Oidc { provider: String, subject: String },
}

impl Trust {
    /// `arn:aws:iam::123456789012:role/ci` (a principal), or
    /// `oidc:<provider ARN>=<subject pattern>`.
    pub fn parse(text: &str) -> Result<Trust, String> {
        let bad = |why: &str| format!("`--trust {text}`: {why}");
        if let Some(rest) = text.strip_prefix("oidc:") {
            let (provider, subject) =
                rest.split_once('=').ok_or_else(|| bad("write it as `oidc:<provider ARN>=<subject pattern>`"))?;
            let host = provider
                .strip_prefix("arn:aws:iam::")
                .and_then(|r| r.split_once(":oidc-provider/"))
                .filter(|(account, host)| is_account(account) && !host.is_empty())
                .map(|(_, host)| host);
            if host.is_none() {
                return Err(bad(
                    "the provider is not an OIDC provider ARN (`arn:aws:iam::<account>:oidc-provider/<host>`)",
                ));
            }
            if subject.is_empty() || subject.chars().any(|c| c.is_control() || c == '"') {
                return Err(bad("the subject pattern is empty or holds a quote or a control character"));
            }
            return Ok(Trust::Oidc { provider: provider.to_string(), subject: subject.to_string() });
        }
        let rest = text.strip_prefix("arn:aws:iam::").ok_or_else(|| {
            bad("a principal is an IAM ARN (`arn:aws:iam::<account>:root`, `…:role/<name>`, `…:user/<name>`); a web identity is `oidc:<provider ARN>=<subject>`")
        })?;
        let (account, resource) = rest.split_once(':').ok_or_else(|| bad("not an IAM ARN"))?;
        let valid_resource = resource == "root"
            || ["role/", "user/"].iter().any(|p| {
                resource.strip_prefix(p).is_some_and(|n| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
                })
            });
        if !is_account(account) || !valid_resource {
            return Err(bad("not an account root, role or user ARN"));
        }
        Ok(Trust::Principal { arn: text.to_string() })
    }

    /// How a person would write it on the command line.
    pub fn display(&self) -> String {
        match self {
            Trust::Principal { arn } => arn.clone(),
            Trust::Oidc { provider, subject } => format!("oidc:{provider}={subject}"),
        }
    }
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Why `glob` cannot restrict stack names, or `None`: stack-name
/// characters plus the IAM wildcards `*` and `?`.
pub fn stacks_glob_problem(glob: &str) -> Option<String> {
    if glob.is_empty() || glob.len() > 63 {
        return Some("it must be 1 to 63 characters".into());
    }
    if !glob.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'*' | b'?')) {
        return Some("it may hold only a-z, 0-9, `-`, `*` and `?`".into());
    }
    None
}

/// Why the resources of a new tenant `input.tenant` could not be told
/// apart by their names, or `None`. The deploy statements grant on
/// `<tenant>-*`, so the tenant must lead every name as written (a name must
/// start with a letter for RDS, ElastiCache and S3, and names collapse `--`),
/// and `<tenant>-` must not lead the state bucket's or a lock table's name.
/// Another tenant's name is [`tenant_overlap`]'s concern.
pub fn scoping_problem(input: &PolicyInput) -> Option<String> {
    let t = &input.tenant;
    if !t.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(format!(
            "`{t}` does not start with a letter: RDS, ElastiCache and bucket names must, and the tenant leads them"
        ));
    }
    if t.contains("--") {
        return Some(format!("`{t}` holds `--`, which physical names collapse to `-`"));
    }
    let mut platform = vec![("state bucket", input.bucket.clone())];
    for table in input.table_arns() {
        let name = table.rsplit_once('/').map(|(_, n)| n.to_string()).unwrap_or(table);
        platform.push(("lock table", name));
    }
    platform.into_iter().find(|(_, name)| name.starts_with(&format!("{t}-"))).map(|(what, name)| {
        format!("the {what} `{name}` starts with `{t}-`: the tenant's deploy policy would cover it")
    })
}

/// The existing tenant whose names `tenant`'s `<tenant>-*` patterns would
/// cover (or the other way round): `a` and `a-b` cannot both exist, since
/// `a-b-shop-…` is tenant `a`'s stack `b-shop` as much as tenant `a-b`'s
/// stack `shop`.
pub fn tenant_overlap<'a>(tenant: &str, existing: &'a [String]) -> Option<&'a str> {
    existing
        .iter()
        .find(|other| {
            other.as_str() != tenant
                && (other.starts_with(&format!("{tenant}-")) || tenant.starts_with(&format!("{other}-")))
        })
        .map(String::as_str)
}

impl PolicyInput {
    /// `<prefix>/` or empty.
    fn base(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The key prefix of all the tenant's objects: `<prefix>/tenants/<name>/`.
    pub fn root(&self) -> String {
        format!("{}tenants/{}/", self.base(), self.tenant)
    }

    /// The tenant's registry record.
    pub fn record_key(&self) -> String {
        format!("{}tenant.json", self.root())
    }

    /// The platform team's area (`<prefix>/admin/`).
    pub fn admin_root(&self) -> String {
        format!("{}admin/", self.base())
    }

    fn object_arn(&self, key_pattern: &str) -> String {
        format!("arn:aws:s3:::{}/{key_pattern}", self.bucket)
    }

    /// The state bucket, its objects and the lock tables.
    fn state_arns(&self) -> Vec<String> {
        let bucket = format!("arn:aws:s3:::{}", self.bucket);
        let mut arns = vec![bucket.clone(), format!("{bucket}/*")];
        arns.extend(self.table_arns());
        arns
    }

    fn table_arns(&self) -> Vec<String> {
        vec![
            format!("arn:aws:dynamodb:*:*:table/{}", self.table),
            format!("arn:aws:dynamodb:*:*:table/{}{}", self.table, crate::lock::dynamodb::V2_SUFFIX),
        ]
    }

    /// The lock partition (`tenant:<name>`, SPEC §9).
    pub fn lock_partition(&self) -> String {
        format!("tenant:{}", self.tenant)
    }

    /// The IAM role the tenant assumes.
    pub fn role_name(&self) -> String {
        format!("panka-tenant-{}", self.tenant)
    }

    /// The managed policy attached to the role.
    pub fn policy_name(&self) -> String {
        format!("panka-tenant-{}", self.tenant)
    }

    /// The managed policy of what the tenant's deployments may do.
    pub fn deploy_policy_name(&self) -> String {
        format!("panka-tenant-{}-deploy", self.tenant)
    }

    /// The permissions boundary every role the tenant creates must carry.
    pub fn boundary_name(&self) -> String {
        boundary_name(&self.tenant)
    }

    /// The boundary's ARN in the caller's account (an IAM policy variable:
    /// the account is not known when the documents are rendered).
    pub fn boundary_arn(&self) -> String {
        format!("arn:aws:iam::${{aws:PrincipalAccount}}:policy{IAM_PATH}{}", self.boundary_name())
    }
}

/// The tenant's documents.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Documents {
    /// Attached to the tenant's role: its state, locks and roles.
    pub policy: Value,
    /// Attached to the tenant's role: what its deployments create.
    pub deploy: Value,
    /// The permissions boundary of the roles the tenant's stacks create.
    pub boundary: Value,
    /// The role's trust policy.
    pub trust: Value,
}

/// Renders the tenant's policy, the permissions boundary and the trust
/// policy (`external_id` guards principals; web identities are guarded by
/// their subject).
pub fn render(input: &PolicyInput, trust: &[Trust], external_id: &str) -> Documents {
    Documents {
        policy: tenant_policy(input),
        deploy: deploy_policy(input),
        boundary: boundary_policy(input),
        trust: trust_policy(trust, external_id),
    }
}

/// The ARN patterns of the resources a tenant's stacks create, by name:
/// every regional physical name starts with `<tenant>-`, container log
/// groups with `/ecs/<tenant>/` (docs/names.md). IAM's `*` spans `/` and
/// `:`, so `table/<t>-*` covers the tables' indexes and streams, and
/// `arn:aws:s3:::<t>-*` the buckets' objects.
pub fn owned_arns(tenant: &str) -> Vec<String> {
    let n = format!("{tenant}-*");
    vec![
        format!("arn:aws:sqs:*:*:{n}"),
        format!("arn:aws:sns:*:*:{n}"),
        format!("arn:aws:dynamodb:*:*:table/{n}"),
        format!("arn:aws:lambda:*:*:function:{n}"),
        format!("arn:aws:logs:*:*:log-group:/ecs/{tenant}/*"),
        format!("arn:aws:logs:*:*:log-group:/aws/lambda/{n}"),
        format!("arn:aws:ecs:*:*:cluster/{n}"),
        format!("arn:aws:ecs:*:*:service/*/{n}"),
        format!("arn:aws:ecs:*:*:task-definition/{n}"),
        format!("arn:aws:ecs:*:*:task/{n}"),
        format!("arn:aws:elasticloadbalancing:*:*:targetgroup/{n}"),
        format!("arn:aws:cloudwatch:*:*:alarm:{n}"),
        format!("arn:aws:scheduler:*:*:schedule/*/{n}"),
        format!("arn:aws:rds:*:*:db:{n}"),
        format!("arn:aws:rds:*:*:subgrp:{n}"),
        format!("arn:aws:rds:*:*:snapshot:{n}"),
        format!("arn:aws:elasticache:*:*:replicationgroup:{n}"),
        format!("arn:aws:elasticache:*:*:cluster:{n}"),
        format!("arn:aws:elasticache:*:*:subnetgroup:{n}"),
        format!("arn:aws:elasticache:*:*:snapshot:{n}"),
        format!("arn:aws:s3:::{n}"),
    ]
}

/// The services whose resources [`owned_arns`] names: `<service>:*` on
/// those ARNs only (an ARN pattern of one service never matches another
/// service's action).
const OWNED_SERVICES: [&str; 12] = [
    "sqs:*",
    "sns:*",
    "dynamodb:*",
    "lambda:*",
    "logs:*",
    "ecs:*",
    "elasticloadbalancing:*",
    "cloudwatch:*",
    "scheduler:*",
    "rds:*",
    "elasticache:*",
    "s3:*",
];

/// The tenant's IAM roles (`<tenant>-…-<hash>`, at the path `/`).
fn role_arns(tenant: &str) -> Vec<String> {
    vec![format!("arn:aws:iam::*:role/{tenant}-*")]
}

fn tag_is(key: &str, tenant: &str) -> Value {
    json!({"StringEquals": {format!("{key}/{TENANT_TAG}"): tenant}})
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}

fn conditioned(sid: &str, actions: &[&str], resources: Vec<String>, condition: Value) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, "Condition": condition})
}

fn arns(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| p.to_string()).collect()
}

/// What a tenant's deployments may do (SPEC §12, docs/tenants.md "What a
/// tenant can still reach"): everything on the resources its names own,
/// tag-scoped create/change/delete where AWS's ARNs carry no name, metadata
/// reads anywhere, and a short list of actions AWS authorizes on `*` only.
fn deploy_statements(tenant: &str) -> Vec<Value> {
    let sg = "arn:aws:ec2:*:*:security-group/*";
    let sg_rule = "arn:aws:ec2:*:*:security-group-rule/*";
    let listener = "arn:aws:elasticloadbalancing:*:*:listener/app/*";
    let rule = "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*";
    let target = "arn:aws:application-autoscaling:*:*:scalable-target/*";
    let function = format!("arn:aws:lambda:*:*:function:{tenant}-*");
    // One statement may hold several services' actions and ARNs: an ARN
    // pattern of one service never matches another service's action.
    vec![
        statement("Owned", &OWNED_SERVICES, owned_arns(tenant)),
        // Metadata only: AWS authorizes these on `*` (or Pulumi reads through them).
        statement(
            "Read",
            &[
                "ec2:Describe*",
                "ecs:Describe*",
                "ecs:List*",
                "elasticloadbalancing:Describe*",
                "application-autoscaling:Describe*",
                "application-autoscaling:ListTagsForResource",
                "logs:Describe*",
                "rds:Describe*",
                "rds:ListTagsForResource",
                "elasticache:Describe*",
                "elasticache:ListTagsForResource",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
                "sqs:ListQueues",
                "sns:ListTopics",
                "sns:ListSubscriptions",
                "sns:GetSubscriptionAttributes",
                "dynamodb:ListTables",
                "lambda:ListEventSourceMappings",
                "lambda:ListTags",
                "kms:DescribeKey",
            ],
            arns(&["*"]),
        ),
        // AWS authorizes these on `*` only, with no name or tag to scope them.
        statement(
            "Unscoped",
            &["ecs:DeregisterTaskDefinition", "sns:Unsubscribe", "sns:SetSubscriptionAttributes"],
            arns(&["*"]),
        ),
        // Resources whose ARN has no name and whose actions have no tag key:
        // a group in the platform's VPC, a listener rule's priority, an event
        // source mapping's tags.
        statement(
            "Unnamed",
            &[
                "ec2:CreateSecurityGroup",
                "elasticloadbalancing:SetRulePriorities",
                "lambda:TagResource",
                "lambda:UntagResource",
            ],
            arns(&["arn:aws:ec2:*:*:vpc/*", rule, "arn:aws:lambda:*:*:event-source-mapping:*"]),
        ),
        conditioned(
            "EventSources",
            &[
                "lambda:CreateEventSourceMapping",
                "lambda:GetEventSourceMapping",
                "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
            ],
            arns(&["*"]),
            json!({"ArnLike": {"lambda:FunctionArn": function}}),
        ),
        // Security groups, listener rules on the platform's listener and
        // scaling targets: created with the tenant's tag…
        conditioned(
            "CreateTagged",
            &[
                "ec2:CreateSecurityGroup",
                "elasticloadbalancing:CreateRule",
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
            ],
            arns(&[sg, listener, target]),
            tag_is("aws:RequestTag", tenant),
        ),
        conditioned(
            "TagOnCreate",
            &["ec2:CreateTags"],
            arns(&[sg, sg_rule]),
            json!({"StringEquals": {"ec2:CreateAction": ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]}}),
        ),
        conditioned(
            "RuleTagOnCreate",
            &["elasticloadbalancing:AddTags"],
            arns(&[rule]),
            json!({"StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}}),
        ),
        // …and changed or deleted only while they carry it.
        conditioned(
            "ChangeTagged",
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:ModifySecurityGroupRules",
                "ec2:UpdateSecurityGroupRuleDescriptions*",
                "ec2:DeleteSecurityGroup",
                "ec2:CreateTags",
                "ec2:DeleteTags",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
            ],
            arns(&[sg, sg_rule, rule, target]),
            tag_is("aws:ResourceTag", tenant),
        ),
        // A new rule of a group (the group itself is checked by `ChangeTagged`).
        statement(
            "GroupRuleCreate",
            &["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"],
            arns(&[sg_rule]),
        ),
        // Using (never changing) AWS's default parameter and option groups.
        statement(
            "DefaultGroups",
            &[
                "rds:CreateDBInstance",
                "rds:ModifyDBInstance",
                "elasticache:CreateReplicationGroup",
                "elasticache:ModifyReplicationGroup",
            ],
            arns(&["arn:aws:rds:*:*:pg:*", "arn:aws:rds:*:*:og:*", "arn:aws:elasticache:*:*:parametergroup:*"]),
        ),
        // The master password RDS keeps for an instance (`manageMasterUserPassword`): RDS names it.
        statement(
            "RdsSecret",
            &[
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:RotateSecret",
                "secretsmanager:DescribeSecret",
            ],
            arns(&["arn:aws:secretsmanager:*:*:secret:rds!*"]),
        ),
    ]
}

/// The tenant's deploy policy (a second managed policy on its role: the
/// two would not fit IAM's 6,144 characters as one).
pub fn deploy_policy(input: &PolicyInput) -> Value {
    json!({"Version": VERSION, "Statement": deploy_statements(&input.tenant)})
}

/// The tenant's role policy.
pub fn tenant_policy(input: &PolicyInput) -> Value {
    let root = input.root();
    let admin = input.admin_root();
    let bucket_arn = format!("arn:aws:s3:::{}", input.bucket);
    let state_objects = if input.stacks == "*" {
        vec![input.object_arn(&format!("{root}*"))]
    } else {
        vec![input.object_arn(&format!("{root}stacks/{}/*", input.stacks))]
    };
    let panka_state = input.state_arns();
    let lock_keys = vec![input.lock_partition(), format!("{}:*", input.lock_partition())];
    json!({
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TenantStateObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
                "Resource": state_objects,
            },
            {
                "Sid": "TenantRecordRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [input.object_arn(&input.record_key())],
            },
            {
                "Sid": "TenantStateList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [root.clone(), format!("{root}*"), format!("{admin}policies/"), format!("{admin}policies/*")]}},
            },
            {
                "Sid": "BucketLocation",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation"],
                "Resource": [format!("arn:aws:s3:::{}", input.bucket)],
            },
            {
                "Sid": "PolicyBundleRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [input.object_arn(&format!("{admin}policies/*"))],
            },
            {
                "Sid": "TenantRecordNeverWritten",
                "Effect": "Deny",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:PutObjectAcl"],
                "Resource": [input.object_arn(&input.record_key())],
            },
            {
                "Sid": "AdminAreaNeverWritten",
                "Effect": "Deny",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:PutObjectAcl"],
                "Resource": [input.object_arn(&format!("{admin}*"))],
            },
            {
                "Sid": "TenantLocks",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                "Resource": input.table_arns(),
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": lock_keys}},
            },
            {
                "Sid": "LockTableLayout",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable"],
                "Resource": input.table_arns(),
            },
            {
                "Sid": "RolesOnlyWithBoundary",
                "Effect": "Allow",
                "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                "Resource": role_arns(&input.tenant),
                "Condition": {"ArnEquals": {"iam:PermissionsBoundary": input.boundary_arn()}},
            },
            {
                "Sid": "RolesManage",
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:PassRole"],
                "Resource": role_arns(&input.tenant),
            },
            {
                "Sid": "PankaStateOnlyAsGranted",
                "Effect": "Deny",
                "NotAction": STATE_ACTIONS,
                "Resource": panka_state,
            },
            {
                "Sid": "PlatformIamNeverChanged",
                "Effect": "Deny",
                "Action": ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Update*", "iam:Attach*", "iam:Detach*", "iam:Tag*", "iam:Untag*", "iam:SetDefaultPolicyVersion", "iam:PassRole"],
                "Resource": [format!("arn:aws:iam::*:role{IAM_PATH}*"), format!("arn:aws:iam::*:policy{IAM_PATH}*")],
            },
            {
                "Sid": "BoundaryNeverRemoved",
                "Effect": "Deny",
                "Action": ["iam:DeleteRolePermissionsBoundary"],
                "Resource": ["*"],
            },
        ],
    })
}

/// The permissions boundary of the roles a tenant's stacks create: at most
/// the tenant's own resources (by name, as in the role policy) and what a
/// running task or function needs from AWS, never panka's state or locks,
/// never IAM writes, and no role to pass but the tenant's.
pub fn boundary_policy(input: &PolicyInput) -> Value {
    let mut owned = owned_arns(&input.tenant);
    owned.extend(role_arns(&input.tenant));
    let mut actions = OWNED_SERVICES.to_vec();
    actions.push("iam:PassRole");
    json!({
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "Runtime",
                "Effect": "Allow",
                "Action": actions,
                "Resource": owned,
            },
            {
                // What tasks and functions need beyond their own resources:
                // tracing, keys, parameters and secrets the user names,
                // image pulls, a VPC function's network interfaces, metrics.
                "Sid": "RuntimeAnywhere",
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                    "ssm:GetParameter*",
                    "secretsmanager:GetSecretValue",
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                    "cloudwatch:PutMetricData",
                ],
                "Resource": ["*"],
            },
            {
                "Sid": "NoPankaState",
                "Effect": "Deny",
                "Action": ["s3:*", "dynamodb:*"],
                "Resource": input.state_arns(),
            },
            {
                "Sid": "NoIamWrites",
                "Effect": "Deny",
                "Action": ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Update*", "iam:Attach*", "iam:Detach*"],
                "Resource": ["*"],
            },
        ],
    })
}

/// The role's trust policy.
pub fn trust_policy(trust: &[Trust], external_id: &str) -> Value {
    let principals: Vec<&str> = trust
        .iter()
        .filter_map(|t| match t {
            Trust::Principal { arn } => Some(arn.as_str()),
            Trust::Oidc { .. } => None,
        })
        .collect();
    let mut statements = Vec::new();
    if !principals.is_empty() {
        statements.push(json!({
            "Sid": "Principals",
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }));
    }
    for (i, t) in trust.iter().enumerate() {
        if let Trust::Oidc { provider, subject } = t {
            let host = provider.split_once(":oidc-provider/").map(|(_, h)| h).unwrap_or_default();
            statements.push(json!({
                "Sid": format!("WebIdentity{i}"),
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {format!("{host}:aud"): "sts.amazonaws.com"},
                    "StringLike": {format!("{host}:sub"): subject},
                },
            }));
        }
    }
    json!({"Version": VERSION, "Statement": statements})
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An explicit Deny statement matched.
    ExplicitDeny,
    /// No Allow matched.
    ImplicitDeny,
}

/// One request: the action, the resource ARN, and the request context
/// (condition keys, each with its values; a key that is absent is absent).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request { action: action.into(), resource: resource.into(), context: BTreeMap::new() }
    }

    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(key.to_string(), values.iter().map(|v| v.to_string()).collect());
        self
    }
}

/// Evaluates an identity policy for `request`: explicit Deny > Allow >
/// implicit deny. Supports Action/NotAction, Resource/NotResource, the
/// string and ARN condition operators (with `IfExists`, `ForAllValues:`,
/// `ForAnyValue:`), `Null`, and policy variables from the context
/// (`${aws:PrincipalAccount}`).
pub fn evaluate(policy: &Value, request: &Request) -> Decision {
    let statements = match &policy["Statement"] {
        Value::Array(s) => s.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut allowed = false;
    for s in &statements {
        if !statement_matches(s, request) {
            continue;
        }
        match s["Effect"].as_str() {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn statement_matches(s: &Value, r: &Request) -> bool {
    let action_hit = |key: &str| strings(&s[key]).iter().any(|p| glob(&p.to_lowercase(), &r.action.to_lowercase()));
    let action = if s.get("NotAction").is_some() { !action_hit("NotAction") } else { action_hit("Action") };
    if !action {
        return false;
    }
    let resource_hit = |key: &str| strings(&s[key]).iter().any(|p| glob(&substitute(p, &r.context), &r.resource));
    let resource = if s.get("NotResource").is_some() { !resource_hit("NotResource") } else { resource_hit("Resource") };
    if !resource {
        return false;
    }
    match s.get("Condition").and_then(Value::as_object) {
        None => true,
        Some(conditions) => conditions.iter().all(|(op, keys)| {
            keys.as_object().is_some_and(|keys| {
                keys.iter().all(|(key, expected)| condition(op, key, &strings(expected), &r.context))
            })
        }),
    }
}

/// Replaces `${key}` policy variables with the context's first value.
fn substitute(pattern: &str, context: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        let key = &rest[start + 2..start + end];
        // An unknown variable matches nothing (AWS: the statement does not apply).
        let value = context.get(key).and_then(|v| v.first()).cloned().unwrap_or_else(|| "\u{0}".to_string());
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn condition(op: &str, key: &str, expected: &[String], context: &BTreeMap<String, Vec<String>>) -> bool {
    let (set, op) = match op.split_once(':') {
        Some((set @ ("ForAllValues" | "ForAnyValue"), rest)) => (Some(set), rest),
        _ => (None, op),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let present = context.get(key);
    if op == "Null" {
        let want_absent = expected.iter().any(|e| e == "true");
        return want_absent == present.is_none();
    }
    let expected: Vec<String> = expected.iter().map(|e| substitute(e, context)).collect();
    let one = |actual: &str| -> Option<bool> {
        let any = |f: &dyn Fn(&str) -> bool| expected.iter().any(|e| f(e));
        Some(match op {
            "StringEquals" | "ArnEquals" => any(&|e| e == actual),
            "StringNotEquals" | "ArnNotEquals" => !any(&|e| e == actual),
            "StringEqualsIgnoreCase" => any(&|e| e.eq_ignore_ascii_case(actual)),
            "StringLike" | "ArnLike" => any(&|e| glob(e, actual)),
            "StringNotLike" | "ArnNotLike" => !any(&|e| glob(e, actual)),
            "Bool" => any(&|e| e == actual),
            _ => return None,
        })
    };
    let Some(values) = present else {
        // A missing key: ForAllValues is vacuously true, ForAnyValue false;
        // plain operators fail, except the negated ones and `…IfExists`.
        return match set {
            Some("ForAllValues") => true,
            Some(_) => false,
            None => if_exists || op.contains("Not"),
        };
    };
    let results: Vec<Option<bool>> = values.iter().map(|v| one(v)).collect();
    if results.iter().any(Option::is_none) {
        return false; // An operator this evaluator does not know: never grants.
    }
    let results: Vec<bool> = results.into_iter().flatten().collect();
    match set {
        Some("ForAllValues") => results.iter().all(|b| *b),
        Some(_) => results.iter().any(|b| *b),
        None => results.iter().any(|b| *b),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tenant: &str) -> PolicyInput {
        PolicyInput {
            tenant: tenant.into(),
            bucket: "state".into(),
            prefix: "org".into(),
            table: "panka-locks".into(),
            stacks: "*".into(),
        }
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/panka-locks";

    fn obj(key: &str) -> String {
        format!("arn:aws:s3:::state/{key}")
    }

    fn allow(p: &Value, r: Request) -> bool {
        evaluate(p, &r) == Decision::Allow
    }

    /// The role's two managed policies as one: IAM evaluates the union of
    /// a principal's identity policies (a Deny in either wins).
    fn both(input: &PolicyInput) -> Value {
        let d = render(input, &[], "x");
        let mut statements = d.policy["Statement"].as_array().unwrap().clone();
        statements.extend(d.deploy["Statement"].as_array().unwrap().iter().cloned());
        json!({"Version": VERSION, "Statement": statements})
    }

    const ACCOUNT: &str = "arn:aws:{service}:eu-west-1:123456789012:";

    fn arn(service: &str, rest: &str) -> String {
        format!("{}{rest}", ACCOUNT.replace("{service}", service))
    }

    /// `(action, resource of tenant a, the same of tenant b)`: physical
    /// names as `src/pulumi/names.rs` writes them for stack `shop`,
    /// environment `dev`, service `api`.
    fn named_cases() -> Vec<(&'static str, String, String)> {
        let both = |action: &'static str, f: &dyn Fn(&str) -> String| (action, f("a"), f("b"));
        vec![
            both("sqs:DeleteQueue", &|t| arn("sqs", &format!("{t}-shop-dev-api-jobs"))),
            both("sqs:CreateQueue", &|t| arn("sqs", &format!("{t}-shop-dev-api-jobs-dlq.fifo"))),
            both("sqs:SetQueueAttributes", &|t| arn("sqs", &format!("{t}-shop-dev-api-jobs"))),
            both("sns:DeleteTopic", &|t| arn("sns", &format!("{t}-shop-dev-api-events"))),
            both("sns:Subscribe", &|t| arn("sns", &format!("{t}-shop-dev-alarms"))),
            both("dynamodb:DeleteTable", &|t| arn("dynamodb", &format!("table/{t}-shop-dev-api-orders"))),
            both("dynamodb:UpdateTable", &|t| arn("dynamodb", &format!("table/{t}-shop-dev-api-orders/index/by-user"))),
            both("dynamodb:DescribeStream", &|t| {
                arn("dynamodb", &format!("table/{t}-shop-dev-api-orders/stream/2024-01-01T00:00:00.000"))
            }),
            both("lambda:DeleteFunction", &|t| arn("lambda", &format!("function:{t}-shop-dev-api-resize"))),
            both("lambda:AddPermission", &|t| arn("lambda", &format!("function:{t}-shop-dev-api-resize"))),
            both("logs:DeleteLogGroup", &|t| arn("logs", &format!("log-group:/ecs/{t}/shop/dev/api/web"))),
            both("logs:PutRetentionPolicy", &|t| {
                arn("logs", &format!("log-group:/aws/lambda/{t}-shop-dev-api-resize"))
            }),
            both("ecs:DeleteService", &|t| arn("ecs", &format!("service/shared/{t}-shop-dev-api-web"))),
            both("ecs:UpdateService", &|t| arn("ecs", &format!("service/{t}-shop-dev/{t}-shop-dev-api-web"))),
            both("ecs:DeleteCluster", &|t| arn("ecs", &format!("cluster/{t}-shop-dev"))),
            both("ecs:RegisterTaskDefinition", &|t| arn("ecs", &format!("task-definition/{t}-shop-dev-api-web:3"))),
            both("elasticloadbalancing:DeleteTargetGroup", &|t| {
                arn("elasticloadbalancing", &format!("targetgroup/{t}-shop-dev-api-web-8080/0123456789abcdef"))
            }),
            both("cloudwatch:DeleteAlarms", &|t| arn("cloudwatch", &format!("alarm:{t}-shop-dev-api-jobs-dlq"))),
            both("scheduler:DeleteSchedule", &|t| {
                arn("scheduler", &format!("schedule/default/{t}-shop-dev-api-nightly"))
            }),
            both("rds:DeleteDBInstance", &|t| arn("rds", &format!("db:{t}-shop-dev-api-db"))),
            both("rds:DeleteDBSubnetGroup", &|t| arn("rds", &format!("subgrp:{t}-shop-dev-api-db"))),
            both("elasticache:DeleteReplicationGroup", &|t| {
                arn("elasticache", &format!("replicationgroup:{t}-shop-dev-api-cache"))
            }),
            both("elasticache:DeleteCacheSubnetGroup", &|t| {
                arn("elasticache", &format!("subnetgroup:{t}-shop-dev-api-cache"))
            }),
            both("s3:DeleteBucket", &|t| format!("arn:aws:s3:::{t}-shop-dev-api-assets-20240101000000000000000001")),
            both("s3:PutBucketPolicy", &|t| format!("arn:aws:s3:::{t}-shop-dev-api-assets-20240101000000000000000001")),
            both("iam:DeleteRole", &|t| format!("arn:aws:iam::123456789012:role/{t}-shop-dev-api-web-task-1a2b3c4d")),
            both("iam:PassRole", &|t| format!("arn:aws:iam::123456789012:role/{t}-shop-dev-api-web-exec-1a2b3c4d")),
            both("iam:UpdateAssumeRolePolicy", &|t| {
                format!("arn:aws:iam::123456789012:role/{t}-shop-dev-api-web-task-1a2b3c4d")
            }),
        ]
    }

    #[test]
    fn a_tenant_deploys_what_its_names_own_and_nothing_of_another_tenant() {
        let p = both(&input("a"));
        for (action, mine, theirs) in named_cases() {
            assert_eq!(evaluate(&p, &Request::new(action, &mine)), Decision::Allow, "{action} {mine}");
            assert_ne!(evaluate(&p, &Request::new(action, &theirs)), Decision::Allow, "{action} {theirs}");
            // Prefix confusion: tenant `ab`'s names start with `ab-`, not `a-`.
            let ab = theirs.replace(":b-", ":ab-").replace("/b-", "/ab-").replace("/b/", "/ab/");
            assert_ne!(ab, theirs, "{theirs}");
            assert_ne!(evaluate(&p, &Request::new(action, &ab)), Decision::Allow, "{action} {ab}");
        }
        // And the other way round: tenant b's policy owns b's names only.
        let p = both(&input("b"));
        for (action, theirs, mine) in named_cases() {
            assert_eq!(evaluate(&p, &Request::new(action, &mine)), Decision::Allow, "{action} {mine}");
            assert_ne!(evaluate(&p, &Request::new(action, &theirs)), Decision::Allow, "{action} {theirs}");
        }
    }

    #[test]
    fn resources_without_a_name_are_the_tenants_by_their_tag() {
        let p = both(&input("a"));
        let tagged = |action: &str, resource: &str, key: &str, tenant: Option<&str>| {
            let r = Request::new(action, resource);
            let r = match tenant {
                Some(t) => r.with(&format!("{key}/panka:tenant"), &[t]),
                None => r,
            };
            evaluate(&p, &r) == Decision::Allow
        };
        let sg = arn("ec2", "security-group/sg-0123456789abcdef0");
        let rule =
            arn("elasticloadbalancing", "listener-rule/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee");
        let target = arn("application-autoscaling", "scalable-target/0123456789abcdef0123456789abcdef");
        for (action, resource) in [
            ("ec2:DeleteSecurityGroup", sg.as_str()),
            ("ec2:AuthorizeSecurityGroupIngress", sg.as_str()),
            ("ec2:RevokeSecurityGroupEgress", sg.as_str()),
            ("ec2:CreateTags", sg.as_str()),
            ("elasticloadbalancing:ModifyRule", rule.as_str()),
            ("elasticloadbalancing:DeleteRule", rule.as_str()),
            ("application-autoscaling:PutScalingPolicy", target.as_str()),
            ("application-autoscaling:DeregisterScalableTarget", target.as_str()),
        ] {
            assert!(tagged(action, resource, "aws:ResourceTag", Some("a")), "{action}");
            assert!(!tagged(action, resource, "aws:ResourceTag", Some("b")), "{action} on b's");
            assert!(!tagged(action, resource, "aws:ResourceTag", Some("ab")), "{action} on ab's");
            assert!(!tagged(action, resource, "aws:ResourceTag", None), "{action} on an untagged (platform) resource");
        }
        // Created only with the tenant's tag.
        let listener = arn("elasticloadbalancing", "listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2");
        for (action, resource) in [
            ("ec2:CreateSecurityGroup", sg.as_str()),
            ("elasticloadbalancing:CreateRule", listener.as_str()),
            ("application-autoscaling:RegisterScalableTarget", target.as_str()),
        ] {
            assert!(tagged(action, resource, "aws:RequestTag", Some("a")), "{action}");
            assert!(!tagged(action, resource, "aws:RequestTag", Some("b")), "{action} as b");
            assert!(!tagged(action, resource, "aws:RequestTag", None), "{action} untagged");
        }
        assert!(allow(&p, Request::new("ec2:CreateSecurityGroup", &arn("ec2", "vpc/vpc-0abc"))));
        // Tags on create, and nothing else without the tag.
        let tag_on_create =
            |action: &str| allow(&p, Request::new("ec2:CreateTags", &sg).with("ec2:CreateAction", &[action]));
        assert!(tag_on_create("CreateSecurityGroup"));
        assert!(!tag_on_create("RunInstances"));
        // Event source mappings follow their function's name.
        let mapping = |function: &str| {
            allow(
                &p,
                Request::new("lambda:DeleteEventSourceMapping", &arn("lambda", "event-source-mapping:0f1e2d3c"))
                    .with("lambda:FunctionArn", &[&arn("lambda", &format!("function:{function}"))]),
            )
        };
        assert!(mapping("a-shop-dev-api-resize"));
        assert!(!mapping("b-shop-dev-api-resize"));
    }

    #[test]
    fn panka_state_is_never_deployable_whatever_the_names() {
        // A tenant whose `<tenant>-` leads the bucket's and the table's names
        // is refused at creation; were it not, the explicit Deny still holds.
        let input = PolicyInput { bucket: "panka-state".into(), table: "panka-locks".into(), ..input("panka") };
        assert!(scoping_problem(&input).is_some());
        let p = both(&input);
        for (action, resource) in [
            ("s3:DeleteBucket", "arn:aws:s3:::panka-state"),
            ("s3:PutBucketPolicy", "arn:aws:s3:::panka-state"),
            ("s3:DeleteObjectVersion", "arn:aws:s3:::panka-state/org/tenants/b/stacks/x/dev/state.json"),
            ("dynamodb:DeleteTable", "arn:aws:dynamodb:eu-west-1:1:table/panka-locks"),
            ("dynamodb:Scan", "arn:aws:dynamodb:eu-west-1:1:table/panka-locks-v2"),
        ] {
            assert_eq!(evaluate(&p, &Request::new(action, resource)), Decision::ExplicitDeny, "{action} {resource}");
        }
        let p = both(&self::input("a"));
        assert_eq!(
            evaluate(&p, &Request::new("dynamodb:DeleteTable", TABLE)),
            Decision::ExplicitDeny,
            "the lock table"
        );
        assert!(allow(&p, Request::new("s3:GetObject", &obj("org/tenants/a/stacks/web/dev/state.json"))));
    }

    #[test]
    fn the_boundary_keeps_runtime_roles_to_their_tenants_data() {
        let b = boundary_policy(&input("a"));
        for (action, mine, theirs) in [
            (
                "sqs:ReceiveMessage",
                "arn:aws:sqs:eu-west-1:123456789012:a-shop-dev-api-jobs",
                "arn:aws:sqs:eu-west-1:123456789012:b-shop-dev-api-jobs",
            ),
            (
                "sqs:SendMessage",
                "arn:aws:sqs:eu-west-1:123456789012:a-shop-dev-api-jobs",
                "arn:aws:sqs:eu-west-1:123456789012:ab-shop-dev-api-jobs",
            ),
            (
                "sns:Publish",
                "arn:aws:sns:eu-west-1:123456789012:a-shop-dev-api-events",
                "arn:aws:sns:eu-west-1:123456789012:b-shop-dev-api-events",
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/a-shop-dev-api-orders",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/b-shop-dev-api-orders",
            ),
            (
                "dynamodb:Query",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/a-shop-dev-api-orders/index/by-user",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/b-shop-dev-api-orders/index/by-user",
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::a-shop-dev-api-assets-20240101000000000000000001/x.png",
                "arn:aws:s3:::b-shop-dev-api-assets-20240101000000000000000001/x.png",
            ),
            (
                "lambda:InvokeFunction",
                "arn:aws:lambda:eu-west-1:123456789012:function:a-shop-dev-api-resize",
                "arn:aws:lambda:eu-west-1:123456789012:function:b-shop-dev-api-resize",
            ),
            (
                "logs:PutLogEvents",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/a/shop/dev/api/web:log-stream:x",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/b/shop/dev/api/web:log-stream:x",
            ),
            (
                "ecs:RunTask",
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/a-shop-dev-api-nightly:4",
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/b-shop-dev-api-nightly:4",
            ),
            (
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/a-shop-dev-api-nightly-task-1a2b3c4d",
                "arn:aws:iam::123456789012:role/b-shop-dev-api-nightly-task-1a2b3c4d",
            ),
        ] {
            assert!(allow(&b, Request::new(action, mine)), "{action} {mine}");
            assert!(!allow(&b, Request::new(action, theirs)), "{action} {theirs}");
        }
        assert!(allow(&b, Request::new("ecr:BatchGetImage", "arn:aws:ecr:eu-west-1:123456789012:repository/shop")));
        assert!(!allow(&b, Request::new("iam:PassRole", "arn:aws:iam::123456789012:role/panka/panka-tenant-a")));
    }

    #[test]
    fn the_documents_fit_iams_size_limits_for_the_longest_names() {
        // A 20-character tenant (the limit), a 63-character bucket, a long
        // prefix and table: each managed policy within 6,144 characters
        // without whitespace (serde_json writes none).
        let input = PolicyInput {
            tenant: "abcdefghij-klmnopqrs".into(),
            bucket: "b".repeat(63),
            prefix: "p".repeat(60),
            table: "t".repeat(100),
            stacks: "*".into(),
        };
        assert_eq!(input.tenant.len(), crate::config::TENANT_NAME_MAX);
        let d = render(&input, &[], "x");
        for (what, doc) in [("policy", &d.policy), ("deploy", &d.deploy), ("boundary", &d.boundary)] {
            let size = doc.to_string().len();
            assert!(size <= 6_144, "{what}: {size} characters > 6,144");
        }
        let sizes: Vec<usize> = [&d.policy, &d.deploy, &d.boundary].iter().map(|d| d.to_string().len()).collect();
        assert!(sizes.iter().all(|s| *s > 1_000), "{sizes:?}");
    }

    #[test]
    fn a_new_tenant_must_lead_its_names_and_not_cover_another() {
        assert_eq!(scoping_problem(&input("a")), None);
        for bad in ["1a", "a--b"] {
            assert!(scoping_problem(&input(bad)).is_some(), "{bad}");
        }
        let state = PolicyInput { bucket: "shop-state".into(), ..input("shop") };
        assert!(scoping_problem(&state).unwrap().contains("state bucket"));
        let v2 = PolicyInput { table: "sho-locks".into(), ..input("sho") };
        assert!(scoping_problem(&v2).unwrap().contains("lock table"));
        let existing = vec!["a".to_string(), "shop".to_string(), "web-team".to_string()];
        assert_eq!(tenant_overlap("a-b", &existing), Some("a"));
        assert_eq!(tenant_overlap("web", &existing), Some("web-team"));
        assert_eq!(tenant_overlap("ab", &existing), None);
        assert_eq!(tenant_overlap("shop", &existing), None, "itself");
        assert_eq!(tenant_overlap("shopping", &existing), None);
    }

    #[test]
    fn glob_is_iams() {
        assert!(glob("tenant:a", "tenant:a"));
        assert!(!glob("tenant:a", "tenant:a-other"));
        assert!(glob("org/tenants/a/*", "org/tenants/a/stacks/x/dev/state.json"));
        assert!(!glob("org/tenants/a/*", "org/tenants/a-other/x"));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("a?c", "ac"));
    }

    #[test]
    fn state_objects_are_confined_to_the_tenants_prefix() {
        let p = tenant_policy(&input("a"));
        for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
            assert!(allow(&p, Request::new(action, &obj("org/tenants/a/stacks/web/dev/state.json"))), "{action}");
            assert!(allow(&p, Request::new(action, &obj("org/tenants/a/stacks/web/dev/pulumi/.pulumi/x"))));
            for other in [
                "org/tenants/b/stacks/web/dev/state.json",
                "org/tenants/a-other/stacks/web/dev/state.json",
                "org/tenants/ab/stacks/x",
                "org/stacks/web/dev/state.json",
                "tenants/a/stacks/web/dev/state.json",
                "org/admin/pulumi/.pulumi/stacks/panka-tenant-a/tenant.json",
            ] {
                assert!(!allow(&p, Request::new(action, &obj(other))), "{action} {other}");
            }
        }
    }

    #[test]
    fn listing_needs_the_tenants_prefix() {
        let p = tenant_policy(&input("a"));
        let list = |prefix: Option<&str>| {
            let r = Request::new("s3:ListBucket", "arn:aws:s3:::state");
            allow(
                &p,
                match prefix {
                    Some(x) => r.with("s3:prefix", &[x]),
                    None => r,
                },
            )
        };
        assert!(list(Some("org/tenants/a/stacks/web/dev/history/")));
        assert!(list(Some("org/tenants/a/")));
        assert!(list(Some("org/admin/policies/")));
        assert!(!list(Some("org/tenants/b/stacks/")));
        assert!(!list(Some("org/tenants/a-other/")));
        assert!(!list(Some("org/tenants/")));
        assert!(!list(Some("org/admin/pulumi/")));
        assert!(!list(Some("")));
        assert!(!list(None), "a listing without a prefix is the whole bucket");
    }

    #[test]
    fn the_record_is_read_only_and_the_admin_area_closed() {
        let p = tenant_policy(&input("a"));
        let record = obj("org/tenants/a/tenant.json");
        assert!(allow(&p, Request::new("s3:GetObject", &record)));
        for action in ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"] {
            assert_eq!(evaluate(&p, &Request::new(action, &record)), Decision::ExplicitDeny, "{action}");
            assert_eq!(
                evaluate(&p, &Request::new(action, &obj("org/admin/policies/bundle.rego"))),
                Decision::ExplicitDeny
            );
        }
        assert!(allow(&p, Request::new("s3:GetObject", &obj("org/admin/policies/bundle.rego"))));
        assert!(!allow(&p, Request::new("s3:GetObject", &obj("org/admin/pulumi/.pulumi/meta.yaml"))));
        assert!(!allow(&p, Request::new("s3:GetObject", &obj("org/tenants/b/tenant.json"))));
    }

    #[test]
    fn locks_are_confined_to_the_tenants_partition() {
        let p = tenant_policy(&input("a"));
        let lock =
            |action: &str, keys: &[&str]| allow(&p, Request::new(action, TABLE).with("dynamodb:LeadingKeys", keys));
        for action in
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
        {
            assert!(lock(action, &["tenant:a"]), "{action}");
            // The earlier single-key layout: the whole key leads with the partition.
            assert!(lock(action, &["tenant:a:stack:web:env:dev"]), "{action}");
            assert!(!lock(action, &["tenant:b"]), "{action}");
            assert!(!lock(action, &["tenant:a-other"]), "{action}: prefix confusion");
            assert!(!lock(action, &["tenant:ab"]), "{action}");
            assert!(!lock(action, &["tenant:a", "tenant:b"]), "{action}: every key must be the tenant's");
            assert!(!lock(action, &["tenant:b:stack:a:env:dev"]), "{action}");
        }
        let v2 = "arn:aws:dynamodb:us-east-1:123456789012:table/panka-locks-v2";
        assert!(allow(&p, Request::new("dynamodb:Query", v2).with("dynamodb:LeadingKeys", &["tenant:a"])));
        // Scan carries no leading key: ForAllValues would be vacuously true,
        // so the action is simply never granted.
        assert!(!allow(&p, Request::new("dynamodb:Scan", TABLE)));
        assert!(!allow(&p, Request::new("dynamodb:BatchGetItem", TABLE)));
        assert!(allow(&p, Request::new("dynamodb:DescribeTable", TABLE)));
        assert!(!allow(&p, Request::new("dynamodb:DeleteTable", TABLE)));
        // Tables and buckets of the tenant's own stacks are deployable.
        let both = both(&input("a"));
        assert!(allow(&both, Request::new("dynamodb:CreateTable", "arn:aws:dynamodb:us-east-1:1:table/a-orders")));
        assert!(!allow(&both, Request::new("s3:DeleteBucket", "arn:aws:s3:::state")));
        assert!(allow(&both, Request::new("s3:CreateBucket", "arn:aws:s3:::a-orders-assets")));
    }

    #[test]
    fn roles_only_with_the_boundary_and_no_escalation() {
        let p = both(&input("a"));
        let role = "arn:aws:iam::123456789012:role/a-web-api-task-1a2b3c4d";
        let account = ["123456789012"];
        let boundary = "arn:aws:iam::123456789012:policy/panka/panka-tenant-a-boundary";
        let create = |b: Option<&str>| {
            let r = Request::new("iam:CreateRole", role).with("aws:PrincipalAccount", &account);
            allow(
                &p,
                match b {
                    Some(b) => r.with("iam:PermissionsBoundary", &[b]),
                    None => r,
                },
            )
        };
        assert!(create(Some(boundary)));
        assert!(!create(None));
        assert!(!create(Some("arn:aws:iam::123456789012:policy/panka/panka-tenant-b-boundary")));
        assert!(!create(Some("arn:aws:iam::aws:policy/AdministratorAccess")));
        let attach_admin = Request::new("iam:AttachRolePolicy", role)
            .with("aws:PrincipalAccount", &account)
            .with("iam:PolicyARN", &["arn:aws:iam::aws:policy/AdministratorAccess"]);
        assert!(!allow(&p, attach_admin), "attaching without the boundary in place");
        let own_role = "arn:aws:iam::123456789012:role/panka/panka-tenant-a";
        for action in ["iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:PutRolePolicy", "iam:PassRole"] {
            assert_eq!(evaluate(&p, &Request::new(action, own_role)), Decision::ExplicitDeny, "{action}");
        }
        let own_policy = "arn:aws:iam::123456789012:policy/panka/panka-tenant-a";
        assert_eq!(evaluate(&p, &Request::new("iam:CreatePolicyVersion", own_policy)), Decision::ExplicitDeny);
        assert_eq!(evaluate(&p, &Request::new("iam:DeleteRolePermissionsBoundary", role)), Decision::ExplicitDeny);
        assert!(!allow(&p, Request::new("iam:CreateUser", "arn:aws:iam::123456789012:user/x")));
    }

    #[test]
    fn the_boundary_keeps_runtime_roles_away_from_panka() {
        let b = boundary_policy(&input("a"));
        assert!(allow(&b, Request::new("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:a-orders")));
        assert_eq!(
            evaluate(&b, &Request::new("s3:GetObject", &obj("org/tenants/a/stacks/web/dev/state.json"))),
            Decision::ExplicitDeny
        );
        assert_eq!(evaluate(&b, &Request::new("dynamodb:PutItem", TABLE)), Decision::ExplicitDeny);
        assert_eq!(evaluate(&b, &Request::new("iam:CreateRole", "arn:aws:iam::1:role/x")), Decision::ExplicitDeny);
    }

    #[test]
    fn a_stacks_glob_narrows_the_state_objects() {
        let p = tenant_policy(&PolicyInput { stacks: "shop-*".into(), ..input("a") });
        assert!(allow(&p, Request::new("s3:PutObject", &obj("org/tenants/a/stacks/shop-web/dev/state.json"))));
        assert!(!allow(&p, Request::new("s3:PutObject", &obj("org/tenants/a/stacks/blog/dev/state.json"))));
        assert!(allow(&p, Request::new("s3:GetObject", &obj("org/tenants/a/tenant.json"))));
    }

    #[test]
    fn an_empty_prefix_puts_tenants_at_the_root() {
        let p = tenant_policy(&PolicyInput { prefix: String::new(), ..input("a") });
        assert!(allow(&p, Request::new("s3:GetObject", &obj("tenants/a/stacks/web/dev/state.json"))));
        assert!(!allow(&p, Request::new("s3:GetObject", &obj("tenants/b/stacks/web/dev/state.json"))));
        assert_eq!(evaluate(&p, &Request::new("s3:PutObject", &obj("admin/policies/x.rego"))), Decision::ExplicitDeny);
    }

    #[test]
    fn trust_needs_the_external_id_or_the_subject() {
        let trust = [
            Trust::parse("arn:aws:iam::123456789012:role/ci").unwrap(),
            Trust::parse(
                "oidc:arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com=repo:acme/app:*",
            )
            .unwrap(),
        ];
        let t = trust_policy(&trust, "ext-1");
        assert_eq!(t["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"], "ext-1");
        assert_eq!(t["Statement"][0]["Principal"]["AWS"][0], "arn:aws:iam::123456789012:role/ci");
        assert_eq!(
            t["Statement"][1]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
            "repo:acme/app:*"
        );
        for bad in [
            "",
            "root",
            "arn:aws:iam::12345:root",
            "arn:aws:s3:::bucket",
            "oidc:arn:aws:iam::123456789012:role/x=sub",
            "oidc:arn:aws:iam::123456789012:oidc-provider/h",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(Trust::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negated_and_missing_keys_follow_iam() {
        let ctx = BTreeMap::new();
        assert!(condition("StringNotEquals", "k", &["x".into()], &ctx));
        assert!(!condition("StringEquals", "k", &["x".into()], &ctx));
        assert!(condition("StringEqualsIfExists", "k", &["x".into()], &ctx));
        assert!(condition("ForAllValues:StringEquals", "k", &["x".into()], &ctx));
        assert!(!condition("ForAnyValue:StringEquals", "k", &["x".into()], &ctx));
        assert!(condition("Null", "k", &["true".into()], &ctx));
    }
}
