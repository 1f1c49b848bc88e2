# Built-in policy `rds-protected` (switch off with `policy.disable`).
# An RDS database is encrypted at rest and has automated backups.
package panka.builtin.rds_protected

import rego.v1

deny contains v if {
	some id, c in input.components
	c.kind == "RDS"
	c.spec.encryption.atRest == false
	v := {
		"msg": sprintf("RDS database `%s` is not encrypted at rest", [id]),
		"component": id,
		"path": "spec.encryption.atRest",
	}
}

deny contains v if {
	some id, c in input.components
	c.kind == "RDS"
	c.spec.backup.automated.retentionDays < 1
	v := {
		"msg": sprintf("RDS database `%s` has no automated backups (retentionDays %d)", [id, c.spec.backup.automated.retentionDays]),
		"component": id,
		"path": "spec.backup.automated.retentionDays",
	}
}
