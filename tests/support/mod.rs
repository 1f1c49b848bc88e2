//! Shared test support: a real moto server (see `moto.rs`) and SDK
//! interceptors that inject faults into real requests (see `faults.rs`).
#![allow(dead_code)]

pub mod faults;
pub mod moto;
