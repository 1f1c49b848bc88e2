//! panka's own deployment state (SPEC §8): the document types, the stores
//! that keep them (S3 and a local directory, one key layout), and the write
//! protocol. Stores never decide what to deploy; they only read and write
//! state documents safely.

pub mod error;
pub mod local;
pub mod ops;
pub mod records;
pub mod s3;
pub mod session;
pub mod store;
pub mod types;

pub use error::StateError;
pub use session::{read_state, OnConflict, SessionOptions, StateSession};
pub use store::{StateStore, Version};
pub use types::*;
