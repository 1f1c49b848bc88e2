//! Reads from AWS itself: a component's logs and the live health of its
//! resources (issue 13), and the shared listener's rule priorities before a
//! deploy (issue 12). Read-only; found by the physical names the
//! component's program gives them.

pub mod health;
pub mod listener;
pub mod logs;
