//! Emission: one Pulumi YAML program per component, from `pulumi-templates/`.
//!
//! [`emit_component`] turns a loaded component into a [`Program`]: the
//! shared provider (region, default tags, `allowedAccountIds`, emulator
//! endpoints), the kind's template filled parameter by parameter, per-item
//! parts (ingress rules, subscriptions, triggers), least-privilege IAM
//! statements for the data components it references, and the outputs its
//! kind documents.
//!
//! This module holds what every kind uses: the `Emitter` and its helpers
//! (names, values and references, tags, the provider, access grants and
//! IAM), the dispatch to the kinds, the shared program and, in `alarms`, the
//! CloudWatch alarms. Each kind's own emission is an `Emitter` method in its
//! file under [`crate::kinds`], beside its validation rules.
//!
//! Invariants: every user string reaches the program through
//! [`lit`]/[`Program::panka_value`] (escaped, or a StackReference read) and
//! through a template hole, never through text; physical names come from
//! [`names`](super::names); emission reads the loaded stack and nothing else
//! (no state, no AWS, no Pulumi).

mod alarms;

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};
use thiserror::Error;

use super::iam::{self, actions, AccessBuilder, Use};
use super::interp;
use super::names::{physical_name, short_hash, tenant_part, NameKind, NameScope};
use super::program::{key, lit, Program, ProgramError, DEFAULT_PROVIDER};
use super::schema::PULUMI_AWS_VERSION;
use super::template::{files, render_file, Params, TemplateError};
use crate::load::template::{self as panka_template, OutputRef, Part as TemplatePart};
use crate::load::{Component, LoadedStack};
use crate::model::*;

/// How a stack is being deployed, beyond its YAML.
#[derive(Debug, Clone, Default)]
pub struct EmitOptions {
    /// The tenant (`default` with none configured).
    pub tenant: String,
    /// An AWS endpoint override (an emulator such as moto or LocalStack).
    pub endpoint: Option<String>,
}

/// Why a component could not be emitted.
#[derive(Debug, Error)]
pub enum EmitError {
    #[error("`{component}` needs `spec.shared.{what}` in the Stack\nhint: {hint}")]
    MissingShared { component: String, what: &'static str, hint: &'static str },
    #[error("`{component}`: {message}")]
    Invalid { component: String, message: String },
    #[error("`{component}`: {source}")]
    Program {
        component: String,
        #[source]
        source: ProgramError,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// The Pulumi stack config file (`Pulumi.<env>.yaml`) of every program:
/// default providers are disabled so every resource uses the explicit,
/// pinned provider.
pub fn stack_config_yaml() -> String {
    "config:\n  pulumi:disable-default-providers:\n    - aws\n".to_string()
}

/// The scope physical names derive from (`names` module docs): the tenant,
/// and the region and account the stack's environment deploys to.
pub fn name_scope(stack: &LoadedStack, tenant: &str) -> NameScope {
    NameScope {
        tenant: tenant.to_string(),
        region: stack.provider.region.clone(),
        account: stack.provider.account_id.clone(),
    }
}

/// The name of the `cluster: {create: true}` cluster, which the stack's
/// shared program creates ([`emit_shared`]).
pub fn created_cluster_name(stack: &LoadedStack, tenant: &str) -> String {
    name_scope(stack, tenant).name(NameKind::EcsService, &[stack.name(), &stack.environment])
}

/// The environment's alarm topic, which the shared program creates with
/// `spec.alarms.createTopic`.
pub fn alarm_topic_name(stack: &LoadedStack, tenant: &str) -> String {
    name_scope(stack, tenant).name(NameKind::SnsTopic, &[stack.name(), &stack.environment, "alarms"])
}

/// The log group of a container component (`/ecs/[tenant/]stack/env/service/component`).
pub(crate) fn container_log_group(stack: &LoadedStack, tenant: &str, id: &ComponentId) -> String {
    let mut parts = vec!["ecs"];
    parts.extend(tenant_part(tenant));
    parts.extend([stack.name(), stack.environment.as_str(), id.service.as_str(), id.name.as_str()]);
    physical_name(NameKind::LogGroup, &parts)
}

/// The explicit, pinned AWS provider every resource of a program uses.
fn add_provider(
    program: &mut Program,
    stack: &LoadedStack,
    opts: &EmitOptions,
    tags: Value,
) -> Result<(), ProgramError> {
    let account = stack.provider.account_id.as_deref().map(|a| program.panka_value(a)).transpose()?;
    let region = program.panka_value(&stack.provider.region)?;
    add_provider_with(program, region, account, opts.endpoint.as_deref(), tags)
}

/// The provider of a program that is not a stack's (a tenant's IAM
/// program): the same template, region and endpoint given directly.
pub fn add_provider_with(
    program: &mut Program,
    region: Value,
    account: Option<Value>,
    endpoint: Option<&str>,
    tags: Value,
) -> Result<(), ProgramError> {
    let mut p = Params::new();
    p.set("region", region)
        .opt("allowedAccountIds", account.map(|a| Value::Sequence(vec![a])))
        .set("tags", tags)
        .set("providerVersion", lit(PULUMI_AWS_VERSION));
    match endpoint {
        Some(url) => {
            let mut m = Mapping::new();
            for service in EMULATED_SERVICES {
                m.insert((*service).into(), lit(url));
            }
            p.set("endpoints", Value::Sequence(vec![Value::Mapping(m)])).set("emulator", true);
        }
        None => {
            p.opt("endpoints", None::<Value>).opt("emulator", None::<Value>);
        }
    }
    let v = render_file(files::PROVIDER, &p)
        .map_err(|e| ProgramError::BadTemplate { name: "provider".into(), why: e.to_string() })?;
    program.merge_rendered(&v)
}

/// Kept here, where callers have always found it; it lives with the RDS kind.
pub use crate::kinds::rds::rds_engine_version;
pub use crate::plan::SHARED_KEY;

/// The Pulumi project of the stack's shared program.
pub fn shared_project(stack: &LoadedStack) -> String {
    format!("{}-shared", stack.name())
}

/// The stack's shared program: the resources its components use and that
/// none of them owns (the created ECS cluster). `None` when there are none.
pub fn emit_shared(stack: &LoadedStack, opts: &EmitOptions) -> Result<Option<Program>, EmitError> {
    if !crate::plan::has_shared(stack) {
        return Ok(None);
    }
    let err = |source| EmitError::Program { component: SHARED_KEY.to_string(), source };
    let mut program = Program::new(&shared_project(stack), &stack.environment);
    let mut tags: BTreeMap<String, String> = stack.stack.metadata.labels.clone().into_iter().collect();
    for (k, v) in [
        ("panka:tenant", opts.tenant.as_str()),
        ("panka:stack", stack.name()),
        ("panka:environment", stack.environment.as_str()),
        ("panka:component", "_shared"),
        ("managed-by", "panka"),
    ] {
        tags.insert(k.to_string(), v.to_string());
    }
    let mut m = Mapping::new();
    for (k, v) in &tags {
        m.insert(key(k).map_err(err)?, lit(v));
    }
    add_provider(&mut program, stack, opts, Value::Mapping(m)).map_err(err)?;
    let cluster = crate::plan::creates_cluster(stack);
    let topic = crate::plan::creates_alarm_topic(stack);
    let out = |on: bool, text: &str| on.then(|| Value::String(text.to_string()));
    let mut p = Params::new();
    p.when("createCluster", cluster)
        .set("clusterName", lit(&created_cluster_name(stack, &opts.tenant)))
        .opt("clusterNameOutput", out(cluster, "${cluster.name}"))
        .opt("clusterArnOutput", out(cluster, "${cluster.arn}"))
        .when("createAlarmTopic", topic)
        .set("alarmTopicName", lit(&alarm_topic_name(stack, &opts.tenant)))
        .opt("alarmTopicArnOutput", out(topic, "${alarmTopic.arn}"));
    let v = render_file(files::STACK_SHARED, &p)?;
    program.merge_rendered(&v).map_err(err)?;
    add_tenant_boundary(&mut program, &opts.tenant);
    program.description =
        Some(interp::escape(&format!("panka shared resources of stack `{}` ({})", stack.name(), stack.environment)));
    Ok(Some(program))
}

/// Where a deployed component is found in AWS: the physical names its
/// program gives its resources (`panka status --live`, `panka logs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveNames {
    /// The stack's region, where its resources are.
    pub region: String,
    /// `(cluster, service)` of an ECS service (MicroService, Worker).
    pub ecs_service: Option<(String, String)>,
    pub function: Option<String>,
    pub db_instance: Option<String>,
    /// The CloudWatch Logs group its containers or function write to.
    pub log_group: Option<String>,
}

/// The names of component `id`'s AWS resources, as [`emit_component`]
/// gives them for `tenant`. `None` for an unknown component.
pub fn live_names(stack: &LoadedStack, id: &ComponentId, tenant: &str) -> Option<LiveNames> {
    let c = stack.components.get(id)?;
    let scope = name_scope(stack, tenant);
    let phys = |kind: NameKind| {
        scope.name(kind, &[stack.name(), stack.environment.as_str(), id.service.as_str(), id.name.as_str()])
    };
    let mut names = LiveNames { region: stack.provider.region.clone(), ..LiveNames::default() };
    if c.kind.is_container() {
        names.log_group = Some(container_log_group(stack, tenant, id));
    }
    match &c.spec {
        ComponentSpec::MicroService(_) | ComponentSpec::Worker(_) => {
            let cluster = match &stack.stack.spec.shared.cluster {
                Some(Cluster { name: Some(n), .. }) => Some(n.clone()),
                Some(Cluster { create: true, .. }) => Some(created_cluster_name(stack, tenant)),
                _ => None,
            };
            names.ecs_service = cluster.map(|cluster| (cluster, phys(NameKind::EcsService)));
        }
        ComponentSpec::Lambda(_) => {
            let function = phys(NameKind::LambdaFunction);
            names.log_group = Some(format!("/aws/lambda/{function}"));
            names.function = Some(function);
        }
        ComponentSpec::Rds(_) => names.db_instance = Some(phys(NameKind::RdsInstance)),
        _ => {}
    }
    Some(names)
}

/// The listener rule priority of MicroService `id`: `explicit`
/// (`infra.loadBalancer.priority`), else a stable one derived from its
/// identity (1–49999).
pub fn listener_priority(id: &ComponentId, explicit: Option<u32>) -> u32 {
    explicit.unwrap_or_else(|| {
        let h = u32::from_str_radix(&short_hash(&id.to_string()), 16).unwrap_or(0);
        1 + h % 49_999
    })
}

/// Emits the program of component `id` of `stack`.
pub fn emit_component(stack: &LoadedStack, id: &ComponentId, opts: &EmitOptions) -> Result<Program, EmitError> {
    let component = stack
        .components
        .get(id)
        .ok_or_else(|| EmitError::Invalid { component: id.to_string(), message: "no such component".into() })?;
    let mut e = Emitter {
        stack,
        c: component,
        opts,
        program: Program::new(&id.project(), &stack.environment),
        access: AccessBuilder::default(),
    };
    e.run()?;
    let mut program = e.program;
    add_tenant_boundary(&mut program, &opts.tenant);
    Ok(program)
}

/// In tenant mode every role a program creates carries the tenant's
/// permissions boundary (`panka admin tenant create` makes it): the
/// tenant's own role may create roles only with it (SPEC §12), so a
/// stack's role can never hold more than the boundary allows.
fn add_tenant_boundary(program: &mut Program, tenant: &str) {
    if tenant == crate::scope::DEFAULT_TENANT {
        return;
    }
    let mut has_role = false;
    for resource in program.resources.values_mut() {
        if resource.type_token == "aws:iam:Role" || resource.type_token == "aws:iam/role:Role" {
            let arn = format!(
                "arn:${{partition}}:iam::${{{ACCOUNT_VARIABLE}}}:policy{}{}",
                crate::tenant::policy::IAM_PATH,
                crate::tenant::policy::boundary_name(tenant)
            );
            resource.properties.insert(Value::String("permissionsBoundary".into()), Value::String(arn));
            has_role = true;
        }
    }
    if has_role && !program.variables.contains_key(ACCOUNT_VARIABLE) {
        let mut options = Mapping::new();
        options.insert("provider".into(), Value::String(format!("${{{DEFAULT_PROVIDER}}}")));
        let mut invoke = Mapping::new();
        invoke.insert("function".into(), "aws:index/getCallerIdentity:getCallerIdentity".into());
        invoke.insert("options".into(), Value::Mapping(options));
        invoke.insert("return".into(), "accountId".into());
        let mut v = Mapping::new();
        v.insert("fn::invoke".into(), Value::Mapping(invoke));
        program.variables.insert(ACCOUNT_VARIABLE.to_string(), Value::Mapping(v));
    }
}

/// The program variable holding the account id (tenant mode only).
const ACCOUNT_VARIABLE: &str = "pankaAccountId";

/// One component's program being built; each kind adds its method in
/// [`crate::kinds`].
pub(crate) struct Emitter<'a> {
    pub(crate) stack: &'a LoadedStack,
    pub(crate) c: &'a Component,
    pub(crate) opts: &'a EmitOptions,
    pub(crate) program: Program,
    pub(crate) access: AccessBuilder,
}

pub(crate) fn seq<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Value) -> Value {
    Value::Sequence(items.into_iter().map(f).collect())
}

pub(crate) fn try_seq<T>(
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(T) -> Result<Value, EmitError>,
) -> Result<Value, EmitError> {
    let mut out = Vec::new();
    for i in items {
        out.push(f(i)?);
    }
    Ok(Value::Sequence(out))
}

pub(crate) fn lits<'s>(items: impl IntoIterator<Item = &'s String>) -> Value {
    seq(items, |s| lit(s))
}

pub(crate) fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(m)
}

pub(crate) fn as_str(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl<'a> Emitter<'a> {
    pub(crate) fn name(&self) -> String {
        self.c.id.to_string()
    }

    pub(crate) fn protected(&self) -> bool {
        self.stack.protected()
    }

    /// `[stack, env, service, component]` (+ `suffix`) for physical names,
    /// within the deployment's [`NameScope`] (the tenant unless `default`;
    /// the region and account in the hash of global names).
    pub(crate) fn phys(&self, kind: NameKind, suffix: &str) -> String {
        let mut parts = vec![
            self.stack.name(),
            self.stack.environment.as_str(),
            self.c.id.service.as_str(),
            self.c.id.name.as_str(),
        ];
        if !suffix.is_empty() {
            parts.push(suffix);
        }
        name_scope(self.stack, &self.opts.tenant).name(kind, &parts)
    }

    /// The parts of [`phys`](Self::phys) for names built with a fixed
    /// suffix (`.fifo`): the tenant unless `default`, then the component.
    pub(crate) fn name_parts(&self) -> Vec<&'a str> {
        let opts: &'a EmitOptions = self.opts;
        let mut parts: Vec<&'a str> = tenant_part(&opts.tenant).into_iter().collect();
        parts.extend([
            self.stack.name(),
            self.stack.environment.as_str(),
            self.c.id.service.as_str(),
            self.c.id.name.as_str(),
        ]);
        parts
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> EmitError {
        EmitError::Invalid { component: self.name(), message: message.into() }
    }

    pub(crate) fn prog_err(&self, source: ProgramError) -> EmitError {
        EmitError::Program { component: self.name(), source }
    }

    /// A user string (a resolved panka template) as a Pulumi value.
    pub(crate) fn v(&mut self, s: &str) -> Result<Value, EmitError> {
        self.value(s)
    }

    pub(crate) fn vo(&mut self, s: Option<&str>) -> Result<Option<Value>, EmitError> {
        s.map(|s| self.value(s)).transpose()
    }

    pub(crate) fn vs(&mut self, items: &[String]) -> Result<Value, EmitError> {
        self.values(items)
    }

    pub(crate) fn values(&mut self, items: &[String]) -> Result<Value, EmitError> {
        let mut out = Vec::new();
        for i in items {
            out.push(self.value(i)?);
        }
        Ok(Value::Sequence(out))
    }

    /// A user string as a program value, always of type string: a string
    /// that is exactly one reference to a numeric output (`${database.port}`)
    /// would otherwise reach AWS as a number, since Pulumi YAML keeps the
    /// type of a lone interpolation.
    pub(crate) fn value(&mut self, s: &str) -> Result<Value, EmitError> {
        if let [TemplatePart::Ref(r)] = panka_template::parse(s).as_slice() {
            let id = ComponentId::new(&r.service, &r.component);
            if self.stack.index.kind_of(&id).is_some_and(|k| k.numeric_output(&r.output)) {
                return Ok(self.string_output_of(&id, &r.output));
            }
        }
        self.program.panka_value(s).map_err(|e| EmitError::Program { component: self.c.id.to_string(), source: e })
    }

    /// Reads output `output` of component `target` through a StackReference.
    pub(crate) fn output_of(&mut self, target: &ComponentId, output: &str) -> String {
        as_str(&self.program.stack_output(&OutputRef {
            service: target.service.clone(),
            component: target.name.clone(),
            output: output.to_string(),
        }))
    }

    /// The value of environment variable `e` of a container or function:
    /// its `value`, or the upstream output it names as a string (ECS and
    /// Lambda take only strings), or empty.
    pub(crate) fn env_value(&mut self, e: &EnvVar) -> Result<Value, EmitError> {
        Ok(match (&e.value, &e.value_from) {
            (Some(v), _) => self.value(v)?,
            (None, Some(vf)) => {
                let (id, _) = self.resolve(&vf.component)?;
                self.string_output_of(&id, &vf.output)
            }
            (None, None) => lit(""),
        })
    }

    /// Output `output` of `target` as a string, whatever its type
    /// (`fn::toJSON` of a number is its decimal text).
    pub(crate) fn string_output_of(&mut self, target: &ComponentId, output: &str) -> Value {
        let access = Value::String(self.output_of(target, output));
        match self.stack.index.kind_of(target) {
            Some(kind) if kind.numeric_output(output) => map(vec![("fn::toJSON", access)]),
            _ => access,
        }
    }

    pub(crate) fn resolve(&self, reference: &str) -> Result<(ComponentId, Kind), EmitError> {
        self.stack
            .index
            .resolve(reference, Some(&self.c.id.service))
            .map_err(|_| self.invalid(format!("reference to unknown component `{reference}`")))
    }

    pub(crate) fn network(&self) -> Result<&'a Network, EmitError> {
        self.stack.stack.spec.shared.network.as_ref().ok_or_else(|| EmitError::MissingShared {
            component: self.name(),
            what: "network",
            hint: "set `spec.shared.network` (vpcId and privateSubnetIds) in stack.yaml",
        })
    }

    pub(crate) fn cluster_name(&self) -> Result<String, EmitError> {
        match &self.stack.stack.spec.shared.cluster {
            Some(Cluster { name: Some(n), .. }) => Ok(n.clone()),
            Some(Cluster { create: true, .. }) => Ok(created_cluster_name(self.stack, &self.opts.tenant)),
            _ => Err(EmitError::MissingShared {
                component: self.name(),
                what: "cluster",
                hint: "set `spec.shared.cluster.name` (an existing ECS cluster) in stack.yaml",
            }),
        }
    }

    fn run(&mut self) -> Result<(), EmitError> {
        self.provider()?;
        let spec = self.c.spec.clone();
        match &spec {
            ComponentSpec::MicroService(s) => self.microservice(s)?,
            ComponentSpec::Worker(s) => self.worker(s)?,
            ComponentSpec::CronJob(s) => self.cronjob(s)?,
            ComponentSpec::Lambda(s) => self.lambda(s)?,
            ComponentSpec::Rds(s) => self.rds(s)?,
            ComponentSpec::DynamoDB(s) => self.dynamodb(s)?,
            ComponentSpec::S3(s) => self.s3(s)?,
            ComponentSpec::Sqs(s) => self.sqs(s)?,
            ComponentSpec::Sns(s) => self.sns(s)?,
            ComponentSpec::ElastiCache(s) => self.elasticache(s)?,
        }
        self.data_alarms()?;
        iam::wire_role_dependencies(&mut self.program);
        let description = format!(
            "panka {} `{}` of stack `{}` ({})",
            self.c.kind,
            self.c.id,
            self.stack.name(),
            self.stack.environment
        );
        self.program.description = Some(interp::escape(&description));
        Ok(())
    }

    // ---------- shared parts ----------

    fn tags(&self) -> Result<Value, EmitError> {
        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        tags.extend(self.stack.stack.metadata.labels.clone());
        tags.extend(self.c.metadata.labels.clone());
        for (k, v) in [
            ("panka:tenant", self.opts.tenant.as_str()),
            ("panka:stack", self.stack.name()),
            ("panka:environment", self.stack.environment.as_str()),
            ("panka:service", self.c.id.service.as_str()),
            ("panka:component", self.c.id.name.as_str()),
            ("managed-by", "panka"),
        ] {
            tags.insert(k.to_string(), v.to_string());
        }
        let mut m = Mapping::new();
        for (k, v) in &tags {
            m.insert(key(k).map_err(|e| self.prog_err(e))?, lit(v));
        }
        Ok(Value::Mapping(m))
    }

    fn provider(&mut self) -> Result<(), EmitError> {
        let tags = self.tags()?;
        add_provider(&mut self.program, self.stack, self.opts, tags).map_err(|e| self.prog_err(e))
    }

    // ---------- access from compute components ----------

    /// Collects the data components this compute component uses and grants
    /// least privilege on each; adds network ingress for databases/caches.
    /// A plain reference (`${x.out}`, `valueFrom`) reads; `access:` says
    /// what else it does.
    pub(crate) fn collect_access(&mut self, security_group: Option<&str>) -> Result<(), EmitError> {
        let mut wanted: BTreeMap<ComponentId, (Kind, BTreeSet<Use>)> = BTreeMap::new();
        let mut add = |id: ComponentId, kind: Kind, u: Use| {
            wanted.entry(id).or_insert((kind, BTreeSet::new())).1.insert(u);
        };
        // A `${…}` anywhere (also in `secrets[].secretArn`, which ECS reads
        // with the execution role) reads; only an environment variable's
        // `valueFrom` of the master secret gives the application the secret.
        for r in self.c.output_refs.iter() {
            let id = ComponentId::new(&r.target.service, &r.target.component);
            if let Some(kind) = self.stack.index.kind_of(&id) {
                add(id, kind, Use::Reference);
            }
        }
        for env in self.c.spec.environment() {
            if let Some(vf) = &env.value_from {
                let (id, kind) = self.resolve(&vf.component)?;
                add(id, kind, if vf.output == "masterUserSecretArn" { Use::Secret } else { Use::Reference });
            }
        }
        for a in self.c.spec.access() {
            let (id, kind) = self.resolve(&a.component)?;
            for action in &a.actions {
                add(
                    id.clone(),
                    kind,
                    match action {
                        AccessAction::Read => Use::Read,
                        AccessAction::Write => Use::Write,
                        AccessAction::Publish => Use::Publish,
                        AccessAction::Consume => Use::Consume,
                    },
                );
            }
        }
        if let ComponentSpec::Lambda(l) = &self.c.spec {
            for t in &l.triggers {
                let (id, kind) = self.resolve(&t.component)?;
                add(id, kind, Use::Consume);
            }
        }
        for (target, (kind, uses)) in wanted {
            if target == self.c.id {
                continue;
            }
            self.grant(&target, kind, &uses, security_group)?;
        }
        Ok(())
    }

    /// The customer-managed KMS key data component `target` is encrypted
    /// with, if any (AWS-managed keys need no grant).
    fn customer_key(&mut self, target: &ComponentId) -> Result<Option<iam::KmsKey>, EmitError> {
        let key = match self.stack.components.get(target).map(|c| &c.spec) {
            Some(ComponentSpec::S3(s)) if s.encryption.algorithm.starts_with("aws:kms") => {
                s.encryption.kms_key_id.clone()
            }
            Some(ComponentSpec::Sns(s)) => Some(s.kms_key_id.clone()),
            _ => None,
        };
        let Some(key) = key else {
            return Ok(None);
        };
        let key = as_str(&self.value(&key)?);
        let region = as_str(&self.v(&self.stack.provider.region)?);
        let account = iam::account_id(&mut self.program, self.stack.provider.account_id.as_deref());
        Ok(iam::kms_key(&key, &region, &account))
    }

    fn grant(
        &mut self,
        target: &ComponentId,
        kind: Kind,
        uses: &BTreeSet<Use>,
        security_group: Option<&str>,
    ) -> Result<(), EmitError> {
        let (reads, writes, consumes) = (Use::reads(uses), Use::writes(uses), Use::consumes(uses));
        match kind {
            Kind::S3 => {
                let arn = self.output_of(target, "arn");
                let objects = format!("{arn}/*");
                if reads || consumes {
                    self.access.allow(actions::S3_LIST, vec![arn.clone()]);
                    self.access.allow(actions::S3_READ_OBJECTS, vec![objects.clone()]);
                }
                if writes {
                    self.access.allow(actions::S3_WRITE_OBJECTS, vec![objects]);
                }
                if let Some(key) = self.customer_key(target)? {
                    let kms = if writes { actions::KMS_ENCRYPT } else { actions::KMS_DECRYPT };
                    self.access.allow_key(kms, &key);
                }
            }
            Kind::DynamoDB => {
                let arn = self.output_of(target, "arn");
                if reads {
                    self.access.allow(actions::DYNAMODB_READ, vec![arn.clone(), format!("{arn}/index/*")]);
                }
                if writes {
                    self.access.allow(actions::DYNAMODB_WRITE, vec![arn.clone()]);
                }
                if consumes {
                    self.access.allow(actions::DYNAMODB_STREAM, vec![format!("{arn}/stream/*")]);
                }
            }
            Kind::Sqs => {
                let arn = self.output_of(target, "arn");
                if writes {
                    self.access.allow(actions::SQS_SEND, vec![arn.clone()]);
                }
                if consumes {
                    self.access.allow(actions::SQS_CONSUME, vec![arn.clone()]);
                } else if reads {
                    self.access.allow(actions::SQS_READ, vec![arn]);
                }
            }
            Kind::Sns => {
                let arn = self.output_of(target, "arn");
                if writes {
                    self.access.allow(actions::SNS_PUBLISH, vec![arn.clone()]);
                    if let Some(key) = self.customer_key(target)? {
                        self.access.allow_key(actions::KMS_ENCRYPT, &key);
                    }
                }
                if reads {
                    self.access.allow(actions::SNS_READ, vec![arn]);
                }
            }
            Kind::Lambda => {
                let arn = self.output_of(target, "arn");
                if writes || consumes {
                    self.access.allow(actions::LAMBDA_INVOKE, vec![arn.clone()]);
                }
                if reads {
                    self.access.allow(actions::LAMBDA_READ, vec![arn]);
                }
            }
            Kind::Rds | Kind::ElastiCache => {
                // The RDS managed secret uses the AWS-managed Secrets Manager
                // key (rds.yaml sets no masterUserSecretKmsKeyId): no KMS grant.
                if uses.contains(&Use::Secret) || (kind == Kind::Rds && uses.contains(&Use::Read)) {
                    let secret = self.output_of(target, "masterUserSecretArn");
                    self.access.allow(actions::SECRET_READ, vec![secret]);
                }
                if let Some(sg) = security_group {
                    self.ingress_to(target, kind, sg)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// An ingress rule on a database's/cache's security group from ours.
    fn ingress_to(&mut self, target: &ComponentId, kind: Kind, sg: &str) -> Result<(), EmitError> {
        let port = match &self.stack.components.get(target).map(|c| &c.spec) {
            Some(ComponentSpec::Rds(r)) => r.database.port.unwrap_or(r.engine.kind.default_port()),
            Some(ComponentSpec::ElastiCache(e)) => e.port,
            _ => return Ok(()),
        };
        let target_sg = self.output_of(target, "securityGroupId");
        let mut p = Params::new();
        p.set("targetSecurityGroupId", Value::String(target_sg))
            .set("sourceSecurityGroupId", Value::String(sg.to_string()))
            .set("port", port)
            .set("description", lit(&format!("{} from {}", kind, self.c.id)));
        let v = render_file(files::INGRESS_ITEM, &p)?;
        let name = format!("ingress-{}-{}", target.service, target.name);
        self.program.merge_item(&name, &v).map_err(|e| self.prog_err(e))
    }

    // ---------- data components ----------

    pub(crate) fn deletion_protection(&self, explicit: Option<bool>) -> bool {
        explicit.unwrap_or_else(|| self.protected())
    }
}

/// The final snapshot identifier of a database or cache `identifier`:
/// `<identifier>-final-<security group id>`. A fixed `-final` collides
/// when a recreated database is destroyed again (the first incarnation's
/// snapshot still exists); the component's own security group is created
/// with it, recreated with it, known before it, and its id is never reused
/// by AWS, so each incarnation gets its own snapshot name, the same on
/// every run.
pub(crate) fn final_snapshot_identifier(identifier: &str) -> Value {
    Value::String(format!("{identifier}-final-${{securityGroup.id}}"))
}

/// Provider endpoint keys pointed at an emulator: every service panka's
/// programs call.
const EMULATED_SERVICES: &[&str] = &[
    "applicationautoscaling",
    "cloudwatchlogs",
    "dynamodb",
    "ec2",
    "ecs",
    "elasticache",
    "elbv2",
    "iam",
    "lambda",
    "rds",
    "s3",
    "scheduler",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "sts",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load, LoadOptions};
    use crate::pulumi::check::check_program;
    use crate::pulumi::schema::tests::real_schema;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pulumi").join(name)
    }

    fn load_env(dir: PathBuf, env: &str) -> LoadedStack {
        let opts = LoadOptions { dir, environment: env.to_string(), ..LoadOptions::default() };
        match load(&opts) {
            Ok(s) => s,
            Err(f) => panic!("{f}: {:#?}", f.diagnostics),
        }
    }

    fn opts() -> EmitOptions {
        EmitOptions { tenant: "default".into(), endpoint: None }
    }

    #[test]
    fn every_fixture_component_passes_the_schema_check_in_every_environment() {
        for env in ["dev", "production"] {
            let stack = load_env(fixture("all-kinds"), env);
            assert_eq!(stack.components.len(), 10);
            for id in stack.components.keys() {
                let program = emit_component(&stack, id, &opts()).unwrap_or_else(|e| panic!("{env} {id}: {e}"));
                let problems = check_program(real_schema(), &program.to_value());
                assert!(
                    problems.is_empty(),
                    "{env} {id}:\n{}\n{}",
                    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"),
                    program.to_yaml()
                );
            }
        }
    }
}
