//! `kind: Worker` — a long-running container with no load balancer.

use super::container::{container_spec, HealthCheck};

container_spec! {
    WorkerSpec {
        #[serde(default)]
        pub health_check: HealthCheck,
    }
}
