//! Emission: one Pulumi YAML program per component, from `pulumi-templates/`.
//!
//! [`emit_component`] turns a loaded component into a [`Program`]: the
//! shared provider (region, default tags, `allowedAccountIds`, emulator
//! endpoints), the kind's template filled parameter by parameter, per-item
//! parts (ingress rules, subscriptions, triggers), least-privilege IAM
//! statements for the data components it references, and the outputs its
//! kind documents.
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
use super::names::{bucket_prefix, physical_name, physical_name_with, short_hash, tenant_part, NameKind, NameScope};
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
fn container_log_group(stack: &LoadedStack, tenant: &str, id: &ComponentId) -> String {
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

struct Emitter<'a> {
    stack: &'a LoadedStack,
    c: &'a Component,
    opts: &'a EmitOptions,
    program: Program,
    access: AccessBuilder,
}

fn seq<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Value) -> Value {
    Value::Sequence(items.into_iter().map(f).collect())
}

fn try_seq<T>(
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(T) -> Result<Value, EmitError>,
) -> Result<Value, EmitError> {
    let mut out = Vec::new();
    for i in items {
        out.push(f(i)?);
    }
    Ok(Value::Sequence(out))
}

fn lits<'s>(items: impl IntoIterator<Item = &'s String>) -> Value {
    seq(items, |s| lit(s))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(m)
}

fn as_str(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl<'a> Emitter<'a> {
    fn name(&self) -> String {
        self.c.id.to_string()
    }

    fn protected(&self) -> bool {
        self.stack.protected()
    }

    /// `[stack, env, service, component]` (+ `suffix`) for physical names,
    /// within the deployment's [`NameScope`] (the tenant unless `default`;
    /// the region and account in the hash of global names).
    fn phys(&self, kind: NameKind, suffix: &str) -> String {
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
    fn name_parts(&self) -> Vec<&'a str> {
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

    fn invalid(&self, message: impl Into<String>) -> EmitError {
        EmitError::Invalid { component: self.name(), message: message.into() }
    }

    fn prog_err(&self, source: ProgramError) -> EmitError {
        EmitError::Program { component: self.name(), source }
    }

    /// A user string (a resolved panka template) as a Pulumi value.
    fn v(&mut self, s: &str) -> Result<Value, EmitError> {
        self.value(s)
    }

    fn vo(&mut self, s: Option<&str>) -> Result<Option<Value>, EmitError> {
        s.map(|s| self.value(s)).transpose()
    }

    fn vs(&mut self, items: &[String]) -> Result<Value, EmitError> {
        self.values(items)
    }

    /// A user string as a program value, always of type string: a string
    /// that is exactly one reference to a numeric output (`${database.port}`)
    /// would otherwise reach AWS as a number, since Pulumi YAML keeps the
    /// type of a lone interpolation.
    fn value(&mut self, s: &str) -> Result<Value, EmitError> {
        if let [TemplatePart::Ref(r)] = panka_template::parse(s).as_slice() {
            let id = ComponentId::new(&r.service, &r.component);
            if self.stack.index.kind_of(&id).is_some_and(|k| k.numeric_output(&r.output)) {
                return Ok(self.string_output_of(&id, &r.output));
            }
        }
        self.program.panka_value(s).map_err(|e| EmitError::Program { component: self.c.id.to_string(), source: e })
    }

    /// Reads output `output` of component `target` through a StackReference.
    fn output_of(&mut self, target: &ComponentId, output: &str) -> String {
        as_str(&self.program.stack_output(&OutputRef {
            service: target.service.clone(),
            component: target.name.clone(),
            output: output.to_string(),
        }))
    }

    /// Output `output` of `target` as a string, whatever its type
    /// (`fn::toJSON` of a number is its decimal text).
    fn string_output_of(&mut self, target: &ComponentId, output: &str) -> Value {
        let access = Value::String(self.output_of(target, output));
        match self.stack.index.kind_of(target) {
            Some(kind) if kind.numeric_output(output) => map(vec![("fn::toJSON", access)]),
            _ => access,
        }
    }

    fn resolve(&self, reference: &str) -> Result<(ComponentId, Kind), EmitError> {
        self.stack
            .index
            .resolve(reference, Some(&self.c.id.service))
            .map_err(|_| self.invalid(format!("reference to unknown component `{reference}`")))
    }

    fn network(&self) -> Result<&'a Network, EmitError> {
        self.stack.stack.spec.shared.network.as_ref().ok_or_else(|| EmitError::MissingShared {
            component: self.name(),
            what: "network",
            hint: "set `spec.shared.network` (vpcId and privateSubnetIds) in stack.yaml",
        })
    }

    fn cluster_name(&self) -> Result<String, EmitError> {
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
    fn collect_access(&mut self, security_group: Option<&str>) -> Result<(), EmitError> {
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

    // ---------- containers ----------

    fn container(&mut self, container: Container<'_>, infra: &EffectiveInfra) -> Result<(), EmitError> {
        let network = self.network()?;
        self.collect_access(Some("${securityGroup.id}"))?;

        // Secrets: ECS injects them with the execution role.
        let mut secret_defs = Vec::new();
        let mut secrets_access = AccessBuilder::default();
        for s in container.secrets {
            let (arn, is_ssm) = match (&s.secret_arn, &s.value_from) {
                (Some(arn), _) => (as_str(&self.value(arn)?), arn.starts_with("arn:aws:ssm:") || arn.contains(":ssm:")),
                (None, Some(vf)) => {
                    let (id, _) = self.resolve(&vf.component)?;
                    (self.output_of(&id, &vf.output), false)
                }
                (None, None) => return Err(self.invalid(format!("secret `{}` has no secretArn or valueFrom", s.name))),
            };
            let value_from = match &s.json_key {
                Some(k) if !is_ssm => format!("{arn}:{}::", as_str(&self.v(k)?)),
                _ => arn.clone(),
            };
            if is_ssm {
                secrets_access.allow(actions::SSM_READ, vec![arn]);
            } else {
                secrets_access.allow(actions::SECRET_READ, vec![arn]);
            }
            secret_defs.push(map(vec![("name", self.v(&s.name)?), ("valueFrom", Value::String(value_from))]));
        }

        let container_name = self.c.id.name.clone();
        let mut env_defs = Vec::new();
        for e in container.environment {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => self.value(v)?,
                (None, Some(vf)) => {
                    let (id, _) = self.resolve(&vf.component)?;
                    self.string_output_of(&id, &vf.output)
                }
                (None, None) => lit(""),
            };
            env_defs.push(map(vec![("name", self.v(&e.name)?), ("value", value)]));
        }
        let image = self.value(&container.image.reference())?;

        let mut def = vec![("name", lit(&container_name)), ("image", image), ("essential", Value::Bool(true))];
        if !container.command.is_empty() {
            let v = self.values(container.command)?;
            def.push(("entryPoint", v));
        }
        if !container.args.is_empty() {
            let v = self.values(container.args)?;
            def.push(("command", v));
        }
        if let ComponentSpec::MicroService(ms) = &self.c.spec {
            let ports = ms.ports.clone();
            let mappings = try_seq(&ports, |p| {
                let mut m =
                    vec![("name", self.v(&p.name)?), ("containerPort", Value::from(p.port)), ("protocol", lit("tcp"))];
                match p.protocol {
                    PortProtocol::Http => m.push(("appProtocol", lit("http"))),
                    PortProtocol::Grpc => m.push(("appProtocol", lit("grpc"))),
                    PortProtocol::Tcp => {}
                }
                Ok(map(m))
            })?;
            def.push(("portMappings", mappings));
        }
        def.push(("environment", Value::Sequence(env_defs)));
        if !secret_defs.is_empty() {
            def.push(("secrets", Value::Sequence(secret_defs)));
        }
        if let Some(probe) = self.liveness()? {
            def.push(("healthCheck", probe));
        }
        def.push((
            "logConfiguration",
            map(vec![
                ("logDriver", lit("awslogs")),
                (
                    "options",
                    map(vec![
                        ("awslogs-group", Value::String("${logGroup.name}".into())),
                        ("awslogs-region", self.v(&self.stack.provider.region)?),
                        ("awslogs-stream-prefix", lit(&container_name)),
                    ]),
                ),
            ]),
        ));

        let mut p = Params::new();
        p.set("logGroupName", lit(&container_log_group(self.stack, &self.opts.tenant, &self.c.id)))
            .set("logRetentionDays", if self.protected() { 90 } else { 30 })
            .set("executionRoleName", lit(&self.phys(NameKind::IamRole, "exec")))
            .set("taskRoleName", lit(&self.phys(NameKind::IamRole, "task")))
            .when("hasSecrets", !secrets_access.is_empty())
            .set("secretStatements", secrets_access.to_value())
            .when("hasAccess", !self.access.is_empty())
            .set("accessStatements", self.access.to_value())
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka {} {}", self.c.kind, self.c.id)))
            .set("vpcId", self.v(&network.vpc_id)?)
            .set("family", lit(&self.phys(NameKind::EcsTaskFamily, "")))
            .set("cpu", lit(&infra.cpu.to_string()))
            .set("memory", lit(&infra.memory.to_string()))
            .set(
                "cpuArchitecture",
                lit(match infra.architecture {
                    Architecture::X86_64 => "X86_64",
                    Architecture::Arm64 => "ARM64",
                }),
            )
            .set("containerDefinitions", Value::Sequence(vec![map(def)]));
        let v = render_file(files::CONTAINER, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    fn values(&mut self, items: &[String]) -> Result<Value, EmitError> {
        let mut out = Vec::new();
        for i in items {
            out.push(self.value(i)?);
        }
        Ok(Value::Sequence(out))
    }

    /// The ECS container health check from `healthCheck.liveness`.
    fn liveness(&mut self) -> Result<Option<Value>, EmitError> {
        let c = self.c;
        let hc = match &c.spec {
            ComponentSpec::MicroService(s) => &s.health_check,
            ComponentSpec::Worker(s) => &s.health_check,
            _ => return Ok(None),
        };
        let Some(probe) = hc.liveness.as_ref() else {
            return Ok(None);
        };
        let command: Vec<String> = match (&probe.command, &probe.http) {
            (Some(c), _) => c.clone(),
            (None, Some(h)) => {
                vec!["CMD-SHELL".into(), format!("curl -fsS http://localhost:{}{} || exit 1", h.port, h.path)]
            }
            (None, None) => return Ok(None),
        };
        let mut m = vec![
            ("command", self.vs(&command)?),
            ("interval", Value::from(probe.period_seconds.clamp(5, 300))),
            ("timeout", Value::from(probe.timeout_seconds.clamp(2, 60))),
            ("retries", Value::from(probe.failure_threshold.clamp(1, 10))),
        ];
        if let Some(d) = probe.initial_delay_seconds {
            m.push(("startPeriod", Value::from(d.min(300))));
        }
        Ok(Some(map(m)))
    }

    fn infra(&self) -> Result<EffectiveInfra, EmitError> {
        self.c.infra.clone().ok_or_else(|| self.invalid("a container component has no effective infra"))
    }

    /// The capacity provider strategy: Fargate or Fargate Spot, never a
    /// `launchType`. `launchType` forces a replacement when it changes and
    /// cannot coexist with a strategy, so toggling `spot` with it replaced
    /// the service (and collided on its fixed name); a strategy changes in
    /// place (the services set `forceNewDeployment`, which the provider
    /// requires for that). The cluster must offer both providers: the
    /// shared program's created cluster does; an existing cluster needs
    /// `FARGATE` and `FARGATE_SPOT` in its capacity providers.
    fn capacity(&self, p: &mut Params, infra: &EffectiveInfra) {
        let provider = if infra.spot { "FARGATE_SPOT" } else { "FARGATE" };
        p.opt("launchType", None::<Value>).set(
            "capacityProviderStrategies",
            Value::Sequence(vec![map(vec![("capacityProvider", lit(provider)), ("weight", Value::from(1))])]),
        );
    }

    fn ecs_service_params(&mut self, p: &mut Params, infra: &EffectiveInfra) -> Result<(), EmitError> {
        let network = self.network()?;
        if network.private_subnet_ids.is_empty() {
            return Err(self.invalid("`spec.shared.network.privateSubnetIds` is empty"));
        }
        let cluster = self.cluster_name()?;
        let cluster = self.v(&cluster)?;
        p.set("serviceName", lit(&self.phys(NameKind::EcsService, "")))
            .set("cluster", cluster)
            .set("desiredCount", infra.replicas)
            .set("subnets", self.vs(&network.private_subnet_ids)?)
            .opt("serviceIgnoreChanges", infra.autoscaling.as_ref().map(|_| seq(["desiredCount"], lit)));
        self.capacity(p, infra);
        Ok(())
    }

    fn autoscaling(&mut self, infra: &EffectiveInfra) -> Result<(), EmitError> {
        let Some(a) = &infra.autoscaling else {
            return Ok(());
        };
        let cluster = self.cluster_name()?;
        let cpu = a.target_cpu_percent.or(if a.target_memory_percent.is_none() { Some(70) } else { None });
        let mut p = Params::new();
        p.set("scalingResourceId", Value::String(format!("service/{}/${{service.name}}", as_str(&self.v(&cluster)?))))
            .set("minCapacity", a.min)
            .set("maxCapacity", a.max)
            .when("scaleOnCpu", cpu.is_some())
            .set("cpuPolicyName", lit(&self.phys(NameKind::ScalingPolicy, "cpu")))
            .set("cpuTarget", cpu.unwrap_or(70))
            .when("scaleOnMemory", a.target_memory_percent.is_some())
            .set("memoryPolicyName", lit(&self.phys(NameKind::ScalingPolicy, "memory")))
            .set("memoryTarget", a.target_memory_percent.unwrap_or(70));
        let v = render_file(files::ECS_AUTOSCALING, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    fn microservice(&mut self, s: &MicroServiceSpec) -> Result<(), EmitError> {
        let infra = self.infra()?;
        let lb = self.stack.stack.spec.shared.load_balancer.clone().ok_or_else(|| EmitError::MissingShared {
            component: self.name(),
            what: "loadBalancer",
            hint: "set `spec.shared.loadBalancer.listenerArn` (the shared ALB listener) in stack.yaml",
        })?;
        let port = s.ports.first().ok_or_else(|| self.invalid("a MicroService needs at least one port"))?;
        self.container(s.container(), &infra)?;

        let rule = infra.load_balancer.clone().unwrap_or_default();
        let mut conditions = Vec::new();
        let paths = if rule.path_patterns.is_empty() && rule.host_headers.is_empty() {
            vec!["/*".to_string()]
        } else {
            rule.path_patterns.clone()
        };
        if !paths.is_empty() {
            conditions.push(map(vec![("pathPattern", map(vec![("values", self.vs(&paths)?)]))]));
        }
        if !rule.host_headers.is_empty() {
            conditions.push(map(vec![("hostHeader", map(vec![("values", self.vs(&rule.host_headers)?)]))]));
        }
        let priority = listener_priority(&self.c.id, rule.priority);

        let readiness = s.health_check.readiness.as_ref();
        let http = readiness.and_then(|r| r.http.as_ref());
        let grpc = port.protocol == PortProtocol::Grpc;
        // A gRPC target group's matcher holds gRPC status codes, not HTTP
        // ones: `0` (OK) for the service's own health method, `12`
        // (UNIMPLEMENTED) for ALB's default path, which proves the server
        // answers gRPC.
        let (path, matcher) = match (grpc, http) {
            (true, Some(h)) => (h.path.as_str(), "0"),
            (true, None) => ("/AWS.ALB/healthcheck", "12"),
            (false, Some(h)) => (h.path.as_str(), h.success_codes.as_str()),
            (false, None) => ("/", "200-399"),
        };
        let mut hc = vec![
            ("enabled", Value::Bool(true)),
            ("protocol", lit("HTTP")),
            ("path", self.v(path)?),
            ("port", lit(&http.map_or("traffic-port".to_string(), |h| h.port.to_string()))),
            ("matcher", self.v(matcher)?),
        ];
        if let Some(r) = readiness {
            let interval = r.period_seconds.clamp(5, 300);
            hc.push(("interval", Value::from(interval)));
            hc.push(("timeout", Value::from(r.timeout_seconds.clamp(2, 120).min(interval - 1))));
            hc.push(("healthyThreshold", Value::from(r.success_threshold.clamp(2, 10))));
            hc.push(("unhealthyThreshold", Value::from(r.failure_threshold.clamp(2, 10))));
        }

        let url = self.url(&lb, &rule)?;
        let alb_security_group = self.alb_security_group(&lb)?;
        let deployment_alarms = self.target_group_alarm(&lb)?;
        // The port and protocol version force a replacement of the target
        // group: with them in its name the replacement gets a new name, so
        // Pulumi creates it before deleting the old one (which the listener
        // rule and the service still use until they follow).
        let tg_suffix = format!("{}{}", port.port, if grpc { "g" } else { "" });
        let mut p = Params::new();
        p.set("targetGroupName", lit(&self.phys(NameKind::TargetGroup, &tg_suffix)))
            .set("vpcId", self.v(&self.network()?.vpc_id)?)
            .set("protocolVersion", lit(if grpc { "GRPC" } else { "HTTP1" }))
            .set("containerPort", port.port)
            .set("containerName", lit(&self.c.id.name))
            .set("targetGroupHealthCheck", map(hc))
            .set("listenerArn", self.v(&lb.listener_arn)?)
            .set("priority", priority)
            .set("listenerConditions", Value::Sequence(conditions))
            .set("albSecurityGroupId", alb_security_group)
            .opt("deploymentAlarms", deployment_alarms)
            .set("healthCheckGracePeriodSeconds", infra.health_check_grace_period_seconds)
            .set("url", url);
        self.ecs_service_params(&mut p, &infra)?;
        let v = render_file(files::MICROSERVICE, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        self.autoscaling(&infra)
    }

    /// The load balancer's security group, which the service's security
    /// group lets in: `securityGroupId` when the stack gives it, else the
    /// first security group of the listener's load balancer, looked up at
    /// deploy time (without one the service would be unreachable).
    fn alb_security_group(&mut self, lb: &SharedLoadBalancer) -> Result<Value, EmitError> {
        if let Some(sg) = &lb.security_group_id {
            return self.v(sg);
        }
        self.load_balancer_lookup(lb, "loadBalancerSecurityGroups", "securityGroups")?;
        Ok(map(vec![(
            "fn::select",
            Value::Sequence(vec![Value::from(0), Value::String("${loadBalancerSecurityGroups}".into())]),
        )]))
    }

    /// Program variables reading the shared load balancer from its
    /// listener: `loadBalancerArn`, and `variable` = its field `field`.
    fn load_balancer_lookup(&mut self, lb: &SharedLoadBalancer, variable: &str, field: &str) -> Result<(), EmitError> {
        let listener_arn = self.v(&lb.listener_arn)?;
        let provider = || map(vec![("provider", Value::String(format!("${{{DEFAULT_PROVIDER}}}")))]);
        let listener = map(vec![(
            "fn::invoke",
            map(vec![
                ("function", lit("aws:lb/getListener:getListener")),
                ("arguments", map(vec![("arn", listener_arn)])),
                ("options", provider()),
                ("return", lit("loadBalancerArn")),
            ]),
        )]);
        let value = map(vec![(
            "fn::invoke",
            map(vec![
                ("function", lit("aws:lb/getLoadBalancer:getLoadBalancer")),
                ("arguments", map(vec![("arn", Value::String("${loadBalancerArn}".into()))])),
                ("options", provider()),
                ("return", lit(field)),
            ]),
        )]);
        self.program.variables.insert("loadBalancerArn".into(), listener);
        self.program.variables.insert(variable.into(), value);
        Ok(())
    }

    /// The service's URL: `https://<host>` for a host rule, else the shared
    /// load balancer's DNS name (given, or looked up from the listener),
    /// plus the first path pattern's fixed prefix.
    fn url(&mut self, lb: &SharedLoadBalancer, rule: &LoadBalancerRule) -> Result<Value, EmitError> {
        let path =
            rule.path_patterns.first().map(|p| p.trim_end_matches('*').to_string()).unwrap_or_else(|| "/".to_string());
        let path = if path.starts_with('/') { path } else { format!("/{path}") };
        if let Some(host) = rule.host_headers.first() {
            return self.v(&format!("https://{host}{path}"));
        }
        if let Some(dns) = &lb.dns_name {
            return self.v(&format!("http://{dns}{path}"));
        }
        self.load_balancer_lookup(lb, "loadBalancerDnsName", "dnsName")?;
        let path = self.v(&path)?;
        Ok(Value::String(format!("http://${{loadBalancerDnsName}}{}", path.as_str().unwrap_or_default())))
    }

    fn worker(&mut self, s: &WorkerSpec) -> Result<(), EmitError> {
        let infra = self.infra()?;
        self.container(s.container(), &infra)?;
        let mut p = Params::new();
        self.ecs_service_params(&mut p, &infra)?;
        let v = render_file(files::WORKER, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        self.autoscaling(&infra)
    }

    fn cronjob(&mut self, s: &CronJobSpec) -> Result<(), EmitError> {
        let infra = self.infra()?;
        self.container(s.container(), &infra)?;
        let network = self.network()?;
        let cluster = self.cluster_name()?;
        let cluster = self.v(&cluster)?;
        // The tasks the schedule starts, which it tags as it starts them.
        let region = as_str(&self.v(&self.stack.provider.region)?);
        let account = iam::account_id(&mut self.program, self.stack.provider.account_id.as_deref());
        let task_arns = format!("arn:${{partition}}:ecs:{region}:{account}:task/{}/*", as_str(&cluster));
        let mut p = Params::new();
        p.set("cluster", cluster)
            .set("schedulerRoleName", lit(&self.phys(NameKind::IamRole, "scheduler")))
            .set("deadLetterQueueName", lit(&self.phys(NameKind::SqsQueue, "dlq")))
            .set("taskArnPattern", Value::String(task_arns))
            .set("scheduleName", lit(&self.phys(NameKind::Schedule, "")))
            .set("description", lit(&format!("panka CronJob {}", self.c.id)))
            .set("scheduleExpression", self.v(&s.schedule)?)
            .set("timezone", self.v(&s.timezone)?)
            .set("state", lit(if s.suspended { "DISABLED" } else { "ENABLED" }))
            .set("retries", s.retries.min(185))
            .set("subnets", self.vs(&network.private_subnet_ids)?);
        self.capacity(&mut p, &infra);
        let v = render_file(files::CRONJOB, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    // ---------- Lambda ----------

    fn lambda(&mut self, s: &LambdaSpec) -> Result<(), EmitError> {
        let network = if s.vpc { Some(self.network()?) } else { None };
        self.collect_access(s.vpc.then_some("${securityGroup.id}"))?;
        let function_name = self.phys(NameKind::LambdaFunction, "");
        let mut env = Mapping::new();
        for e in &s.environment {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => self.value(v)?,
                (None, Some(vf)) => {
                    let (id, _) = self.resolve(&vf.component)?;
                    self.string_output_of(&id, &vf.output)
                }
                (None, None) => lit(""),
            };
            // A key is never interpolated: only the panka escape is removed.
            let name = crate::load::template::unescape(&e.name);
            env.insert(key(&name).map_err(|e| self.prog_err(e))?, value);
        }
        let image = s.code.image.as_ref();
        let s3 = s.code.s3.as_ref();
        if image.is_none() == s3.is_none() {
            return Err(self.invalid("`spec.code` needs exactly one of `s3` or `image`"));
        }
        let image_value = match image {
            Some(i) => Some(self.value(i)?),
            None => None,
        };
        let runtime = self.vo(s.runtime.as_deref().filter(|_| image.is_none()))?;
        let handler = self.vo(s.handler.as_deref().filter(|_| image.is_none()))?;
        let mut p = Params::new();
        p.set("roleName", lit(&self.phys(NameKind::IamRole, "fn")))
            .when("inVpc", s.vpc)
            .when("hasAccess", !self.access.is_empty())
            .set("accessStatements", self.access.to_value())
            .set("logGroupName", lit(&format!("/aws/lambda/{function_name}")))
            .set("logRetentionDays", s.log_retention_days)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka Lambda {}", self.c.id)))
            .set("vpcId", self.v(network.map_or("", |n| n.vpc_id.as_str()))?)
            .set("subnets", lits(network.map_or(&[][..], |n| &n.private_subnet_ids[..])))
            .set("functionName", lit(&function_name))
            .set("description", lit(&format!("panka Lambda {}", self.c.id)))
            .set("packageType", lit(if image.is_some() { "Image" } else { "Zip" }))
            .opt("runtime", runtime)
            .opt("handler", handler)
            .opt("s3Bucket", s3.map(|c| self.v(&c.bucket)).transpose()?)
            .opt("s3Key", s3.map(|c| self.v(&c.key)).transpose()?)
            .opt("s3ObjectVersion", self.vo(s3.and_then(|c| c.version.as_deref()))?)
            .opt("imageUri", image_value)
            .set("memorySize", s.memory)
            .set("timeout", s.timeout_seconds)
            .set(
                "architecture",
                lit(match s.architecture {
                    Architecture::X86_64 => "x86_64",
                    Architecture::Arm64 => "arm64",
                }),
            )
            .opt("reservedConcurrency", s.reserved_concurrency)
            .opt("environment", (!env.is_empty()).then(|| map(vec![("variables", Value::Mapping(env))])));
        let v = render_file(files::LAMBDA, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        for t in &s.triggers {
            let (id, kind) = self.resolve(&t.component)?;
            if kind != Kind::Sqs {
                return Err(self.invalid(format!("trigger `{}` is a {kind}, not an SQS queue", t.component)));
            }
            let arn = self.output_of(&id, "arn");
            let mut p = Params::new();
            p.set("queueArn", Value::String(arn))
                .set("batchSize", t.batch_size)
                .opt("maximumBatchingWindowInSeconds", t.maximum_batching_window_seconds);
            let v = render_file(files::LAMBDA_TRIGGER_ITEM, &p)?;
            let name = format!("trigger-{}-{}", id.service, id.name);
            self.program.merge_item(&name, &v).map_err(|e| self.prog_err(e))?;
        }
        Ok(())
    }

    // ---------- data components ----------

    fn deletion_protection(&self, explicit: Option<bool>) -> bool {
        explicit.unwrap_or_else(|| self.protected())
    }

    fn rds(&mut self, s: &RdsSpec) -> Result<(), EmitError> {
        let network = self.network()?;
        let identifier = self.phys(NameKind::RdsInstance, "");
        let protected = self.protected();
        let mut p = Params::new();
        p.set("subnetGroupName", lit(&self.phys(NameKind::RdsSubnetGroup, "")))
            .set("description", lit(&format!("panka RDS {}", self.c.id)))
            .set("subnets", self.vs(&network.private_subnet_ids)?)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka RDS {}", self.c.id)))
            .set("vpcId", self.v(&network.vpc_id)?)
            .set("identifier", lit(&identifier))
            .set("engine", lit(s.engine.kind.as_str()))
            .set("engineVersion", self.v(&rds_engine_version(s.engine.kind, &s.engine.version))?)
            .set("instanceClass", self.v(&s.instance.class)?)
            .set("allocatedStorage", s.instance.storage.allocated_gb)
            .opt("maxAllocatedStorage", s.instance.storage.max_allocated_gb)
            .set("storageType", self.v(&s.instance.storage.kind)?)
            .opt("iops", s.instance.storage.iops)
            .set("storageEncrypted", s.encryption.at_rest)
            .opt("kmsKeyId", self.vo(s.encryption.kms_key_id.as_deref())?)
            .set("dbName", self.v(&s.database.name)?)
            .set("username", self.v(&s.database.username)?)
            .set("port", s.database.port.unwrap_or(s.engine.kind.default_port()))
            .set("multiAz", s.availability.multi_az)
            .set("backupRetentionDays", s.backup.automated.retention_days)
            .opt("backupWindow", self.vo(s.backup.automated.window.as_deref())?)
            .opt("maintenanceWindow", self.vo(s.maintenance_window.as_deref())?)
            .set("deletionProtection", self.deletion_protection(s.deletion_protection))
            .set("skipFinalSnapshot", !protected)
            .opt("finalSnapshotIdentifier", protected.then(|| final_snapshot_identifier(&identifier)))
            .set("performanceInsights", s.performance_insights)
            .set(
                "logExports",
                seq(
                    match s.engine.kind {
                        RdsEngineType::Postgres => &["postgresql", "upgrade"][..],
                        RdsEngineType::Mysql | RdsEngineType::Mariadb => &["error", "slowquery"][..],
                    },
                    |x| lit(x),
                ),
            )
            .set("protect", protected);
        let v = render_file(files::RDS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    fn dynamodb(&mut self, s: &DynamoDbSpec) -> Result<(), EmitError> {
        let provisioned = s.billing_mode == BillingMode::Provisioned;
        let cap = s.capacity.as_ref();
        if provisioned && cap.is_none() {
            return Err(self.invalid("`billingMode: PROVISIONED` needs `capacity`"));
        }
        let gsis = try_seq(&s.global_secondary_indexes, |g| {
            let mut keys = vec![map(vec![("attributeName", self.v(&g.partition_key)?), ("keyType", lit("HASH"))])];
            if let Some(sk) = &g.sort_key {
                keys.push(map(vec![("attributeName", self.v(sk)?), ("keyType", lit("RANGE"))]));
            }
            let mut m = vec![
                ("name", self.v(&g.name)?),
                ("keySchemas", Value::Sequence(keys)),
                ("projectionType", self.v(&g.projection)?),
            ];
            if !g.non_key_attributes.is_empty() {
                m.push(("nonKeyAttributes", self.vs(&g.non_key_attributes)?));
            }
            if let (true, Some(c)) = (provisioned, cap) {
                m.push(("readCapacity", Value::from(c.read)));
                m.push(("writeCapacity", Value::from(c.write)));
            }
            Ok(map(m))
        })?;
        let ttl = self.vo(s.ttl_attribute.as_deref())?;
        let mut p = Params::new();
        p.set("tableName", lit(&self.phys(NameKind::DynamoDbTable, "")))
            .set("billingMode", lit(if provisioned { "PROVISIONED" } else { "PAY_PER_REQUEST" }))
            .set("hashKey", self.v(&s.partition_key)?)
            .opt("rangeKey", self.vo(s.sort_key.as_deref())?)
            .opt("readCapacity", cap.filter(|_| provisioned).map(|c| c.read))
            .opt("writeCapacity", cap.filter(|_| provisioned).map(|c| c.write))
            .set(
                "attributes",
                try_seq(&s.attributes, |a| {
                    Ok(map(vec![
                        ("name", self.v(&a.name)?),
                        (
                            "type",
                            lit(match a.kind {
                                AttributeType::S => "S",
                                AttributeType::N => "N",
                                AttributeType::B => "B",
                            }),
                        ),
                    ]))
                })?,
            )
            .opt("globalSecondaryIndexes", (!s.global_secondary_indexes.is_empty()).then_some(gsis))
            .opt("streamEnabled", s.stream.as_ref().map(|_| true))
            .opt("streamViewType", self.vo(s.stream.as_deref())?)
            .opt("ttl", ttl.map(|a| map(vec![("attributeName", a), ("enabled", Value::Bool(true))])))
            .set("pointInTimeRecovery", s.point_in_time_recovery)
            .set("deletionProtection", self.deletion_protection(s.deletion_protection))
            .set("protect", self.protected())
            .set(
                "streamArnOutput",
                if s.stream.is_some() { Value::String("${table.streamArn}".into()) } else { lit("") },
            );
        let v = render_file(files::DYNAMODB, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    fn s3(&mut self, s: &S3Spec) -> Result<(), EmitError> {
        let protected = self.protected();
        let bucket = bucket_prefix(&self.name_parts());
        let rules = try_seq(&s.lifecycle_rules, |r| {
            let mut m = vec![
                ("id", self.v(&r.name)?),
                ("status", lit("Enabled")),
                ("filter", map(vec![("prefix", self.v(&r.prefix)?)])),
            ];
            if let Some(d) = r.expiration_days {
                m.push(("expiration", map(vec![("days", Value::from(d))])));
            }
            if let Some(d) = r.noncurrent_version_expiration_days {
                m.push(("noncurrentVersionExpiration", map(vec![("noncurrentDays", Value::from(d))])));
            }
            if let (Some(class), Some(days)) = (&r.transition_storage_class, r.transition_days) {
                m.push((
                    "transitions",
                    Value::Sequence(vec![map(vec![("days", Value::from(days)), ("storageClass", self.v(class)?)])]),
                ));
            }
            m.push(("abortIncompleteMultipartUpload", map(vec![("daysAfterInitiation", Value::from(7))])));
            Ok(map(m))
        })?;
        let cors = try_seq(&s.cors, |c| {
            let mut m = vec![
                ("allowedOrigins", self.vs(&c.allowed_origins)?),
                ("allowedMethods", self.vs(&c.allowed_methods)?),
            ];
            if !c.allowed_headers.is_empty() {
                m.push(("allowedHeaders", self.vs(&c.allowed_headers)?));
            }
            if let Some(a) = c.max_age_seconds {
                m.push(("maxAgeSeconds", Value::from(a)));
            }
            Ok(map(m))
        })?;
        let mut p = Params::new();
        p.set("bucketPrefix", lit(&bucket))
            .set("forceDestroy", s.force_destroy && !protected)
            .set("protect", protected)
            .set("blockPublicAccess", s.block_public_access)
            .set("sseAlgorithm", self.v(&s.encryption.algorithm)?)
            .opt("kmsKeyId", self.vo(s.encryption.kms_key_id.as_deref())?)
            .set("versioningStatus", lit(if s.versioning { "Enabled" } else { "Suspended" }))
            .when("hasLifecycle", !s.lifecycle_rules.is_empty())
            .set("lifecycleRules", rules)
            .when("hasCors", !s.cors.is_empty())
            .set("corsRules", cors);
        let v = render_file(files::S3, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }

    fn sqs(&mut self, s: &SqsSpec) -> Result<(), EmitError> {
        let fifo = if s.fifo { ".fifo" } else { "" };
        let parts = self.name_parts();
        let queue = physical_name_with(NameKind::SqsQueue, &parts, fifo, "");
        let mut dlq_parts = parts.to_vec();
        dlq_parts.push("dlq");
        let dlq = physical_name_with(NameKind::SqsQueue, &dlq_parts, fifo, "");
        let dl = &s.dead_letter;
        let mut p = Params::new();
        p.when("hasDeadLetter", dl.enabled)
            .set("deadLetterQueueName", lit(&dlq))
            .set("deadLetterRetentionSeconds", dl.message_retention_seconds)
            .set("queueName", lit(&queue))
            .opt("fifo", s.fifo.then_some(true))
            .opt("contentBasedDeduplication", (s.fifo && s.content_based_deduplication).then_some(true))
            .set("visibilityTimeoutSeconds", s.visibility_timeout_seconds)
            .set("messageRetentionSeconds", s.message_retention_seconds)
            .set("delaySeconds", s.delay_seconds)
            .set("receiveWaitTimeSeconds", s.receive_wait_time_seconds)
            .opt(
                "redrivePolicy",
                dl.enabled.then(|| {
                    super::program::to_json(map(vec![
                        ("deadLetterTargetArn", Value::String("${deadLetterQueue.arn}".into())),
                        ("maxReceiveCount", Value::from(dl.max_receive_count)),
                    ]))
                }),
            )
            .set("dlqUrlOutput", if dl.enabled { Value::String("${deadLetterQueue.url}".into()) } else { lit("") })
            .set("dlqArnOutput", if dl.enabled { Value::String("${deadLetterQueue.arn}".into()) } else { lit("") });
        let v = render_file(files::SQS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        self.queue_policy()
    }

    /// The queue's one policy, in the queue's own program: every SNS topic
    /// of the stack that subscribes this queue may send to it. Topics name
    /// the queue (its ARN through a StackReference), so the queue's program
    /// builds each topic's ARN from the topic's physical name, region and
    /// account instead of reading it, which would make a dependency cycle
    /// (docs/kinds/sqs.md). One resource per queue: two topics never
    /// overwrite each other's permission.
    fn queue_policy(&mut self) -> Result<(), EmitError> {
        let me = &self.c.id;
        let mut topics = Vec::new();
        for (id, c) in &self.stack.components {
            let ComponentSpec::Sns(t) = &c.spec else {
                continue;
            };
            let subscribes = t.subscriptions.iter().filter_map(|s| s.component.as_deref()).any(|r| {
                // Cheap name test first: every queue scans every topic.
                r.rsplit('/').next() == Some(me.name.as_str())
                    && self.stack.index.resolve(r, Some(&id.service)).is_ok_and(|(target, _)| &target == me)
            });
            if subscribes {
                topics.push(topic_name(self.stack, &self.opts.tenant, id, t.fifo));
            }
        }
        if topics.is_empty() {
            return Ok(());
        }
        let region = as_str(&self.v(&self.stack.provider.region)?);
        let account = iam::account_id(&mut self.program, self.stack.provider.account_id.as_deref());
        let arns: Vec<String> = topics.iter().map(|t| iam::topic_arn(&region, &account, t)).collect();
        let mut q = Params::new();
        q.set("statements", iam::queue_policy_statements("${queue.arn}", &arns));
        let v = render_file(files::SQS_FROM_SNS_ITEM, &q)?;
        self.program.merge_item("topicsPolicy", &v).map_err(|e| self.prog_err(e))
    }

    fn sns(&mut self, s: &SnsSpec) -> Result<(), EmitError> {
        let topic = topic_name(self.stack, &self.opts.tenant, &self.c.id, s.fifo);
        let mut p = Params::new();
        p.set("topicName", lit(&topic))
            .opt("fifo", s.fifo.then_some(true))
            .opt("contentBasedDeduplication", (s.fifo && s.content_based_deduplication).then_some(true))
            .set("kmsKeyId", self.v(&s.kms_key_id)?);
        let v = render_file(files::SNS, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;

        for sub in &s.subscriptions {
            let logical = format!("sub-{}", short_hash(&sub.name));
            let (protocol, endpoint) = match (&sub.component, &sub.endpoint) {
                (Some(c), _) => {
                    let (id, kind) = self.resolve(c)?;
                    match kind {
                        Kind::Sqs => {
                            // The queue's program holds the queue's policy
                            // (`Emitter::queue_policy`).
                            let arn = self.output_of(&id, "arn");
                            ("sqs".to_string(), Value::String(arn))
                        }
                        Kind::Lambda => {
                            let arn = self.output_of(&id, "arn");
                            let mut q = Params::new();
                            q.set("functionName", Value::String(arn.clone()));
                            let v = render_file(files::LAMBDA_FROM_SNS_ITEM, &q)?;
                            let name = format!("invoke-{}", logical);
                            self.program.merge_item(&name, &v).map_err(|e| self.prog_err(e))?;
                            ("lambda".to_string(), Value::String(arn))
                        }
                        other => {
                            return Err(self.invalid(format!(
                                "subscription `{}` targets a {other}; only SQS and Lambda components can subscribe",
                                sub.name
                            )))
                        }
                    }
                }
                (None, Some(endpoint)) => {
                    let protocol = match &sub.protocol {
                        Some(p) => p.clone(),
                        None if endpoint.starts_with("https://") => "https".into(),
                        None if endpoint.starts_with("http://") => "http".into(),
                        None if endpoint.contains('@') => "email".into(),
                        None => return Err(self.invalid(format!("subscription `{}` needs `protocol`", sub.name))),
                    };
                    (protocol, self.value(endpoint)?)
                }
                (None, None) => {
                    return Err(self.invalid(format!("subscription `{}` needs `component` or `endpoint`", sub.name)))
                }
            };
            let raw = sub.raw_message_delivery && matches!(protocol.as_str(), "sqs" | "http" | "https" | "firehose");
            let mut q = Params::new();
            q.set("protocol", self.v(&protocol)?)
                .set("endpoint", endpoint)
                .opt("rawMessageDelivery", raw.then_some(true))
                .opt(
                    "filterPolicy",
                    sub.filter_policy
                        .as_ref()
                        .map(|f| lit(&serde_json::to_string(&unescape_json(f)).unwrap_or_default())),
                );
            let v = render_file(files::SNS_SUBSCRIPTION_ITEM, &q)?;
            self.program.merge_item(&logical, &v).map_err(|e| self.prog_err(e))?;
        }
        Ok(())
    }

    fn elasticache(&mut self, s: &ElastiCacheSpec) -> Result<(), EmitError> {
        let network = self.network()?;
        let protected = self.protected();
        let id = self.phys(NameKind::ElastiCacheReplicationGroup, "");
        let multi_az = s.multi_az && s.replicas >= 1;
        let mut p = Params::new();
        p.set("subnetGroupName", lit(&self.phys(NameKind::ElastiCacheSubnetGroup, "")))
            .set("description", lit(&format!("panka ElastiCache {}", self.c.id)))
            .set("subnets", self.vs(&network.private_subnet_ids)?)
            .set("securityGroupName", lit(&self.phys(NameKind::SecurityGroup, "")))
            .set("securityGroupDescription", lit(&format!("panka ElastiCache {}", self.c.id)))
            .set("vpcId", self.v(&network.vpc_id)?)
            .set("replicationGroupId", lit(&id))
            .set("engine", lit(s.engine.as_str()))
            .set("engineVersion", self.v(&s.version)?)
            .set("nodeType", self.v(&s.node_type)?)
            .set("numCacheClusters", 1 + s.replicas)
            .set("multiAz", multi_az)
            .set("port", s.port)
            .set("atRestEncryption", s.encryption.at_rest)
            .set("inTransitEncryption", s.encryption.in_transit)
            .set("snapshotRetentionDays", s.snapshot_retention_days)
            .opt("maintenanceWindow", self.vo(s.maintenance_window.as_deref())?)
            .opt(
                "finalSnapshotIdentifier",
                (protected && s.snapshot_retention_days > 0).then(|| final_snapshot_identifier(&id)),
            )
            .set("protect", protected);
        let v = render_file(files::ELASTICACHE, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))
    }
}

/// The physical name of SNS component `id`'s topic: its own program
/// creates it and the programs of the queues it delivers to name it in
/// their policies. The tenant leads unless it is `default` (docs/names.md).
fn topic_name(stack: &LoadedStack, tenant: &str, id: &ComponentId, fifo: bool) -> String {
    let mut parts: Vec<&str> = tenant_part(tenant).into_iter().collect();
    parts.extend([stack.name(), stack.environment.as_str(), id.service.as_str(), id.name.as_str()]);
    physical_name_with(NameKind::SnsTopic, &parts, if fifo { ".fifo" } else { "" }, "")
}

/// The engine version an RDS instance is given: the major version
/// (`16.4` → `16`, MySQL `8.0.35` → `8.0`), since the instance upgrades
/// minor versions itself (`autoMinorVersionUpgrade`, always on): a pinned
/// minor would ask Pulumi to downgrade after AWS upgraded it. A version
/// that is already a major one, or that panka cannot read, is kept.
pub fn rds_engine_version(engine: RdsEngineType, version: &str) -> String {
    let numeric: Vec<&str> = version.split('.').collect();
    if numeric.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return version.to_string();
    }
    let major_parts = match engine {
        // PostgreSQL 10 and later: the first number; 9.6 had two.
        RdsEngineType::Postgres => {
            if numeric[0].parse::<u32>().unwrap_or(0) >= 10 {
                1
            } else {
                2
            }
        }
        RdsEngineType::Mysql | RdsEngineType::Mariadb => 2,
    };
    numeric.iter().take(major_parts).copied().collect::<Vec<_>>().join(".")
}

/// The final snapshot identifier of a database or cache `identifier`:
/// `<identifier>-final-<security group id>`. A fixed `-final` collides
/// when a recreated database is destroyed again (the first incarnation's
/// snapshot still exists); the component's own security group is created
/// with it, recreated with it, known before it, and its id is never reused
/// by AWS, so each incarnation gets its own snapshot name, the same on
/// every run.
fn final_snapshot_identifier(identifier: &str) -> Value {
    Value::String(format!("{identifier}-final-${{securityGroup.id}}"))
}

/// A JSON document from the spec (an SNS filter policy) with its strings
/// panka escapes removed: it is sent as one literal string.
fn unescape_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) => J::String(crate::load::template::unescape(s)),
        J::Array(a) => J::Array(a.iter().map(unescape_json).collect()),
        J::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), unescape_json(v))).collect()),
        other => other.clone(),
    }
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
