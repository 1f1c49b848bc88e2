//! The YAML kinds as typed serde models (SPEC §3).
//!
//! Everything here is plain data: defaults are production-sensible and live
//! in `Default` impls, unknown fields are rejected (`deny_unknown_fields`),
//! and nothing in this module reads files or knows about spans — the loader
//! keeps those beside each document.

pub mod common;
pub mod components;
pub mod environment;
pub mod infra;
pub mod kind;
pub mod names;
pub mod service;
pub mod stack;

pub use common::*;
pub use components::*;
pub use environment::*;
pub use infra::*;
pub use kind::*;
pub use service::*;
pub use stack::*;
