//! `kind: ComponentInfra` — how a container component runs: size, scaling,
//! load balancer routing. Every field is optional here; the loader layers a
//! component's infra over the stack's `defaults.infra` over [`InfraSpec::builtin`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InfraSpec {
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub scaling: Scaling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<u32>,
    /// CPU architecture of the task: `x86_64` (default) or `arm64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Use Fargate Spot capacity (cheaper, may be interrupted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    /// Fargate CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// MiB; must be a combination Fargate supports for the CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Autoscaling {
    pub min: u32,
    pub max: u32,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "targetCPUPercent")]
    pub target_cpu_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "targetMemoryPercent")]
    pub target_memory_percent: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerRule {
    #[serde(default)]
    pub path_patterns: Vec<String>,
    #[serde(default)]
    pub host_headers: Vec<String>,
    /// Listener rule priority (1–50000), unique on the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    Arm64,
}

/// The effective infra of a container component after layering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveInfra {
    pub cpu: u32,
    pub memory: u32,
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerRule>,
    pub health_check_grace_period_seconds: u32,
    pub architecture: Architecture,
    pub spot: bool,
}

impl InfraSpec {
    /// Overlay `self` on `base`: fields set here win.
    pub fn layered_on(&self, base: &InfraSpec) -> InfraSpec {
        InfraSpec {
            resources: Resources {
                cpu: self.resources.cpu.or(base.resources.cpu),
                // A component that picks its CPU gets the memory that goes with
                // it, not the stack default's (which may not fit the new CPU).
                memory: self.resources.memory.or(if self.resources.cpu.is_some() {
                    None
                } else {
                    base.resources.memory
                }),
            },
            scaling: Scaling {
                replicas: self.scaling.replicas.or(base.scaling.replicas),
                autoscaling: self.scaling.autoscaling.clone().or_else(|| base.scaling.autoscaling.clone()),
            },
            load_balancer: self.load_balancer.clone().or_else(|| base.load_balancer.clone()),
            health_check_grace_period_seconds: self
                .health_check_grace_period_seconds
                .or(base.health_check_grace_period_seconds),
            architecture: self.architecture.or(base.architecture),
            spot: self.spot.or(base.spot),
        }
    }

    /// Fill what is still unset with panka's defaults.
    pub fn effective(&self) -> EffectiveInfra {
        let cpu = self.resources.cpu.unwrap_or(256);
        EffectiveInfra {
            cpu,
            memory: self.resources.memory.unwrap_or(match cpu {
                256 => 512,
                c => c * 2,
            }),
            replicas: self.scaling.replicas.or(self.scaling.autoscaling.as_ref().map(|a| a.min)).unwrap_or(2),
            autoscaling: self.scaling.autoscaling.clone(),
            load_balancer: self.load_balancer.clone(),
            health_check_grace_period_seconds: self.health_check_grace_period_seconds.unwrap_or(60),
            architecture: self.architecture.unwrap_or(Architecture::X86_64),
            spot: self.spot.unwrap_or(false),
        }
    }
}

/// Fargate's supported CPU/memory combinations: memory (MiB) per CPU unit.
pub fn fargate_memory_options(cpu: u32) -> Option<Vec<u32>> {
    let range = |lo: u32, hi: u32, step: u32| (lo..=hi).step_by(step as usize).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

pub const FARGATE_CPUS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];
