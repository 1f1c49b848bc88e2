//! Semantic rules on a loaded stack (SPEC §5): names, references between
//! components and services, environment variables and secrets, the stack's
//! spec, container infra (Fargate sizes, scaling, listener rules) and
//! listener priorities. What each kind's AWS service accepts (port ranges,
//! schedules, engine versions, key attributes …) is a `Checker` method in
//! the kind's file under [`crate::kinds`], which `kind_rules` calls.
//! Every problem points at the field that causes it.

use std::collections::BTreeMap;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::load::resolve::reference_error;
use crate::load::template;
use crate::load::yaml::{path, Node, Span};
use crate::load::{Component, LoadedStack};
use crate::model::names::{check_name, suggest_name, NAME_MAX, STACK_NAME_MAX};
use crate::model::*;

/// Kept here, where callers have always found it; it lives with the CronJob kind.
pub use crate::kinds::cronjob::check_schedule;

/// The rules' state: the stack and what they found. Each kind adds its
/// rules in [`crate::kinds`].
pub(crate) struct Checker<'a> {
    pub(crate) stack: &'a LoadedStack,
    diags: Vec<Diagnostic>,
}

/// Run every semantic rule; returns errors and warnings.
pub fn check(stack: &LoadedStack) -> Vec<Diagnostic> {
    let mut c = Checker { stack, diags: Vec::new() };
    if stack.components.is_empty() {
        c.err("empty-stack", stack.stack.name_span, format!("stack `{}` has no components", stack.name())).hint =
            Some("add components under `services/<service>/components/`; `panka init` shows the layout".into());
    }
    c.names();
    c.project_names();
    c.stack_spec();
    c.services();
    for comp in stack.components.values() {
        c.references(comp);
        c.env_and_secrets(comp);
        c.managed_password_secrets(comp);
        c.kind_rules(comp);
    }
    c.listener_priorities();
    c.diags
}

impl Checker<'_> {
    pub(crate) fn err(&mut self, code: &'static str, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    pub(crate) fn warn(&mut self, code: &'static str, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::warning(code, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    fn name(&mut self, what: &str, name: &str, span: Span, max: usize) {
        if let Some(problem) = check_name(name, max) {
            let hint = suggest_name(name, max)
                .map(|s| format!("names are lowercase DNS labels, e.g. `{s}`"))
                .unwrap_or_else(|| "names are lowercase DNS labels: `a-z`, `0-9` and `-`".into());
            self.err("invalid-name", span, format!("{what} name `{}` {problem}", name.escape_debug())).hint =
                Some(hint);
        }
    }

    fn names(&mut self) {
        let s = self.stack;
        self.name("stack", &s.stack.metadata.name, s.stack.name_span, STACK_NAME_MAX);
        for (name, svc) in &s.services {
            self.name("service", name, svc.name_span, NAME_MAX);
        }
        for c in s.components.values() {
            self.name(c.kind.as_str(), &c.id.name, c.name_span, NAME_MAX);
            if let Some(svc_span) = c.node.at(&path("metadata.service")).map(|n| n.span) {
                self.name("service", &c.id.service, svc_span, NAME_MAX);
            }
        }
    }

    /// Two components whose Pulumi projects (`<service>-<component>`) are the
    /// same would share one program directory and one Pulumi stack, and the
    /// second `pulumi up` would replace the first's resources (SPEC §3:
    /// project names stay `<service>-<component>`, so the collision is an
    /// error). `orders/dead-letter` and `orders-dead/letter` are such a pair;
    /// so is any component named like the stack's shared program.
    fn project_names(&mut self) {
        let s = self.stack;
        let shared = crate::plan::has_shared(s).then(|| format!("{}-shared", s.name()));
        let mut by_project: BTreeMap<String, &Component> = BTreeMap::new();
        for c in s.components.values() {
            let project = c.id.project();
            if shared.as_deref() == Some(project.as_str()) {
                self.err(
                    "duplicate",
                    c.name_span,
                    format!("`{}` has the Pulumi project `{project}` of the stack's shared program", c.id),
                )
                .hint = Some("rename the component or its service; `<stack>-shared` holds the created cluster".into());
                continue;
            }
            match by_project.get(&project) {
                None => {
                    by_project.insert(project, c);
                }
                Some(first) => {
                    let (first_id, first_span) = (first.id.to_string(), first.name_span);
                    let d = self.err(
                        "duplicate",
                        c.name_span,
                        format!("`{}` and `{first_id}` both become the Pulumi project `{project}`", c.id),
                    );
                    d.labels.push(crate::diagnostic::Label { span: first_span, message: "the other one".into() });
                    d.hint = Some(format!(
                        "rename one of them: Pulumi projects are `<service>-<component>`, so `{}` and `{first_id}` would deploy over each other",
                        c.id
                    ));
                }
            }
        }
    }

    fn stack_spec(&mut self) {
        let s = self.stack;
        let st = &s.stack;
        let region = &s.provider.region;
        let region_ok = {
            let parts: Vec<&str> = region.split('-').collect();
            parts.len() >= 3
                && parts[0].len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
                && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        };
        if !region_ok {
            let span = region_span(s);
            self.err("invalid-value", span, format!("`{region}` is not an AWS region")).hint =
                Some("regions look like `us-east-1` or `eu-west-2`".into());
        }
        if let Some(acct) = &s.provider.account_id {
            if acct.len() != 12 || !acct.chars().all(|c| c.is_ascii_digit()) {
                let span = s
                    .environment_doc
                    .as_ref()
                    .and_then(|e| e.node.at(&path("spec.provider.accountId")))
                    .map_or_else(|| st.span(&path("spec.provider.accountId")), |n| n.span);
                self.err("invalid-value", span, format!("account id `{acct}` is not 12 digits")).hint =
                    Some("quote it so leading zeros are kept: accountId: \"012345678901\"".into());
            }
        }
        if st.spec.provider.name != "aws" {
            let span = st.span(&path("spec.provider.name"));
            self.err("invalid-value", span, format!("provider `{}` is not supported", st.spec.provider.name)).hint =
                Some("panka deploys to AWS: `provider: {name: aws, region: …}`".into());
        }
        let p = st.spec.deployment.parallelism;
        if p == 0 || p > 64 {
            let span = st.span(&path("spec.deployment.parallelism"));
            self.err("invalid-value", span, format!("parallelism {p} is out of range")).hint =
                Some("use 1 to 64 components at once".into());
        }
        for (i, env) in st.spec.deployment.require_approval.iter().enumerate() {
            if check_name(env, NAME_MAX).is_some() {
                let span = st.span(&path(&format!("spec.deployment.requireApproval[{i}]")));
                self.err("invalid-name", span, format!("`{env}` is not a valid environment name"));
            }
        }
        let needs_network = s.components.values().any(|c| {
            c.kind.is_container()
                || matches!(c.kind, Kind::Rds | Kind::ElastiCache)
                || matches!(&c.spec, ComponentSpec::Lambda(l) if l.vpc)
        });
        if needs_network {
            match &st.spec.shared.network {
                None => {
                    let first = s
                        .components
                        .values()
                        .find(|c| c.kind.is_container() || matches!(c.kind, Kind::Rds | Kind::ElastiCache));
                    let span = st.span(&path("spec.shared"));
                    let who = first.map(|c| format!(" (`{}` is a {})", c.id, c.kind)).unwrap_or_default();
                    self.err(
                        "missing-field",
                        span,
                        format!("the stack runs components in a VPC{who} but has no `spec.shared.network`"),
                    )
                    .hint = Some("add `shared: {network: {vpcId: …, privateSubnetIds: […]}}`".into());
                }
                Some(n) if n.private_subnet_ids.is_empty() => {
                    let span = st.span(&path("spec.shared.network"));
                    self.err("missing-field", span, "`spec.shared.network.privateSubnetIds` is empty").hint = Some(
                        "tasks, databases and caches run in private subnets; list at least two for high availability"
                            .into(),
                    );
                }
                _ => {}
            }
        }
        if s.components.values().any(|c| c.kind.is_container()) && st.spec.shared.cluster.is_none() {
            let span = st.span(&path("spec.shared"));
            self.err("missing-field", span, "the stack has container components but no `spec.shared.cluster`").hint =
                Some("name an existing ECS cluster (`cluster: {name: …}`) or let panka create one (`cluster: {create: true}`)".into());
        }
        if let Some(cluster) = &st.spec.shared.cluster {
            if cluster.create == cluster.name.is_some() {
                let span = st.span(&path("spec.shared.cluster"));
                self.err("invalid-value", span, "`spec.shared.cluster` needs exactly one of `name` or `create: true`");
            }
        }
    }

    fn services(&mut self) {
        let s = self.stack;
        for c in s.components.values() {
            if !s.services.contains_key(&c.id.service) {
                let span = c.node.at(&path("metadata.service")).map_or(c.name_span, |n| n.span);
                let hint = did_you_mean(&c.id.service, s.services.keys().map(String::as_str)).unwrap_or_else(|| {
                    format!("add a Service document, e.g. `services/{}/service.yaml`", c.id.service)
                });
                self.err(
                    "unknown-service",
                    span,
                    format!(
                        "{} `{}` belongs to service `{}`, which has no Service document",
                        c.kind, c.id.name, c.id.service
                    ),
                )
                .hint = Some(hint);
            }
        }
        for (name, svc) in &s.services {
            for (i, dep) in svc.spec.depends_on.iter().enumerate() {
                let span = svc.span(&path(&format!("spec.dependsOn[{i}]")));
                if dep == name {
                    self.err("cycle", span, format!("service `{name}` depends on itself"));
                } else if !s.services.contains_key(dep) {
                    let hint = did_you_mean(dep, s.services.keys().map(String::as_str));
                    self.err("unknown-service", span, format!("service `{name}` depends on unknown service `{dep}`"))
                        .hint = hint;
                }
            }
        }
    }

    fn references(&mut self, c: &Component) {
        let s = self.stack;
        for (field, r) in c.spec.references() {
            let span = c.span(&path(&field));
            let target = match s.index.resolve(r.component(), Some(&c.id.service)) {
                Ok((id, kind)) => (id, kind),
                Err(e) => {
                    let d = reference_error(r.component(), e);
                    self.diags.push(Diagnostic { span: Some(span), ..d });
                    continue;
                }
            };
            let (id, kind) = target;
            if id == c.id {
                self.err("cycle", span, format!("`{}` refers to itself", c.id));
                continue;
            }
            match r {
                Reference::ValueFrom(vf) if !kind.outputs().contains(&vf.output.as_str()) => {
                    let out_span = c.span(&path(&field.replace(".valueFrom.component", ".valueFrom.output")));
                    let hint = did_you_mean(&vf.output, kind.outputs().iter().copied())
                        .unwrap_or_else(|| format!("{kind} outputs are: {}", kind.outputs().join(", ")));
                    self.err(
                        "unknown-output",
                        out_span,
                        format!("`{id}` is a {kind}, which has no output `{}`", vf.output),
                    )
                    .hint = Some(hint);
                }
                Reference::Access(target)
                    if kind.is_stateful() || matches!(kind, Kind::Sqs | Kind::Sns | Kind::Lambda) =>
                {
                    let i = field.trim_start_matches("spec.access[").split(']').next().unwrap_or("0");
                    let actions = c.spec.access().iter().find(|a| a.component == target).map(|a| a.actions.clone());
                    for action in actions.unwrap_or_default() {
                        let allowed: &[AccessAction] = match kind {
                            Kind::Sqs => {
                                &[AccessAction::Read, AccessAction::Write, AccessAction::Publish, AccessAction::Consume]
                            }
                            Kind::Sns => &[AccessAction::Publish],
                            // `write` invokes it; a plain reference only reads
                            // its configuration.
                            Kind::Lambda => &[AccessAction::Read, AccessAction::Write],
                            _ => &[AccessAction::Read, AccessAction::Write],
                        };
                        if !allowed.contains(&action) {
                            let names: Vec<String> = allowed
                                .iter()
                                .map(|a| {
                                    serde_json::to_value(a)
                                        .ok()
                                        .and_then(|v| v.as_str().map(str::to_string))
                                        .unwrap_or_default()
                                })
                                .collect();
                            let aspan = c.span(&path(&format!("spec.access[{i}].actions")));
                            self.err(
                                "invalid-value",
                                aspan,
                                format!("`{id}` is a {kind}, which takes no `{:?}` access", action).to_lowercase(),
                            )
                            .hint = Some(format!("{kind} access actions are: {}", names.join(", ")));
                        }
                    }
                }
                Reference::Access(_) => {
                    self.err(
                        "invalid-reference",
                        span,
                        format!("`access` names `{id}`, a {kind}; access is granted to data components"),
                    )
                    .hint = Some("data components are RDS, DynamoDB, S3, SQS, SNS and ElastiCache; Lambda takes `write` (invoke)".into());
                }
                Reference::Trigger(_) if kind != Kind::Sqs => {
                    self.err(
                        "invalid-reference",
                        span,
                        format!("a Lambda trigger must be an SQS queue; `{id}` is a {kind}"),
                    );
                }
                Reference::Subscription(_) if !matches!(kind, Kind::Sqs | Kind::Lambda) => {
                    self.err(
                        "invalid-reference",
                        span,
                        format!("an SNS subscription goes to an SQS or Lambda component; `{id}` is a {kind}"),
                    );
                }
                _ => {}
            }
        }
    }

    fn env_and_secrets(&mut self, c: &Component) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let env_field = "environment";
        for (i, e) in c.spec.environment().iter().enumerate() {
            let span = c.span(&path(&format!("spec.{env_field}[{i}]")));
            self.env_name(&e.name, c.span(&path(&format!("spec.{env_field}[{i}].name"))));
            if seen.insert(&e.name, i).is_some() {
                self.err("duplicate", span, format!("environment variable `{}` is set twice", e.name));
            }
            if e.value.is_some() == e.value_from.is_some() {
                self.err(
                    "invalid-value",
                    span,
                    format!("environment variable `{}` needs exactly one of `value` or `valueFrom`", e.name),
                );
            }
        }
        for (i, sec) in c.spec.secrets().iter().enumerate() {
            let span = c.span(&path(&format!("spec.secrets[{i}]")));
            self.env_name(&sec.name, c.span(&path(&format!("spec.secrets[{i}].name"))));
            if seen.insert(&sec.name, i).is_some() {
                self.err("duplicate", span, format!("`{}` is set both as a variable and a secret, or twice", sec.name));
            }
            match (&sec.secret_arn, &sec.value_from) {
                (Some(arn), None) => {
                    if let Some(lit) = template::literal(arn) {
                        if !(lit.starts_with("arn:aws:secretsmanager:") || lit.starts_with("arn:aws:ssm:")) {
                            let span = c.span(&path(&format!("spec.secrets[{i}].secretArn")));
                            self.err(
                                "invalid-value",
                                span,
                                format!("`{lit}` is not a Secrets Manager or SSM parameter ARN"),
                            )
                            .hint = Some("secrets are referenced by ARN; panka never handles secret values".into());
                        }
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    self.err(
                        "invalid-value",
                        span,
                        format!("secret `{}` needs exactly one of `secretArn` or `valueFrom`", sec.name),
                    );
                }
            }
        }
    }

    /// An RDS master password that RDS manages (`masterUserSecretArn`)
    /// injected as an ECS secret: ECS reads it when a task starts, and RDS
    /// rotates it (every 7 days by default), after which running tasks hold
    /// a password that no longer works until they are replaced.
    fn managed_password_secrets(&mut self, c: &Component) {
        for (i, sec) in c.spec.secrets().iter().enumerate() {
            let Some(vf) = &sec.value_from else { continue };
            if vf.output != "masterUserSecretArn" {
                continue;
            }
            let rds =
                self.stack.index.resolve(&vf.component, Some(&c.id.service)).is_ok_and(|(_, kind)| kind == Kind::Rds);
            if !rds {
                continue;
            }
            self.warn(
                "rotating-secret",
                c.span(&path(&format!("spec.secrets[{i}].valueFrom"))),
                format!(
                    "`{}` of `{}` is the RDS-managed master password, which RDS rotates every 7 days by default; \
                     ECS reads secrets only when a task starts, so running tasks keep the old password and fail \
                     to connect after a rotation",
                    sec.name, c.id
                ),
            )
            .hint = Some(
                "read the secret at connection time in the application (valueFrom in `environment` gives its ARN), \
                 or use a separate secret whose rotation you control; see docs/kinds/rds.md"
                    .into(),
            );
        }
    }

    fn env_name(&mut self, name: &str, span: Span) {
        let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.err(
                "invalid-name",
                span,
                format!("`{}` is not a valid environment variable name", name.escape_debug()),
            )
            .hint = Some("use letters, digits and `_`, not starting with a digit".into());
        }
    }

    fn kind_rules(&mut self, c: &Component) {
        if let (Some(infra), true) = (&c.infra, c.kind.is_container()) {
            self.infra(c, infra);
        }
        if let Some(ct) = c.spec.container() {
            if let Some(lit) = template::literal(&ct.image.repository) {
                if lit.is_empty() || lit.contains(char::is_whitespace) || lit.contains(':') && !lit.contains('/') {
                    let span = c.span(&path("spec.image.repository"));
                    self.err("invalid-value", span, format!("`{lit}` is not an image repository")).hint = Some(
                        "write the repository without the tag, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/api`"
                            .into(),
                    );
                }
            }
            if let Some(d) = &ct.image.digest {
                if !d.starts_with("sha256:") {
                    let span = c.span(&path("spec.image.digest"));
                    self.err("invalid-value", span, "an image digest starts with `sha256:`");
                }
            }
        }
        match &c.spec {
            ComponentSpec::MicroService(m) => self.microservice(c, m),
            ComponentSpec::Worker(w) => self.worker(c, w),
            ComponentSpec::CronJob(j) => self.cronjob(c, j),
            ComponentSpec::Lambda(l) => self.lambda(c, l),
            ComponentSpec::Rds(r) => self.rds(c, r),
            ComponentSpec::DynamoDB(d) => self.dynamodb(c, d),
            ComponentSpec::S3(b) => self.s3(c, b),
            ComponentSpec::Sqs(q) => self.sqs(c, q),
            ComponentSpec::Sns(t) => self.sns(c, t),
            ComponentSpec::ElastiCache(e) => self.elasticache(c, e),
        }
    }

    /// Span of an infra field: in the ComponentInfra if it sets it, else
    /// the stack defaults, else the component's name.
    pub(crate) fn infra_span(&self, c: &Component, field: &str) -> Span {
        infra_span(self.stack, c, field)
    }

    fn infra(&mut self, c: &Component, infra: &EffectiveInfra) {
        match fargate_memory_options(infra.cpu) {
            None => {
                let span = self.infra_span(c, "resources.cpu");
                self.err("fargate-size", span, format!("`{}`: Fargate has no {} CPU size", c.id, infra.cpu)).hint =
                    Some(format!(
                        "Fargate CPU units are {}",
                        FARGATE_CPUS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    ));
            }
            Some(options) if !options.contains(&infra.memory) => {
                let span = self.infra_span(c, "resources.memory");
                let (lo, hi) = (options[0], options[options.len() - 1]);
                self.err(
                    "fargate-size",
                    span,
                    format!(
                        "`{}`: Fargate does not support {} MiB of memory with {} CPU units",
                        c.id, infra.memory, infra.cpu
                    ),
                )
                .hint = Some(if options.len() <= 3 {
                    format!(
                        "with cpu {} use memory {}",
                        infra.cpu,
                        options.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("with cpu {} use memory {lo} to {hi} in steps of {}", infra.cpu, options[1] - options[0])
                });
            }
            Some(_) => {}
        }
        if infra.replicas > 1000 {
            let span = self.infra_span(c, "scaling.replicas");
            self.err("invalid-value", span, format!("{} replicas is more than ECS allows (1000)", infra.replicas));
        }
        if let Some(a) = &infra.autoscaling {
            if a.min > a.max || a.max == 0 {
                let span = self.infra_span(c, "scaling.autoscaling");
                self.err(
                    "invalid-value",
                    span,
                    format!("autoscaling min {} must be at most max {} (and max at least 1)", a.min, a.max),
                );
            }
            for (v, f) in [(a.target_cpu_percent, "targetCPUPercent"), (a.target_memory_percent, "targetMemoryPercent")]
            {
                if let Some(v) = v {
                    if v == 0 || v > 100 {
                        let span = self.infra_span(c, &format!("scaling.autoscaling.{f}"));
                        self.err("invalid-value", span, format!("`{f}` {v} is not a percentage (1–100)"));
                    }
                }
            }
            if a.target_cpu_percent.is_none() && a.target_memory_percent.is_none() {
                let span = self.infra_span(c, "scaling.autoscaling");
                self.err("missing-field", span, "autoscaling needs `targetCPUPercent` or `targetMemoryPercent`");
            }
        }
        if let Some(lb) = &infra.load_balancer {
            if c.kind != Kind::MicroService {
                let span = self.infra_span(c, "loadBalancer");
                self.err(
                    "invalid-value",
                    span,
                    format!("`{}` is a {}, which is not behind the load balancer", c.id, c.kind),
                )
                .hint = Some("only MicroService components take `loadBalancer`".into());
            }
            if let Some(p) = lb.priority {
                if p == 0 || p > 50_000 {
                    let span = self.infra_span(c, "loadBalancer.priority");
                    self.err("invalid-value", span, format!("listener rule priority {p} is out of range (1–50000)"));
                }
            }
            if lb.path_patterns.len() + lb.host_headers.len() > 5 {
                let span = self.infra_span(c, "loadBalancer");
                self.err("invalid-value", span, "an ALB rule takes at most 5 path patterns and host headers together");
            }
        }
    }

    pub(crate) fn protected(&self) -> bool {
        self.stack.protected()
    }

    fn listener_priorities(&mut self) {
        let mut seen: BTreeMap<u32, &Component> = BTreeMap::new();
        for c in self.stack.components.values() {
            let Some(p) = c.infra.as_ref().and_then(|i| i.load_balancer.as_ref()).and_then(|lb| lb.priority) else {
                continue;
            };
            if let Some(first) = seen.insert(p, c) {
                let span = self.infra_span(c, "loadBalancer.priority");
                let first_span = self.infra_span(first, "loadBalancer.priority");
                self.diags.push(
                    Diagnostic::error(
                        "duplicate",
                        span,
                        format!("listener rule priority {p} is used by `{}` and `{}`", first.id, c.id),
                    )
                    .with_label(first_span, "also used here")
                    .with_hint("priorities are unique on the shared listener"),
                );
            }
        }
    }
}

/// Span of infra field `field` (`loadBalancer.priority`) of component `c`:
/// in its ComponentInfra if it sets it, else the stack defaults, else the
/// component's name.
pub fn infra_span(stack: &LoadedStack, c: &Component, field: &str) -> Span {
    let p = path(&format!("spec.{field}"));
    if let Some(n) = c.infra_node.as_ref().and_then(|n| n.at(&p)) {
        return n.span;
    }
    let dp = path(&format!("spec.defaults.infra.{field}"));
    if let Some(n) = stack.stack.node.at(&dp) {
        return n.span;
    }
    c.infra_node.as_ref().map_or(c.name_span, |n| n.span_at(&p))
}

fn region_span(s: &LoadedStack) -> Span {
    s.environment_doc
        .as_ref()
        .and_then(|e| e.node.at(&path("spec.provider.region")))
        .map(|n| n.span)
        .unwrap_or_else(|| s.stack.span(&path("spec.provider.region")))
}

pub(crate) fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    !v.is_empty() && parts.len() <= 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether a value of a node is a string containing output references.
pub fn has_refs(n: &Node) -> bool {
    n.as_str().is_some_and(|s| !template::refs(s).is_empty())
}
