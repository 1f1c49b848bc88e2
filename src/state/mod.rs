//! panka's own deployment state (SPEC §8): the document types and the stores
//! that keep them. Stores never decide what to deploy; they only read and
//! write state documents safely.

pub mod types;

pub use types::*;
