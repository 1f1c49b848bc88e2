//! Worker: template `pulumi-templates/worker.yaml`, docs
//! `docs/kinds/worker.md`. The container and the ECS service's common parts
//! are in [`ecs`](super::ecs).

use crate::load::yaml::path;
use crate::load::Component;
use crate::model::WorkerSpec;
use crate::pulumi::emit::{EmitError, Emitter};
use crate::pulumi::template::{files, render_file, Params};
use crate::validate::rules::Checker;

impl Emitter<'_> {
    pub(crate) fn worker(&mut self, s: &WorkerSpec) -> Result<(), EmitError> {
        let infra = self.infra()?;
        self.container(s.container(), &infra)?;
        let mut p = Params::new();
        self.ecs_service_params(&mut p, &infra)?;
        let v = render_file(files::WORKER, &p)?;
        self.program.merge_rendered(&v).map_err(|e| self.prog_err(e))?;
        self.autoscaling(&infra)
    }
}

impl Checker<'_> {
    pub(crate) fn worker(&mut self, c: &Component, w: &WorkerSpec) {
        if w.health_check.readiness.is_some() {
            let span = c.span(&path("spec.healthCheck.readiness"));
            self.err("invalid-value", span, "a Worker has no load balancer, so no readiness probe").hint =
                Some("use `healthCheck.liveness` to have ECS replace unhealthy tasks".into());
        }
        self.probes(c, &w.health_check, &[])
    }
}
