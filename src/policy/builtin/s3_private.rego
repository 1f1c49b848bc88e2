# Built-in policy `s3-private` (switch off with `policy.disable`).
# An S3 bucket keeps its public access block on, in every environment.
package panka.builtin.s3_private

import rego.v1

deny contains v if {
	some id, c in input.components
	c.kind == "S3"
	c.spec.blockPublicAccess == false
	v := {
		"msg": sprintf("S3 bucket `%s` turns its public access block off; buckets are never public", [id]),
		"component": id,
		"path": "spec.blockPublicAccess",
	}
}
