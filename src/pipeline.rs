//! The read side of every command: load → validate → graph. Commands that
//! need a stack call [`prepare`] and get either a stack and its graph, or
//! every problem found on the way.

use crate::graph::Graph;
use crate::load::{self, LoadFailure, LoadOptions, LoadedStack};
use crate::model::names::{check_name, NAME_MAX};
use crate::validate::{rules, Diagnostic, Diagnostics};

pub struct Prepared {
    pub stack: LoadedStack,
    pub graph: Graph,
    /// Warnings found on the way (errors make [`prepare`] fail).
    pub warnings: Vec<Diagnostic>,
}

pub fn prepare(opts: &LoadOptions) -> Result<Prepared, LoadFailure> {
    if let Some(problem) = check_name(&opts.environment, NAME_MAX) {
        let mut d = Diagnostics::default();
        d.push(
            Diagnostic::error(
                "invalid-name",
                None,
                format!("environment name `{}` {problem}", opts.environment.escape_debug()),
            )
            .with_hint("environments are lowercase DNS labels such as `dev`, `staging`, `production`"),
        );
        return Err(LoadFailure { sources: Default::default(), diagnostics: d });
    }
    let mut stack = load::load(opts)?;
    let mut diags = Diagnostics(std::mem::take(&mut stack.warnings));
    diags.extend(rules::check(&stack));
    let graph = if diags.has_errors() {
        // Report cycles too, unless references are broken (they would be noise).
        Graph::build(&stack).ok()
    } else {
        match Graph::build(&stack) {
            Ok(g) => Some(g),
            Err(cycles) => {
                diags.extend(cycles);
                None
            }
        }
    };
    diags.sort();
    match graph {
        Some(graph) if !diags.has_errors() => Ok(Prepared { stack, graph, warnings: diags.0 }),
        _ => Err(LoadFailure { sources: std::mem::take(&mut stack.sources), diagnostics: diags }),
    }
}

/// Let go of a large value a command no longer needs without freeing it
/// piece by piece: the process exits right after, and for a 10,000-component
/// stack freeing every node would cost more than planning it.
pub fn discard<T>(value: T) {
    std::mem::forget(value);
}
