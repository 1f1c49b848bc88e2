//! MicroService: template `pulumi-templates/microservice.yaml`, docs
//! `docs/kinds/microservice.md`. The container and the ECS service's common
//! parts are in [`ecs`](super::ecs); its target group's 5xx alarm is in
//! `src/pulumi/emit/alarms.rs`.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::{LoadBalancerRule, MicroServiceSpec, Port, PortProtocol, SharedLoadBalancer};
use crate::pulumi::emit::{listener_priority, map, EmitError, Emitter};
use crate::pulumi::names::NameKind;
use crate::pulumi::program::{lit, DEFAULT_PROVIDER};
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn microservice(&mut self, s: &MicroServiceSpec) -> Result<(), EmitError> {
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
    pub(crate) fn load_balancer_lookup(
        &mut self,
        lb: &SharedLoadBalancer,
        variable: &str,
        field: &str,
    ) -> Result<(), EmitError> {
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
}

impl Checker<'_> {
    pub(crate) fn microservice(&mut self, c: &Component, m: &MicroServiceSpec) {
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
}
