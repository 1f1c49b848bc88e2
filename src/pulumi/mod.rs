//! Pulumi: the programs panka emits and the checks they pass.
//!
//! - [`interp`]: Pulumi YAML interpolation syntax; escaping user strings.
//! - [`schema`]: the pulumi-aws v7 schema extracted from the npm package.
//! - [`check`]: checks a program against that schema.
//! - [`program`]: the typed program builder, escaping and stack references.
//! - [`names`]: physical AWS names that fit each resource type's rules.
//! - [`template`]: the data templates of `pulumi-templates/` and their holes.
//! - [`emit`]: one program per component, from the templates (each kind's
//!   part in [`crate::kinds`]).
//! - [`iam`]: action lists, KMS grants, resource-policy statements and the
//!   `dependsOn` from role users to role policies.
//! - [`render`]: all programs of a stack, written as `wave-NN/<project>/`.
//! - [`runner`]: the async child-process runner for every `pulumi` call.
//!
//! This module never touches panka's state or locks; it turns a resolved
//! component into a program and nothing else.

pub mod check;
pub mod emit;
pub mod iam;
pub mod interp;
pub mod names;
pub mod program;
pub mod render;
pub mod runner;
pub mod schema;
pub mod template;
pub mod yaml_text;

#[cfg(test)]
mod emit_iam_tests;
#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod tests;
