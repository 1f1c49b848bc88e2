//! panka: deploy application stacks to AWS through Pulumi.
//!
//! The pipeline, one module per stage:
//! load → validate → graph → plan → lock → emit (pulumi) → run (deploy) → record (state).

pub mod admin;
pub mod aws;
pub mod backend;
pub mod cli;
pub mod config;
pub mod cost;
pub mod deploy;
pub mod diagnostic;
pub mod exit;
pub mod graph;
pub mod kinds;
pub mod live;
pub mod load;
pub mod lock;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod pulumi;
pub mod scope;
pub mod state;
pub mod tenant;
pub mod ui;
pub mod validate;
