//! `kind: MicroService` — a long-running container behind the shared ALB.

use super::container::{container_spec, HealthCheck, Port};

container_spec! {
    MicroServiceSpec {
        /// The first port receives the load balancer's traffic.
        pub ports: Vec<Port>,
        #[serde(default)]
        pub health_check: HealthCheck,
    }
}
