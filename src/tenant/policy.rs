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

/// The services a tenant's deployments create resources in (the kinds in
/// `pulumi-templates/`), as IAM service prefixes.
pub const DEPLOY_SERVICES: [&str; 13] = [
    "ecs",
    "elasticloadbalancing",
    "application-autoscaling",
    "logs",
    "lambda",
    "rds",
    "sqs",
    "sns",
    "elasticache",
    "events",
    "scheduler",
    "secretsmanager",
    "cloudwatch",
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
    /// Attached to the tenant's role.
    pub policy: Value,
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
        boundary: boundary_policy(input),
        trust: trust_policy(trust, external_id),
    }
}

fn deploy_actions() -> Vec<String> {
    let mut actions: Vec<String> = DEPLOY_SERVICES.iter().map(|s| format!("{s}:*")).collect();
    // Tables of the `dynamodb` kind and buckets of the `s3` kind: the state
    // bucket and the lock table are carved out by `NotResource`.
    actions.extend(["dynamodb:*", "s3:*"].map(String::from));
    // What container services, load balancers and functions need from EC2.
    actions.extend(
        [
            "ec2:Describe*",
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ]
        .map(String::from),
    );
    actions
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
    let mut carved_out = vec![bucket_arn.clone(), format!("{bucket_arn}/*")];
    carved_out.extend(input.table_arns());
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
                "Sid": "Deploy",
                "Effect": "Allow",
                "Action": deploy_actions(),
                "NotResource": carved_out,
            },
            {
                "Sid": "RolesOnlyWithBoundary",
                "Effect": "Allow",
                "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                "Resource": ["arn:aws:iam::*:role/*"],
                "Condition": {"ArnEquals": {"iam:PermissionsBoundary": input.boundary_arn()}},
            },
            {
                "Sid": "RolesManage",
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:PassRole"],
                "Resource": ["arn:aws:iam::*:role/*"],
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

/// The permissions boundary of the roles a tenant's stacks create: the
/// deploy services at most, never panka's state or locks, never IAM writes.
pub fn boundary_policy(input: &PolicyInput) -> Value {
    let bucket_arn = format!("arn:aws:s3:::{}", input.bucket);
    let mut carved_out = vec![bucket_arn.clone(), format!("{bucket_arn}/*")];
    carved_out.extend(input.table_arns());
    let mut actions = deploy_actions();
    actions.extend(
        ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "kms:Decrypt", "ssm:GetParameter*"].map(String::from),
    );
    json!({
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "Runtime",
                "Effect": "Allow",
                "Action": actions,
                "NotResource": carved_out,
            },
            {
                "Sid": "NoPankaState",
                "Effect": "Deny",
                "Action": ["s3:*", "dynamodb:*"],
                "Resource": carved_out,
            },
            {
                "Sid": "NoIamWrites",
                "Effect": "Deny",
                "Action": ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Update*", "iam:Attach*", "iam:Detach*", "iam:PassRole"],
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
        // Tables of the tenant's own stacks are deployable.
        assert!(allow(&p, Request::new("dynamodb:CreateTable", "arn:aws:dynamodb:us-east-1:1:table/orders")));
        assert!(!allow(&p, Request::new("s3:DeleteBucket", "arn:aws:s3:::state")));
        assert!(allow(&p, Request::new("s3:CreateBucket", "arn:aws:s3:::orders-assets")));
    }

    #[test]
    fn roles_only_with_the_boundary_and_no_escalation() {
        let p = tenant_policy(&input("a"));
        let role = "arn:aws:iam::123456789012:role/web-api-task";
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
        assert!(allow(&b, Request::new("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:orders")));
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
