//! The Pulumi program of a tenant (SPEC §12): its role, the role's policy,
//! the permissions boundary of the roles its stacks create, and the
//! attachment, as a program of its own project (`panka-tenant-<name>`),
//! applied through the same [`Runner`](crate::pulumi::runner::Runner) and
//! the same up/destroy path as components, with its Pulumi state under the
//! platform team's `<prefix>/admin/pulumi/`.
//!
//! The documents are [`policy::render`]'s, passed as literal strings (so the
//! IAM policy variable `${aws:PrincipalAccount}` reaches AWS as written).

use serde_yaml::{Mapping, Value};

use super::policy::{self, Documents, PolicyInput, IAM_PATH};
use crate::pulumi::emit::add_provider_with;
use crate::pulumi::program::{key, lit, reference, Program, ProgramError, Resource};

/// The Pulumi stack every tenant project has.
pub const STACK: &str = "tenant";

/// The Pulumi project of a tenant's IAM program.
pub fn project(tenant: &str) -> String {
    format!("panka-tenant-{tenant}")
}

/// The program that makes `input`'s documents real in `region`
/// (`endpoint`: an emulator).
pub fn emit(
    input: &PolicyInput,
    documents: &Documents,
    region: &str,
    endpoint: Option<&str>,
) -> Result<Program, ProgramError> {
    let mut program = Program::new(&project(&input.tenant), STACK);
    program.description =
        Some(crate::pulumi::interp::escape(&format!("panka: the IAM role of tenant `{}`", input.tenant)));
    let mut tags = Mapping::new();
    for (k, v) in [("panka:tenant", input.tenant.as_str()), ("managed-by", "panka")] {
        tags.insert(key(k)?, lit(v));
    }
    add_provider_with(&mut program, lit(region), None, endpoint, Value::Mapping(tags))?;
    let text = |v: &serde_json::Value| lit(&serde_json::to_string_pretty(v).expect("a JSON value serializes"));
    program.add(
        "boundary",
        Resource::new("aws:iam:Policy")
            .prop("name", lit(&input.boundary_name()))
            .prop("path", lit(IAM_PATH))
            .prop("description", lit(&format!("permissions boundary of the roles tenant {} creates", input.tenant)))
            .prop("policy", text(&documents.boundary))
            .provider("aws"),
    );
    program.add(
        "policy",
        Resource::new("aws:iam:Policy")
            .prop("name", lit(&input.policy_name()))
            .prop("path", lit(IAM_PATH))
            .prop("description", lit(&format!("what tenant {} may do", input.tenant)))
            .prop("policy", text(&documents.policy))
            .provider("aws"),
    );
    program.add(
        "deploy",
        Resource::new("aws:iam:Policy")
            .prop("name", lit(&input.deploy_policy_name()))
            .prop("path", lit(IAM_PATH))
            .prop("description", lit(&format!("what the deployments of tenant {} may create", input.tenant)))
            .prop("policy", text(&documents.deploy))
            .provider("aws"),
    );
    program.add(
        "role",
        Resource::new("aws:iam:Role")
            .prop("name", lit(&input.role_name()))
            .prop("path", lit(IAM_PATH))
            .prop("description", lit(&format!("assumed by tenant {}", input.tenant)))
            .prop("assumeRolePolicy", text(&documents.trust))
            .prop("maxSessionDuration", Value::Number(3600.into()))
            .provider("aws"),
    );
    program.add(
        "attachment",
        Resource::new("aws:iam:RolePolicyAttachment")
            .prop("role", reference("role", "name"))
            .prop("policyArn", reference("policy", "arn"))
            .provider("aws"),
    );
    program.add(
        "deployAttachment",
        Resource::new("aws:iam:RolePolicyAttachment")
            .prop("role", reference("role", "name"))
            .prop("policyArn", reference("deploy", "arn"))
            .provider("aws"),
    );
    program.output("roleArn", reference("role", "arn"));
    program.output("policyArn", reference("policy", "arn"));
    program.output("boundaryArn", reference("boundary", "arn"));
    Ok(program)
}

/// The documents and the program of a tenant, from one rendering.
pub fn render(
    input: &PolicyInput,
    trust: &[policy::Trust],
    external_id: &str,
    region: &str,
    endpoint: Option<&str>,
) -> Result<(Documents, Program), ProgramError> {
    let documents = policy::render(input, trust, external_id);
    let program = emit(input, &documents, region, endpoint)?;
    Ok((documents, program))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulumi::check::check_program;
    use crate::pulumi::schema::tests::real_schema;

    fn input() -> PolicyInput {
        PolicyInput {
            tenant: "shop".into(),
            bucket: "state".into(),
            prefix: String::new(),
            table: "panka-locks".into(),
            stacks: "*".into(),
        }
    }

    #[test]
    fn the_program_is_valid_for_pulumi_aws_v7() {
        let trust = [policy::Trust::parse("arn:aws:iam::123456789012:root").unwrap()];
        for endpoint in [None, Some("http://127.0.0.1:5000")] {
            let (_, program) = render(&input(), &trust, "ext", "eu-west-1", endpoint).unwrap();
            let problems = check_program(real_schema(), &program.to_value());
            assert!(problems.is_empty(), "{problems:?}\n{}", program.to_yaml());
            assert_eq!(program.name, "panka-tenant-shop");
        }
    }

    #[test]
    fn documents_reach_aws_verbatim() {
        let trust = [policy::Trust::parse("arn:aws:iam::123456789012:root").unwrap()];
        let (documents, program) = render(&input(), &trust, "ext-42", "eu-west-1", None).unwrap();
        let yaml = program.to_yaml();
        // The policy variable is escaped for Pulumi, so AWS receives `${aws:PrincipalAccount}`.
        assert!(yaml.contains("$${aws:PrincipalAccount}"), "{yaml}");
        let role = &program.resources["role"];
        let text = role.properties.get("assumeRolePolicy").and_then(Value::as_str).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text.replace("$${", "${")).unwrap();
        assert_eq!(back, documents.trust);
        assert!(text.contains("ext-42"));
    }
}
