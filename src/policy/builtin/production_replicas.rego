# Built-in policy `production-replicas` (switch off with `policy.disable`).
# A MicroService in production runs at least two tasks, so that one task
# failing or being replaced never takes the service down. Scoped by kind:
# Workers and CronJobs are not concerned (a nightly job runs one task).
package panka.builtin.production_replicas

import rego.v1

production_environments := {"production", "prod"}

deny contains v if {
	production_environments[input.environment]
	some id, c in input.components
	c.kind == "MicroService"
	c.infra.replicas < 2
	v := {
		"msg": sprintf("MicroService `%s` runs %d replica(s) in %s; production needs at least 2", [id, c.infra.replicas, input.environment]),
		"component": id,
		"path": "infra.replicas",
	}
}

deny contains v if {
	production_environments[input.environment]
	some id, c in input.components
	c.kind == "MicroService"
	c.infra.autoscaling.min < 2
	v := {
		"msg": sprintf("MicroService `%s` may scale in to %d task(s) in %s; production needs at least 2", [id, c.infra.autoscaling.min, input.environment]),
		"component": id,
		"path": "infra.autoscaling.min",
	}
}
