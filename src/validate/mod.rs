//! Validation (SPEC §5): diagnostics and the semantic rules that run on a
//! loaded stack. Syntax and type problems are found while loading; this
//! module adds names, references and per-kind rules.

pub mod diagnostic;
pub mod names;
pub mod render;
pub mod rules;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
