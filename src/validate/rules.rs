//! Semantic rules on a loaded stack (SPEC §5): names, references between
//! components and services, and what each kind's AWS service accepts
//! (Fargate sizes, port ranges, schedules, engine versions, key attributes …).
//! Every problem points at the field that causes it.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::load::resolve::reference_error;
use crate::load::template;
use crate::load::yaml::{path, Node, Span};
use crate::load::{Component, LoadedStack};
use crate::model::names::{check_name, suggest_name, NAME_MAX, STACK_NAME_MAX};
use crate::model::*;

struct Checker<'a> {
    stack: &'a LoadedStack,
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
    fn err(&mut self, code: &'static str, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    fn warn(&mut self, code: &'static str, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
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
            ComponentSpec::Worker(w) => {
                if w.health_check.readiness.is_some() {
                    let span = c.span(&path("spec.healthCheck.readiness"));
                    self.err("invalid-value", span, "a Worker has no load balancer, so no readiness probe").hint =
                        Some("use `healthCheck.liveness` to have ECS replace unhealthy tasks".into());
                }
                self.probes(c, &w.health_check, &[])
            }
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
    fn infra_span(&self, c: &Component, field: &str) -> Span {
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

    fn microservice(&mut self, c: &Component, m: &MicroServiceSpec) {
        if m.ports.first().is_some_and(|p| p.protocol == PortProtocol::Tcp) {
            let span = c.span(&path("spec.ports[0].protocol"));
            self.err(
                "invalid-value",
                span,
                "the first port receives the load balancer's traffic and must be `http` or `grpc`",
            )
            .hint = Some("an Application Load Balancer speaks HTTP; put TCP ports after the first".into());
        }
        if c.infra.as_ref().and_then(|i| i.load_balancer.as_ref()).is_some_and(|lb| lb.priority.is_none()) {
            let span = self.infra_span(c, "loadBalancer");
            self.err("missing-field", span, format!("MicroService `{}` has no listener rule `priority`", c.id)).hint =
                Some(
                    "set `loadBalancer.priority` (1–50000), unique on the shared listener; lower numbers match first"
                        .into(),
                );
        }
        if m.ports.is_empty() {
            let span = c.span(&path("spec.ports"));
            self.err("missing-field", span, format!("MicroService `{}` has no ports", c.id)).hint = Some(
                "add `ports: [{name: http, port: 8080}]`; the first port receives the load balancer's traffic".into(),
            );
        }
        self.ports(c, &m.ports);
        let ports: Vec<u32> = m.ports.iter().map(|p| p.port).collect();
        self.probes(c, &m.health_check, &ports);
        if self.stack.stack.spec.shared.load_balancer.is_none() {
            self.err(
                "missing-field",
                c.name_span,
                format!("MicroService `{}` needs the stack's shared load balancer", c.id),
            )
            .hint = Some("set `spec.shared.loadBalancer.listenerArn` in the Stack, or make it a Worker".into());
        }
        let lb = c.infra.as_ref().and_then(|i| i.load_balancer.as_ref());
        if lb.is_none_or(|lb| lb.path_patterns.is_empty() && lb.host_headers.is_empty()) {
            let span = c.infra_node.as_ref().map_or(c.name_span, |n| n.span_at(&path("spec.loadBalancer")));
            self.err(
                "missing-field",
                span,
                format!("MicroService `{}` has no routing on the shared load balancer", c.id),
            )
            .hint = Some(format!("set `loadBalancer: {{pathPatterns: [\"/{}/*\"]}}` in its ComponentInfra", c.id.name));
        }
    }

    fn ports(&mut self, c: &Component, ports: &[Port]) {
        let mut names = BTreeSet::new();
        for (i, p) in ports.iter().enumerate() {
            if p.port == 0 || p.port > 65535 {
                let span = c.span(&path(&format!("spec.ports[{i}].port")));
                self.err("invalid-value", span, format!("port {} is out of range (1–65535)", p.port));
            }
            if !names.insert(p.name.as_str()) {
                let span = c.span(&path(&format!("spec.ports[{i}].name")));
                self.err("duplicate", span, format!("port name `{}` is used twice", p.name));
            }
        }
    }

    fn probes(&mut self, c: &Component, hc: &HealthCheck, ports: &[u32]) {
        for (which, probe) in [("readiness", &hc.readiness), ("liveness", &hc.liveness)] {
            let Some(p) = probe else { continue };
            let base = format!("spec.healthCheck.{which}");
            if p.http.is_some() == p.command.is_some() {
                let span = c.span(&path(&base));
                self.err("invalid-value", span, format!("the {which} probe needs exactly one of `http` or `command`"));
            }
            if which == "readiness" && p.command.is_some() && c.kind == Kind::MicroService {
                let span = c.span(&path(&base));
                self.err(
                    "invalid-value",
                    span,
                    "the readiness probe of a MicroService is the load balancer's health check and must be `http`",
                );
            }
            if let Some(h) = &p.http {
                if !h.path.starts_with('/') {
                    let span = c.span(&path(&format!("{base}.http.path")));
                    self.err("invalid-value", span, format!("health check path `{}` must start with `/`", h.path));
                }
                if !ports.is_empty() && !ports.contains(&h.port) {
                    let span = c.span(&path(&format!("{base}.http.port")));
                    self.err(
                        "invalid-value",
                        span,
                        format!("health check port {} is not one of the component's ports", h.port),
                    )
                    .hint =
                        Some(format!("ports are {}", ports.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")));
                }
            }
            if p.timeout_seconds >= p.period_seconds || !(2..=120).contains(&p.timeout_seconds) {
                let span = c.span(&path(&format!("{base}.timeoutSeconds")));
                self.err(
                    "invalid-value",
                    span,
                    format!(
                        "timeoutSeconds {} must be 2–120 and less than periodSeconds {}",
                        p.timeout_seconds, p.period_seconds
                    ),
                );
            }
            if !(5..=300).contains(&p.period_seconds) {
                let span = c.span(&path(&format!("{base}.periodSeconds")));
                self.err("invalid-value", span, format!("periodSeconds {} is out of range (5–300)", p.period_seconds));
            }
            for (v, f) in [(p.success_threshold, "successThreshold"), (p.failure_threshold, "failureThreshold")] {
                if !((2..=10).contains(&v) || which == "liveness" && (1..=10).contains(&v)) {
                    let span = c.span(&path(&format!("{base}.{f}")));
                    self.err("invalid-value", span, format!("{f} {v} is out of range (2–10)"));
                }
            }
        }
    }

    fn cronjob(&mut self, c: &Component, j: &CronJobSpec) {
        if c.infra.as_ref().is_some_and(|i| i.autoscaling.is_some()) {
            let span = self.infra_span(c, "scaling.autoscaling");
            self.err("invalid-value", span, "a CronJob runs one task per schedule and does not autoscale").hint =
                Some("remove `scaling.autoscaling` from its ComponentInfra".into());
        }
        if let Some(problem) = check_schedule(&j.schedule) {
            let span = c.span(&path("spec.schedule"));
            self.err("invalid-schedule", span, format!("schedule `{}` {problem}", j.schedule)).hint = Some(
                "use `cron(minutes hours day-of-month month day-of-week year)`, e.g. `cron(0 3 * * ? *)`, or `rate(5 minutes)`".into(),
            );
        }
        if j.retries > 185 {
            let span = c.span(&path("spec.retries"));
            self.err(
                "invalid-value",
                span,
                format!("retries {} is more than EventBridge Scheduler allows (185)", j.retries),
            );
        }
        if !j.timezone.contains('/') && j.timezone != "UTC" {
            let span = c.span(&path("spec.timezone"));
            self.err("invalid-value", span, format!("`{}` is not an IANA time zone", j.timezone)).hint =
                Some("e.g. `UTC`, `Europe/Berlin`, `America/New_York`".into());
        }
    }

    fn lambda(&mut self, c: &Component, l: &LambdaSpec) {
        match (&l.code.s3, &l.code.image) {
            (Some(_), None) => {
                if l.runtime.is_none() || l.handler.is_none() {
                    self.err(
                        "missing-field",
                        c.span(&path("spec")),
                        format!("Lambda `{}` with code in S3 needs `runtime` and `handler`", c.id),
                    );
                }
            }
            (None, Some(_)) => {
                if l.runtime.is_some() || l.handler.is_some() {
                    self.err(
                        "invalid-value",
                        c.span(&path("spec.code.image")),
                        "an image Lambda takes no `runtime` or `handler`",
                    );
                }
            }
            _ => {
                self.err("invalid-value", c.span(&path("spec.code")), "`code` needs exactly one of `s3` or `image`");
            }
        }
        if !(128..=10240).contains(&l.memory) {
            self.err(
                "invalid-value",
                c.span(&path("spec.memory")),
                format!("Lambda memory {} MiB is out of range (128–10240)", l.memory),
            );
        }
        if !(1..=900).contains(&l.timeout_seconds) {
            self.err(
                "invalid-value",
                c.span(&path("spec.timeoutSeconds")),
                format!("Lambda timeout {}s is out of range (1–900)", l.timeout_seconds),
            );
        }
        for (i, t) in l.triggers.iter().enumerate() {
            if !(1..=10_000).contains(&t.batch_size) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.triggers[{i}].batchSize"))),
                    "batchSize is out of range (1–10000)",
                );
            }
            if t.batch_size > 10 && t.maximum_batching_window_seconds.unwrap_or(0) == 0 {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.triggers[{i}].batchSize"))),
                    "an SQS batch size above 10 needs a batching window",
                )
                .hint = Some("set `maximumBatchingWindowSeconds` (1–300)".into());
            }
            if let Ok((id, Kind::Sqs)) = self.stack.index.resolve(&t.component, Some(&c.id.service)) {
                if let Some(ComponentSpec::Sqs(q)) = self.stack.components.get(&id).map(|c| &c.spec) {
                    if q.visibility_timeout_seconds < l.timeout_seconds {
                        self.err(
                            "invalid-value",
                            c.span(&path(&format!("spec.triggers[{i}].component"))),
                            format!(
                                "queue `{id}` has a visibility timeout of {}s, less than this function's timeout of {}s",
                                q.visibility_timeout_seconds, l.timeout_seconds
                            ),
                        )
                        .hint = Some("AWS rejects this event source; raise the queue's `visibilityTimeoutSeconds` (6× the function timeout is recommended)".into());
                    }
                }
            }
        }
    }

    fn protected(&self) -> bool {
        self.stack.protected()
    }

    fn rds(&mut self, c: &Component, r: &RdsSpec) {
        if !is_version(&r.engine.version) {
            self.err(
                "invalid-value",
                c.span(&path("spec.engine.version")),
                format!("engine version `{}` is not a version number", r.engine.version),
            )
            .hint = Some("write it quoted, e.g. `\"16.4\"` or `\"8.0.39\"`".into());
        }
        if !r.instance.class.starts_with("db.") {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.class")),
                format!("`{}` is not an RDS instance class", r.instance.class),
            )
            .hint = Some("instance classes look like `db.t4g.medium` or `db.r7g.large`".into());
        }
        let st = &r.instance.storage;
        if !(20..=65536).contains(&st.allocated_gb) {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.allocatedGB")),
                format!("{} GB is out of range (20–65536)", st.allocated_gb),
            );
        }
        if let Some(max) = st.max_allocated_gb {
            if max <= st.allocated_gb {
                self.err(
                    "invalid-value",
                    c.span(&path("spec.instance.storage.maxAllocatedGB")),
                    "maxAllocatedGB must be larger than allocatedGB",
                );
            }
        }
        if !["gp2", "gp3", "io1", "io2", "standard"].contains(&st.kind.as_str()) {
            let hint = did_you_mean(&st.kind, ["gp2", "gp3", "io1", "io2", "standard"]);
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.type")),
                format!("unknown storage type `{}`", st.kind),
            )
            .hint = hint;
        }
        if st.iops.is_some() && !["io1", "io2", "gp3"].contains(&st.kind.as_str()) {
            self.err(
                "invalid-value",
                c.span(&path("spec.instance.storage.iops")),
                "iops can only be set for io1, io2 or gp3 storage",
            );
        }
        if r.backup.automated.retention_days > 35 {
            self.err(
                "invalid-value",
                c.span(&path("spec.backup.automated.retentionDays")),
                "backup retention is at most 35 days",
            );
        }
        let db = &r.database.name;
        if db.is_empty()
            || db.len() > 63
            || !db.starts_with(|c: char| c.is_ascii_alphabetic())
            || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.err(
                "invalid-name",
                c.span(&path("spec.database.name")),
                format!("database name `{db}` is not valid"),
            )
            .hint = Some("start with a letter; letters, digits and `_`; at most 63 characters".into());
        }
        let user = &r.database.username;
        if ["admin", "rdsadmin", "root", "postgres"].contains(&user.as_str())
            && !(user == "admin" && r.engine.kind != RdsEngineType::Postgres)
        {
            self.err(
                "invalid-name",
                c.span(&path("spec.database.username")),
                format!("`{user}` is reserved by RDS for this engine"),
            )
            .hint = Some("use an application user name such as `app`".into());
        }
        if let Some(p) = r.database.port {
            if !(1150..=65535).contains(&p) {
                self.err(
                    "invalid-value",
                    c.span(&path("spec.database.port")),
                    format!("port {p} is out of range for RDS (1150–65535)"),
                );
            }
        }
        if self.protected() && r.deletion_protection == Some(false) {
            self.warn(
                "unprotected",
                c.span(&path("spec.deletionProtection")),
                format!(
                    "deletion protection is off for `{}` in protected environment `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        if self.protected() && r.backup.automated.retention_days == 0 {
            self.warn(
                "no-backups",
                c.span(&path("spec.backup.automated.retentionDays")),
                format!("automated backups are off for `{}` in `{}`", c.id, self.stack.environment),
            );
        }
    }

    fn dynamodb(&mut self, c: &Component, d: &DynamoDbSpec) {
        let declared: BTreeMap<&str, usize> =
            d.attributes.iter().enumerate().map(|(i, a)| (a.name.as_str(), i)).collect();
        if declared.len() != d.attributes.len() {
            self.err("duplicate", c.span(&path("spec.attributes")), "an attribute is declared twice");
        }
        let mut used = BTreeSet::new();
        let mut key = |this: &mut Self, name: &str, field: String| {
            used.insert(name.to_string());
            if !declared.contains_key(name) {
                let hint = did_you_mean(name, declared.keys().copied())
                    .unwrap_or_else(|| format!("declare it: `attributes: [{{name: {name}, type: S}}]`"));
                this.err(
                    "undeclared-attribute",
                    c.span(&path(&field)),
                    format!("key attribute `{name}` is not declared in `attributes`"),
                )
                .hint = Some(hint);
            }
        };
        key(self, &d.partition_key, "spec.partitionKey".into());
        if let Some(s) = &d.sort_key {
            key(self, s, "spec.sortKey".into());
        }
        let mut index_names = BTreeSet::new();
        for (i, g) in d.global_secondary_indexes.iter().enumerate() {
            key(self, &g.partition_key, format!("spec.globalSecondaryIndexes[{i}].partitionKey"));
            if let Some(s) = &g.sort_key {
                key(self, s, format!("spec.globalSecondaryIndexes[{i}].sortKey"));
            }
            if !index_names.insert(g.name.as_str()) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("spec.globalSecondaryIndexes[{i}].name"))),
                    format!("index `{}` is defined twice", g.name),
                );
            }
            if !["ALL", "KEYS_ONLY", "INCLUDE"].contains(&g.projection.as_str()) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.globalSecondaryIndexes[{i}].projection"))),
                    format!("unknown projection `{}`", g.projection),
                )
                .hint = Some("use ALL, KEYS_ONLY or INCLUDE".into());
            }
        }
        for (name, i) in &declared {
            if !used.contains(*name) {
                self.err(
                    "unused-attribute",
                    c.span(&path(&format!("spec.attributes[{i}]"))),
                    format!("attribute `{name}` is declared but not used by a key or index"),
                )
                .hint = Some("DynamoDB only accepts attribute definitions for key attributes; remove it".into());
            }
        }
        if d.billing_mode == BillingMode::PayPerRequest && d.capacity.is_some() {
            self.err(
                "invalid-value",
                c.span(&path("spec.capacity")),
                "`capacity` only applies to PROVISIONED billing",
            )
            .hint = Some("remove `capacity`, or set `billingMode: PROVISIONED`".into());
        }
        if self.protected() && d.deletion_protection == Some(false) {
            let span = c.span(&path("spec.deletionProtection"));
            self.warn(
                "unprotected",
                span,
                format!(
                    "deletion protection is off for `{}` in protected environment `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        if d.billing_mode == BillingMode::Provisioned && d.capacity.is_none() {
            self.err(
                "missing-field",
                c.span(&path("spec.billingMode")),
                "PROVISIONED billing needs `capacity: {read: …, write: …}`",
            );
        }
        if let Some(s) = &d.stream {
            const VIEWS: [&str; 4] = ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"];
            if !VIEWS.contains(&s.as_str()) {
                self.err("invalid-value", c.span(&path("spec.stream")), format!("unknown stream view `{s}`")).hint =
                    did_you_mean(s, VIEWS).or_else(|| Some(format!("use one of {}", VIEWS.join(", "))));
            }
        }
    }

    fn s3(&mut self, c: &Component, b: &S3Spec) {
        const ALGS: [&str; 3] = ["AES256", "aws:kms", "aws:kms:dsse"];
        if !ALGS.contains(&b.encryption.algorithm.as_str()) {
            self.err(
                "invalid-value",
                c.span(&path("spec.encryption.algorithm")),
                format!("unknown encryption `{}`", b.encryption.algorithm),
            )
            .hint = Some("use AES256 or aws:kms".into());
        }
        if b.encryption.kms_key_id.is_some() && b.encryption.algorithm == "AES256" {
            self.err(
                "invalid-value",
                c.span(&path("spec.encryption.kmsKeyId")),
                "a KMS key needs `algorithm: aws:kms`",
            );
        }
        if b.force_destroy && self.protected() {
            self.warn(
                "unprotected",
                c.span(&path("spec.forceDestroy")),
                format!(
                    "`forceDestroy` lets destroy delete every object of `{}` in `{}`",
                    c.id, self.stack.environment
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, r) in b.lifecycle_rules.iter().enumerate() {
            if !names.insert(&r.name) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("spec.lifecycleRules[{i}].name"))),
                    format!("lifecycle rule `{}` is defined twice", r.name),
                );
            }
            if r.expiration_days.is_none()
                && r.noncurrent_version_expiration_days.is_none()
                && r.transition_storage_class.is_none()
            {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.lifecycleRules[{i}]"))),
                    format!("lifecycle rule `{}` does nothing", r.name),
                );
            }
            if r.transition_storage_class.is_some() != r.transition_days.is_some() {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.lifecycleRules[{i}]"))),
                    "`transitionStorageClass` and `transitionDays` go together",
                );
            }
        }
    }

    fn sqs(&mut self, c: &Component, q: &SqsSpec) {
        let ranges = [
            (q.visibility_timeout_seconds, 0, 43_200, "visibilityTimeoutSeconds"),
            (q.message_retention_seconds, 60, 1_209_600, "messageRetentionSeconds"),
            (q.delay_seconds, 0, 900, "delaySeconds"),
            (q.receive_wait_time_seconds, 0, 20, "receiveWaitTimeSeconds"),
            (q.dead_letter.max_receive_count, 1, 1000, "deadLetter.maxReceiveCount"),
            (q.dead_letter.message_retention_seconds, 60, 1_209_600, "deadLetter.messageRetentionSeconds"),
        ];
        for (v, lo, hi, f) in ranges {
            if !(lo..=hi).contains(&v) {
                self.err(
                    "invalid-value",
                    c.span(&path(&format!("spec.{f}"))),
                    format!("`{f}` {v} is out of range ({lo}–{hi})"),
                );
            }
        }
        if q.content_based_deduplication && !q.fifo {
            self.err(
                "invalid-value",
                c.span(&path("spec.contentBasedDeduplication")),
                "content-based deduplication needs `fifo: true`",
            );
        }
    }

    fn sns(&mut self, c: &Component, t: &SnsSpec) {
        let mut names = BTreeSet::new();
        for (i, s) in t.subscriptions.iter().enumerate() {
            let base = format!("spec.subscriptions[{i}]");
            if !names.insert(&s.name) {
                self.err(
                    "duplicate",
                    c.span(&path(&format!("{base}.name"))),
                    format!("subscription `{}` is defined twice", s.name),
                );
            }
            match (&s.component, &s.endpoint) {
                (Some(comp), None) => {
                    if let Ok((id, kind)) = self.stack.index.resolve(comp, Some(&c.id.service)) {
                        if let Some(p) = &s.protocol {
                            let want = if kind == Kind::Lambda { "lambda" } else { "sqs" };
                            if p != want {
                                self.err(
                                    "invalid-value",
                                    c.span(&path(&format!("{base}.protocol"))),
                                    format!("`{id}` is a {kind}; its protocol is `{want}`"),
                                );
                            }
                        }
                        if let Some(ComponentSpec::Sqs(q)) = self.stack.components.get(&id).map(|c| &c.spec) {
                            if q.fifo != t.fifo {
                                self.err(
                                    "invalid-value",
                                    c.span(&path(&format!("{base}.component"))),
                                    format!(
                                        "a {} topic can only deliver to a {} queue; `{id}` is {}",
                                        if t.fifo { "FIFO" } else { "standard" },
                                        if t.fifo { "FIFO" } else { "standard" },
                                        if q.fifo { "FIFO" } else { "standard" }
                                    ),
                                );
                            }
                        }
                    }
                }
                (None, Some(_)) => {
                    const PROTOCOLS: [&str; 5] = ["https", "http", "email", "email-json", "sms"];
                    match &s.protocol {
                        Some(p) if PROTOCOLS.contains(&p.as_str()) => {}
                        Some(p) => {
                            self.err(
                                "invalid-value",
                                c.span(&path(&format!("{base}.protocol"))),
                                format!("unknown protocol `{p}` for an endpoint"),
                            )
                            .hint = Some(format!("use one of {}", PROTOCOLS.join(", ")));
                        }
                        None => {
                            self.err(
                                "missing-field",
                                c.span(&path(&base)),
                                "an endpoint subscription needs `protocol`",
                            );
                        }
                    }
                }
                _ => {
                    self.err(
                        "invalid-value",
                        c.span(&path(&base)),
                        format!("subscription `{}` needs exactly one of `component` or `endpoint`", s.name),
                    );
                }
            }
            if let Some(fp) = &s.filter_policy {
                if !fp.is_object() {
                    self.err(
                        "invalid-value",
                        c.span(&path(&format!("{base}.filterPolicy"))),
                        "a filter policy is a mapping",
                    );
                }
            }
        }
    }

    fn elasticache(&mut self, c: &Component, e: &ElastiCacheSpec) {
        if !is_version(&e.version) {
            self.err(
                "invalid-value",
                c.span(&path("spec.version")),
                format!("engine version `{}` is not a version number", e.version),
            )
            .hint = Some("write it quoted, e.g. `\"7.1\"`".into());
        }
        if !e.node_type.starts_with("cache.") {
            self.err(
                "invalid-value",
                c.span(&path("spec.nodeType")),
                format!("`{}` is not an ElastiCache node type", e.node_type),
            )
            .hint = Some("node types look like `cache.t4g.micro` or `cache.r7g.large`".into());
        }
        if e.replicas > 5 {
            self.err(
                "invalid-value",
                c.span(&path("spec.replicas")),
                format!("{} replicas is more than ElastiCache allows (5)", e.replicas),
            );
        }
        if e.multi_az && e.replicas == 0 {
            self.err("invalid-value", c.span(&path("spec.multiAZ")), "Multi-AZ needs at least one replica").hint =
                Some("set `replicas: 1` or `multiAZ: false`".into());
        }
        if e.port == 0 || e.port > 65535 {
            self.err("invalid-value", c.span(&path("spec.port")), format!("port {} is out of range", e.port));
        }
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

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    !v.is_empty() && parts.len() <= 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Why an EventBridge Scheduler expression is invalid, or `None`.
pub fn check_schedule(s: &str) -> Option<String> {
    if let Some(body) = s.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        let mut it = body.split_whitespace();
        let (Some(n), Some(unit), None) = (it.next(), it.next(), it.next()) else {
            return Some("is not `rate(<number> <unit>)`".into());
        };
        let Ok(n) = n.parse::<u32>() else {
            return Some(format!("has `{n}`, not a positive number"));
        };
        if n == 0 {
            return Some("has a rate of 0".into());
        }
        let units = if n == 1 { ["minute", "hour", "day"] } else { ["minutes", "hours", "days"] };
        if !units.contains(&unit) {
            return Some(format!("has unit `{unit}`; use {}", units.join(", ")));
        }
        return None;
    }
    if let Some(body) = s.strip_prefix("at(").and_then(|b| b.strip_suffix(')')) {
        return chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
            .err()
            .map(|_| "is not `at(yyyy-mm-ddThh:mm:ss)`".to_string());
    }
    let Some(body) = s.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) else {
        return Some("is not a `cron(…)`, `rate(…)` or `at(…)` expression".into());
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Some(format!(
            "has {} fields; cron expressions have 6 (minutes hours day-of-month month day-of-week year)",
            fields.len()
        ));
    }
    let allowed =
        |f: &str, extra: &str| f.chars().all(|c| c.is_ascii_alphanumeric() || ",-*/".contains(c) || extra.contains(c));
    let names = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"];
    let extras = ["", "", "?LW", "", "?L#", ""];
    for ((f, name), extra) in fields.iter().zip(names).zip(extras) {
        if !allowed(f, extra) {
            return Some(format!("has an invalid {name} field `{f}`"));
        }
    }
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)];
    for ((f, name), (lo, hi)) in fields.iter().zip(names).zip(ranges) {
        for n in f.split([',', '-', '/']).filter_map(|p| p.parse::<u32>().ok()) {
            let step = f.contains('/') && f.split('/').nth(1) == Some(&n.to_string());
            if !step && !(lo..=hi).contains(&n) {
                return Some(format!("has {name} {n}, outside {lo}–{hi}"));
            }
        }
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Some("sets both day-of-month and day-of-week; one of them must be `?`".into());
    }
    None
}

/// Whether a value of a node is a string containing output references.
pub fn has_refs(n: &Node) -> bool {
    n.as_str().is_some_and(|s| !template::refs(s).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(check_schedule("cron(0 3 * * ? *)"), None);
        assert_eq!(check_schedule("rate(5 minutes)"), None);
        assert_eq!(check_schedule("rate(1 hour)"), None);
        assert!(check_schedule("rate(1 hours)").is_some());
        assert!(check_schedule("0 3 * * *").is_some());
        assert!(check_schedule("cron(0 3 * * *)").unwrap().contains("5 fields"));
        assert!(check_schedule("cron(0 25 * * ? *)").unwrap().contains("hours 25"));
        assert!(check_schedule("cron(0 3 * * * *)").unwrap().contains('?'));
        assert_eq!(check_schedule("cron(0/15 * * * ? *)"), None);
    }
}
