//! One file per component kind: `microservice.rs`, `worker.rs`,
//! `cronjob.rs`, `lambda.rs`, `rds.rs`, `dynamodb.rs`, `s3.rs`, `sqs.rs`,
//! `sns.rs` and `elasticache.rs`. Each holds its kind's emitter (an
//! `impl Emitter` method filling `pulumi-templates/<kind>.yaml`) and its
//! validation rules (an `impl Checker` method), with the helpers and unit
//! tests only that kind uses; the kind's docs are `docs/kinds/<kind>.md`.
//! `ecs.rs` holds what the container kinds (MicroService, Worker, CronJob)
//! share.
//!
//! What every kind uses stays where it was: the emitter's plumbing (the
//! program, provider, tags, names, references, IAM grants) in
//! [`crate::pulumi::emit`], with the alarms in its `alarms` submodule; the
//! rules that are not one kind's (names, references, environment, services,
//! the stack's spec, infra, listener priorities) in
//! [`crate::validate::rules`], which also dispatches to the kinds.

pub(crate) mod cronjob;
pub(crate) mod dynamodb;
mod ecs;
pub(crate) mod elasticache;
pub(crate) mod lambda;
pub(crate) mod microservice;
pub(crate) mod rds;
pub(crate) mod s3;
pub(crate) mod sns;
pub(crate) mod sqs;
pub(crate) mod worker;
