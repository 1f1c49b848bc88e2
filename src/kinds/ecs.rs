//! What the container kinds share (MicroService, Worker, CronJob, in
//! `microservice.rs`, `worker.rs` and `cronjob.rs`): the container, its task
//! definition, roles, log group and security group
//! (`pulumi-templates/shared/container.yaml`), the ECS service's common
//! parameters, Fargate capacity, autoscaling
//! (`pulumi-templates/shared/ecs-autoscaling.yaml`) and the health probes'
//! rules. Their docs: `docs/kinds/componentinfra.md` and each kind's page.

use serde_yaml::Value;

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{Architecture, ComponentSpec, Container, EffectiveInfra, HealthCheck, Kind, PortProtocol};
use crate::pulumi::emit::{as_str, container_log_group, map, seq, try_seq, EmitError, Emitter};
use crate::pulumi::iam::{actions, AccessBuilder};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::lit;
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(super) fn container(&mut self, container: Container<'_>, infra: &EffectiveInfra) -> Result<(), EmitError> {
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
            let value = self.env_value(e)?;
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

    pub(super) fn infra(&self) -> Result<EffectiveInfra, EmitError> {
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
    pub(super) fn capacity(&self, p: &mut Params, infra: &EffectiveInfra) {
        let provider = if infra.spot { "FARGATE_SPOT" } else { "FARGATE" };
        p.opt("launchType", None::<Value>).set(
            "capacityProviderStrategies",
            Value::Sequence(vec![map(vec![("capacityProvider", lit(provider)), ("weight", Value::from(1))])]),
        );
    }

    pub(super) fn ecs_service_params(&mut self, p: &mut Params, infra: &EffectiveInfra) -> Result<(), EmitError> {
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

    pub(super) fn autoscaling(&mut self, infra: &EffectiveInfra) -> Result<(), EmitError> {
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
}

impl Checker<'_> {
    pub(super) fn probes(&mut self, c: &Component, hc: &HealthCheck, ports: &[u32]) {
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
}
