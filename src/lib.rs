//! panka: deploy application stacks to AWS through Pulumi.
//!
//! The pipeline, one module per stage:
//! load → validate → graph → plan → lock → emit (pulumi) → run (deploy) → record (state).

pub mod exit;
pub mod load;
pub mod model;
pub mod pulumi;
pub mod state;
pub mod validate;
