//! panka: deploy application stacks to AWS through Pulumi.
//!
//! The pipeline, one module per stage:
//! load → validate → graph → plan → lock → emit (pulumi) → run (deploy) → record (state).

pub mod admin;
pub mod aws;
pub mod backend;
pub mod exit;
pub mod lock;
pub mod scope;
pub mod state;
