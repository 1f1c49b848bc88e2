//! The plan (SPEC §7): the fully resolved desired configuration of every
//! component compared with the state, as create / update / replace /
//! delete / no-op with field-level differences.
//!
//! Planning is pure: it reads a loaded stack, its graph and a state
//! document, and touches nothing else.

pub mod diff;
pub mod preview;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::graph::{estimated_seconds, Graph};
use crate::load::{Component, LoadedStack};
use crate::model::{ComponentId, Kind};
use crate::state::{ComponentStatus, State};
pub use diff::FieldDiff;

pub const PLAN_FORMAT: &str = "panka-plan-v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }

    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `service/component`.
    pub component: String,
    pub kind: Kind,
    pub action: Action,
    /// 1-based wave; 0 for deletions (they run in reverse order).
    pub wave: usize,
    /// Why, in words (`spec.image.tag changed`, `upstream backend/db is replaced`).
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub diffs: Vec<FieldDiff>,
    /// Diffs that force replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_fields: Vec<String>,
    pub config_hash: String,
    /// The resolved desired configuration (absent for deletions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    pub estimated_seconds: u64,
    /// Pulumi's resource-level changes (`plan --preview`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<preview::Preview>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    pub fn changes(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub stack: String,
    pub environment: String,
    pub tenant: String,
    pub created_at: DateTime<Utc>,
    /// The state this plan was made against; `apply plan.json` refuses if it moved.
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    pub summary: Summary,
    /// Components to create/update/replace, by wave.
    pub waves: Vec<Vec<String>>,
    pub changes: Vec<Change>,
    pub critical_path: Vec<String>,
    /// Critical-path estimate of the changes.
    pub estimated_seconds: u64,
    /// Stack outputs by name, as templates (output references shown as `${…}`).
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The monthly cost estimate (issue 15); absent in plans saved before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::CostEstimate>,
    /// What the policies found (issue 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::PolicyReport>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.summary.changes() > 0
    }

    pub fn change(&self, id: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.component == id)
    }
}

/// The fully resolved desired configuration of a component: its spec and
/// infra, and the parts of the stack it is built from.
pub fn desired_config(stack: &LoadedStack, c: &Component) -> Value {
    let st = &stack.stack.spec;
    let mut labels = stack.stack.metadata.labels.clone();
    labels.extend(c.metadata.labels.clone());
    let mut context = json!({
        "region": stack.provider.region,
        "accountId": stack.provider.account_id,
        "labels": labels,
    });
    if c.kind.is_container() || matches!(c.kind, Kind::Rds | Kind::ElastiCache | Kind::Lambda) {
        context["network"] = json!(st.shared.network);
    }
    if c.kind.is_container() {
        context["cluster"] = json!(st.shared.cluster);
    }
    if c.kind == Kind::MicroService {
        context["loadBalancer"] = json!(st.shared.load_balancer);
    }
    if c.kind.is_stateful() {
        context["protected"] = json!(stack.protected());
    }
    // The alarms a component gets and where they notify; only when the
    // environment configures them, so configurations from before alarms
    // existed keep their hash.
    let alarmed = matches!(c.kind, Kind::MicroService | Kind::Worker | Kind::Sqs | Kind::Rds);
    if let (true, Some(alarms)) = (alarmed, stack.environment_doc.as_ref().and_then(|e| e.spec.alarms.as_ref())) {
        context["alarms"] = json!(alarms);
    }
    let mut config = json!({ "kind": c.kind, "spec": c.spec });
    if let Some(infra) = &c.infra {
        config["infra"] = json!(infra);
    }
    config["context"] = context;
    config
}

/// The state key of the stack's shared program (SPEC §3). Component keys
/// are `service/component` with DNS-label names, so it never collides.
pub const SHARED_KEY: &str = "_stack/shared";

/// Whether the stack has a shared program (`spec.shared.cluster.create`,
/// or the environment's `spec.alarms.createTopic`).
pub fn has_shared(stack: &LoadedStack) -> bool {
    creates_cluster(stack) || creates_alarm_topic(stack)
}

/// Whether the shared program creates the ECS cluster.
pub fn creates_cluster(stack: &LoadedStack) -> bool {
    stack.stack.spec.shared.cluster.as_ref().is_some_and(|c| c.create)
}

/// Whether the shared program creates the environment's alarm topic.
pub fn creates_alarm_topic(stack: &LoadedStack) -> bool {
    let alarms = stack.alarms();
    alarms.enabled && alarms.create_topic
}

/// Whether a component of `kind` reads the shared program: container
/// components (the cluster), and the components whose alarms notify the
/// created alarm topic. Recorded in the state, so destroy removes the
/// shared program after them.
pub fn uses_shared(stack: &LoadedStack, kind: Kind) -> bool {
    (kind.is_container() && has_shared(stack))
        || (creates_alarm_topic(stack) && matches!(kind, Kind::MicroService | Kind::Worker | Kind::Sqs | Kind::Rds))
}

/// The desired configuration of the stack's shared program, if it has one.
pub fn shared_config(stack: &LoadedStack) -> Option<Value> {
    has_shared(stack).then(|| {
        let mut config = json!({
            "kind": Kind::Stack,
            "shared": {"cluster": stack.stack.spec.shared.cluster},
            "context": {
                "region": stack.provider.region,
                "accountId": stack.provider.account_id,
                "labels": stack.stack.metadata.labels,
            },
        });
        // Only when on: a stack without a topic keeps the configuration
        // (and hash) it had before the topic existed.
        if creates_alarm_topic(stack) {
            config["shared"]["alarmTopic"] = json!(true);
        }
        config
    })
}

/// The shared program's change: applied before every component (wave 0,
/// first), deleted after all of them once the stack no longer has one.
fn shared_change(stack: &LoadedStack, state: Option<&State>) -> Option<Change> {
    let recorded = state.and_then(|s| s.components.get(SHARED_KEY)).filter(|r| r.status != ComponentStatus::Deleted);
    let change = |action, reasons: Vec<String>, diffs, config_hash, config| Change {
        component: SHARED_KEY.to_string(),
        kind: Kind::Stack,
        action,
        wave: 0,
        reasons,
        diffs,
        replace_fields: Vec::new(),
        config_hash,
        config,
        dependencies: Vec::new(),
        estimated_seconds: 60,
        preview: None,
    };
    match (shared_config(stack), recorded) {
        (None, None) => None,
        (None, Some(r)) => Some(change(
            Action::Delete,
            vec!["the stack no longer has shared resources".into()],
            Vec::new(),
            r.config_hash.clone(),
            None,
        )),
        (Some(config), None) => {
            let hash = hash_config(&config);
            Some(change(Action::Create, vec!["not deployed yet".into()], Vec::new(), hash, Some(config)))
        }
        (Some(config), Some(r)) => {
            let hash = hash_config(&config);
            let diffs = diff::diff(&r.config, &config);
            let (action, reasons) = if r.status != ComponentStatus::Deployed {
                (Action::Update, vec!["the last apply of the shared program did not finish".to_string()])
            } else if r.config_hash != hash || !diffs.is_empty() {
                (Action::Update, vec![format!("{} field(s) changed", diffs.len().max(1))])
            } else {
                (Action::NoOp, Vec::new())
            };
            Some(change(action, reasons, diffs, hash, Some(config)))
        }
    }
}

pub fn hash_config(config: &Value) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(config).expect("json values serialize"));
    format!("sha256:{:x}", h.finalize())
}

/// Fields whose change makes AWS replace the resource.
pub fn replace_fields(kind: Kind) -> &'static [&'static str] {
    const CONTEXT: [&str; 2] = ["context.region", "context.accountId"];
    match kind {
        Kind::Rds => &[
            "context.region",
            "context.accountId",
            "spec.engine.type",
            "spec.database.name",
            "spec.database.username",
            "spec.encryption.atRest",
            "spec.encryption.kmsKeyId",
        ],
        Kind::DynamoDB => &["context.region", "context.accountId", "spec.partitionKey", "spec.sortKey"],
        Kind::Sqs | Kind::Sns => &["context.region", "context.accountId", "spec.fifo"],
        Kind::ElastiCache => &["context.region", "context.accountId", "spec.encryption.atRest", "spec.engine"],
        _ => &CONTEXT,
    }
}

fn forces_replace(kind: Kind, d: &FieldDiff) -> bool {
    let path = d.path.as_str();
    // A Lambda moving between a zip in S3 and an image changes its package
    // type, which AWS cannot update in place; a new zip or image can be.
    if kind == Kind::Lambda && (path == "spec.code.s3" || path == "spec.code.image") {
        return d.before.is_none() || d.after.is_none();
    }
    replace_fields(kind)
        .iter()
        .any(|f| path == *f || path.starts_with(&format!("{f}.")) || path.starts_with(&format!("{f}[")))
}

/// Hash of the upstream outputs a component consumes, from the state.
pub fn inputs_hash(state: &State, deps: &[ComponentId]) -> Option<String> {
    let mut upstream = BTreeMap::new();
    for d in deps {
        let key = d.to_string();
        upstream.insert(key.clone(), state.components.get(&key).map(|c| json!(c.outputs)));
    }
    if upstream.is_empty() {
        return None;
    }
    Some(hash_config(&json!(upstream)))
}

/// Compute the plan of a stack against its state (`None`: nothing deployed).
pub fn plan(stack: &LoadedStack, graph: &Graph, state: Option<&State>, tenant: &str) -> Plan {
    let mut changes: Vec<Change> = Vec::new();
    let mut actions: BTreeMap<ComponentId, Action> = BTreeMap::new();
    // Topological order so that upstream actions are known before dependents.
    let mut order: Vec<&ComponentId> = stack.components.keys().collect();
    order.sort_by_cached_key(|id| (graph.waves[*id], *id));
    for id in order {
        let c = &stack.components[id];
        let config = desired_config(stack, c);
        let hash = hash_config(&config);
        let deps = graph.dependencies(id);
        let recorded =
            state.and_then(|s| s.components.get(&id.to_string())).filter(|r| r.status != ComponentStatus::Deleted);
        let mut reasons = Vec::new();
        let mut diffs = Vec::new();
        let mut replace = Vec::new();
        let action = match recorded {
            None => {
                reasons.push("not deployed yet".to_string());
                Action::Create
            }
            Some(r) => {
                diffs = diff::diff(&r.config, &config);
                replace =
                    diffs.iter().filter(|d| forces_replace(c.kind, d)).map(|d| d.path.clone()).collect::<Vec<_>>();
                let mut action = if !replace.is_empty() {
                    reasons.push(format!("{} forces replacement", replace.join(", ")));
                    Action::Replace
                } else if r.config_hash != hash || !diffs.is_empty() {
                    reasons.push(format!("{} field(s) changed", diffs.len().max(1)));
                    Action::Update
                } else {
                    Action::NoOp
                };
                match r.status {
                    ComponentStatus::Failed => {
                        reasons.push("the last apply of this component failed".into());
                        action = action.max(Action::Update).min(Action::Replace);
                    }
                    ComponentStatus::InProgress => {
                        reasons.push("the last apply of this component did not finish".into());
                        action = action.max(Action::Update).min(Action::Replace);
                    }
                    _ => {}
                }
                if action == Action::NoOp || action == Action::Update {
                    // Upstream outputs: replaced or created upstreams bring new
                    // outputs; recorded outputs that moved since this one was
                    // deployed also count.
                    for d in &deps {
                        if let Some(upstream @ (Action::Create | Action::Replace)) = actions.get(d) {
                            let what = if *upstream == Action::Create { "created" } else { "replaced" };
                            reasons.push(format!("upstream `{d}` is {what}; its outputs are known after apply"));
                            action = Action::Update;
                        }
                    }
                    if action == Action::NoOp {
                        if let (Some(s), Some(recorded_inputs)) = (state, &r.inputs_hash) {
                            if inputs_hash(s, &deps).as_ref() != Some(recorded_inputs) {
                                reasons.push("upstream outputs changed since the last apply".into());
                                action = Action::Update;
                            }
                        }
                    }
                }
                action
            }
        };
        actions.insert(id.clone(), action);
        changes.push(Change {
            component: id.to_string(),
            kind: c.kind,
            action,
            wave: graph.waves[id],
            reasons,
            diffs,
            replace_fields: replace,
            config_hash: hash,
            config: Some(config),
            dependencies: deps.iter().map(ToString::to_string).collect(),
            estimated_seconds: estimated_seconds(c.kind),
            preview: None,
        });
    }
    changes.extend(shared_change(stack, state));
    // Deletions: in the state, not in the stack.
    if let Some(s) = state {
        for (key, r) in &s.components {
            if r.status == ComponentStatus::Deleted || key == SHARED_KEY {
                continue;
            }
            let exists = ComponentId::parse(key).is_some_and(|id| stack.components.contains_key(&id));
            if !exists {
                changes.push(Change {
                    component: key.clone(),
                    kind: r.kind.parse().unwrap_or(Kind::S3),
                    action: Action::Delete,
                    wave: 0,
                    reasons: vec!["no longer in the stack".into()],
                    diffs: Vec::new(),
                    replace_fields: Vec::new(),
                    config_hash: r.config_hash.clone(),
                    config: None,
                    dependencies: r.dependencies.clone(),
                    estimated_seconds: r.kind.parse().map(estimated_seconds).unwrap_or(30),
                    preview: None,
                });
            }
        }
    }
    // The shared program first, then waves, then deletions.
    let order = |c: &Change| match (c.component == SHARED_KEY, c.action) {
        (true, Action::Delete) => 3,
        (true, _) => 0,
        (false, _) if c.wave == 0 => 2,
        _ => 1,
    };
    changes.sort_by(|a, b| (order(a), a.wave, &a.component).cmp(&(order(b), b.wave, &b.component)));

    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => summary.no_op += 1,
        }
    }
    let changing: BTreeSet<ComponentId> =
        actions.iter().filter(|(_, a)| a.is_change()).map(|(id, _)| id.clone()).collect();
    let mut waves: Vec<Vec<String>> = Vec::new();
    if changes.iter().any(|c| c.component == SHARED_KEY && c.action.is_change() && c.action != Action::Delete) {
        waves.push(vec![SHARED_KEY.to_string()]);
    }
    for wave in graph.wave_list() {
        let w: Vec<String> = wave.iter().filter(|id| changing.contains(*id)).map(ToString::to_string).collect();
        if !w.is_empty() {
            waves.push(w);
        }
    }
    let include = |id: &ComponentId| changing.contains(id);
    let (cp, mut secs) =
        graph.critical_path(|id| stack.components.get(id).map_or(0, |c| estimated_seconds(c.kind)), Some(&include));
    secs += changes.iter().filter(|c| c.action == Action::Delete).map(|c| c.estimated_seconds).max().unwrap_or(0);
    secs += changes
        .iter()
        .filter(|c| c.component == SHARED_KEY && c.action.is_change() && c.action != Action::Delete)
        .map(|c| c.estimated_seconds)
        .sum::<u64>();
    Plan {
        format_version: PLAN_FORMAT.to_string(),
        stack: stack.name().to_string(),
        environment: stack.environment.clone(),
        tenant: tenant.to_string(),
        created_at: Utc::now(),
        state_lineage: state.map(|s| s.lineage.clone()),
        state_serial: state.map(|s| s.serial),
        summary,
        waves,
        changes,
        critical_path: cp.iter().map(ToString::to_string).collect(),
        estimated_seconds: secs,
        outputs: stack.stack.spec.outputs.clone(),
        cost: None,
        policy: None,
    }
}
