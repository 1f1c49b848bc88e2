//! Day-2 reads from AWS itself (issue 13): a component's logs and the live
//! health of its resources. Read-only; found by the physical names the
//! component's program gives them.

pub mod health;
pub mod logs;
