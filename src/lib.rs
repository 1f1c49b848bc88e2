//! panka: deploy application stacks to AWS through Pulumi.
//!
//! The pipeline, one module per stage:
//! load → validate → graph → plan → lock → emit (pulumi) → run (deploy) → record (state).

pub mod cli;
pub mod config;
pub mod exit;
pub mod graph;
pub mod load;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod pulumi;
pub mod state;
pub mod ui;
pub mod validate;
