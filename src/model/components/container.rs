//! What the three container kinds (MicroService, Worker, CronJob) share.
//!
//! Each kind is its own struct so that unknown-field checks stay exact (a
//! `schedule` on a MicroService is an error); [`container_spec!`] writes the
//! shared fields once and [`Container`] gives a borrowed view of them.

use serde::{Deserialize, Serialize};

use crate::model::common::{Access, EnvVar, SecretRef};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Image {
    pub repository: String,
    #[serde(default = "default_tag")]
    pub tag: String,
    /// `sha256:…`; when set, the image is pinned by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

fn default_tag() -> String {
    "latest".to_string()
}

impl Image {
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}@{}", self.repository, d),
            None => format!("{}:{}", self.repository, self.tag),
        }
    }
}

/// A borrowed view of the fields every container kind has.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    pub image: &'a Image,
    pub command: &'a [String],
    pub args: &'a [String],
    pub environment: &'a [EnvVar],
    pub secrets: &'a [SecretRef],
    pub access: &'a [Access],
    pub depends_on: &'a [String],
}

/// Declares a container kind's spec: the shared fields plus its own.
macro_rules! container_spec {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            pub image: $crate::model::components::Image,
            /// Overrides the image's entrypoint.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub command: Vec<String>,
            /// Overrides the image's CMD.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub args: Vec<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub environment: Vec<$crate::model::common::EnvVar>,
            /// Injected by ECS from Secrets Manager; panka never sees the values.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub secrets: Vec<$crate::model::common::SecretRef>,
            /// Explicit IAM access to data components.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub access: Vec<$crate::model::common::Access>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub depends_on: Vec<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            pub fn container(&self) -> $crate::model::components::Container<'_> {
                $crate::model::components::Container {
                    image: &self.image,
                    command: &self.command,
                    args: &self.args,
                    environment: &self.environment,
                    secrets: &self.secrets,
                    access: &self.access,
                    depends_on: &self.depends_on,
                }
            }
        }
    };
}
pub(crate) use container_spec;

/// A container health check: HTTP (for the load balancer) or a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// Run inside the container (`["CMD-SHELL", "curl -f localhost/health"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    #[serde(default = "default_success")]
    pub success_threshold: u32,
    #[serde(default = "default_failure")]
    pub failure_threshold: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
}

fn default_period() -> u32 {
    10
}
fn default_timeout() -> u32 {
    5
}
fn default_success() -> u32 {
    2
}
fn default_failure() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpProbe {
    pub path: String,
    pub port: u32,
    /// HTTP codes that count as healthy (ALB matcher syntax).
    #[serde(default = "default_matcher")]
    pub success_codes: String,
}

fn default_matcher() -> String {
    "200-399".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheck {
    /// Traffic is routed only when this passes (the target group health check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// The container is replaced when this fails (the ECS container health check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Port {
    pub name: String,
    pub port: u32,
    #[serde(default = "default_protocol")]
    pub protocol: PortProtocol,
}

fn default_protocol() -> PortProtocol {
    PortProtocol::Http
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    Http,
    Tcp,
    Grpc,
}
