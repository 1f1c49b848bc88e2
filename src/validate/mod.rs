//! Validation (SPEC §5): the semantic rules that run on a loaded stack.
//! Syntax and type problems are found while loading; this module adds
//! references and per-kind rules (each kind's in [`crate::kinds`]). Both
//! report [`Diagnostic`]s, which live below them in [`crate::diagnostic`].

pub mod rules;

pub use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
