//! Listener rule priorities checked against the live shared listener
//! (issue 12). A priority is unique on a listener; the stack's own rules
//! are checked against each other by `validate`, but the listener is shared
//! with other stacks and teams, and a priority one of them holds makes
//! `pulumi up` fail with `PriorityInUse` after earlier waves already
//! changed things. `plan` and `apply` read the listener's rules first and
//! name the rule that holds a priority the stack wants.
//!
//! A rule is the component's own (not a conflict) when its tags say so:
//! every resource panka creates carries `panka:tenant`, `panka:stack`,
//! `panka:environment`, `panka:service` and `panka:component` (the
//! provider's default tags). A rule of another component of the same
//! deployment is not a conflict either when that component moves to
//! another priority in the same apply.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2 as elbv2;

use crate::aws::{explain, AwsError, Resource};
use crate::load::LoadedStack;
use crate::model::{ComponentId, ComponentSpec};

/// A priority the stack wants that another rule already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub component: ComponentId,
    pub priority: u32,
    /// The rule that holds it.
    pub rule_arn: String,
    /// Whose it is, from its tags (`panka stack shop/dev component api/web`),
    /// or `None` when it is not panka's.
    pub owner: Option<String>,
    /// Priorities near the wanted one that no rule holds and the stack
    /// does not want, for the hint.
    pub free: Vec<u32>,
}

/// The priority each MicroService of the stack asks for on the shared
/// listener: `infra.loadBalancer.priority`, or the stable one panka derives
/// from its identity.
pub fn wanted(stack: &LoadedStack) -> BTreeMap<ComponentId, u32> {
    stack
        .components
        .iter()
        .filter(|(_, c)| matches!(c.spec, ComponentSpec::MicroService(_)))
        .map(|(id, c)| {
            let explicit = c.infra.as_ref().and_then(|i| i.load_balancer.as_ref()).and_then(|lb| lb.priority);
            (id.clone(), crate::pulumi::emit::listener_priority(id, explicit))
        })
        .collect()
}

/// The shared listener's ARN when the stack gives a literal one and has
/// MicroServices to attach to it.
pub fn listener_arn(stack: &LoadedStack) -> Option<&str> {
    let lb = stack.stack.spec.shared.load_balancer.as_ref()?;
    let arn = lb.listener_arn.as_str();
    let is_literal = arn.starts_with("arn:") && !arn.contains("${");
    let has_services = stack.components.values().any(|c| matches!(c.spec, ComponentSpec::MicroService(_)));
    (is_literal && has_services).then_some(arn)
}

/// The region of an ARN (`arn:partition:service:region:…`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Who the deployment is, as its resources' tags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant: String,
    pub stack: String,
    pub environment: String,
}

/// Reads the rules of `listener` and returns the priorities of `wanted`
/// that a rule other than the component's own holds.
pub async fn check(
    client: &elbv2::Client,
    listener: &str,
    who: &Identity,
    wanted: &BTreeMap<ComponentId, u32>,
) -> Result<Vec<Conflict>, AwsError> {
    let mut held: BTreeMap<u32, String> = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let resp = client
            .describe_rules()
            .listener_arn(listener)
            .page_size(400)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| explain(&e, "DescribeRules", Resource::Named("listener", listener)))?;
        for rule in resp.rules() {
            // The default rule's priority is `default`.
            if let (Some(p), Some(arn)) = (rule.priority().and_then(|p| p.parse().ok()), rule.rule_arn()) {
                held.insert(p, arn.to_string());
            }
        }
        match resp.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }

    let colliding: Vec<(&ComponentId, u32, &String)> =
        wanted.iter().filter_map(|(id, p)| held.get(p).map(|arn| (id, *p, arn))).collect();
    if colliding.is_empty() {
        return Ok(Vec::new());
    }
    let arns: Vec<String> =
        colliding.iter().map(|(_, _, arn)| (*arn).clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let tags = rule_tags(client, &arns).await?;

    let wanted_priorities: BTreeSet<u32> = wanted.values().copied().collect();
    let mut conflicts = Vec::new();
    for (id, priority, arn) in colliding {
        let t = tags.get(arn.as_str());
        let tag = |k: &str| t.and_then(|t| t.get(k)).map(String::as_str);
        let same_deployment = tag("panka:tenant") == Some(who.tenant.as_str())
            && tag("panka:stack") == Some(who.stack.as_str())
            && tag("panka:environment") == Some(who.environment.as_str());
        let holder = match (tag("panka:service"), tag("panka:component")) {
            (Some(s), Some(c)) => Some(ComponentId { service: s.to_string(), name: c.to_string() }),
            _ => None,
        };
        if same_deployment {
            match &holder {
                Some(h) if h == id => continue,
                // Moves elsewhere in this apply.
                Some(h) if wanted.get(h).is_some_and(|p| *p != priority) => continue,
                _ => {}
            }
        }
        let owner = match (tag("panka:stack"), tag("panka:environment"), &holder) {
            (Some(s), Some(e), Some(h)) => {
                let tenant = tag("panka:tenant").filter(|t| *t != crate::scope::DEFAULT_TENANT);
                Some(match tenant {
                    Some(t) => format!("panka tenant {t} stack {s}/{e} component {h}"),
                    None => format!("panka stack {s}/{e} component {h}"),
                })
            }
            _ => None,
        };
        conflicts.push(Conflict {
            component: id.clone(),
            priority,
            rule_arn: arn.clone(),
            owner,
            free: free_near(priority, &held, &wanted_priorities),
        });
    }
    Ok(conflicts)
}

/// Tags of `arns` (DescribeTags takes 20 at a time).
async fn rule_tags(
    client: &elbv2::Client,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let resp = client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| explain(&e, "DescribeTags", Resource::Named("listener rule", &chunk[0])))?;
        for d in resp.tag_descriptions() {
            let tags = d.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

/// Up to three priorities after `p` (then before it) that neither a live
/// rule nor the stack uses.
fn free_near(p: u32, held: &BTreeMap<u32, String>, wanted: &BTreeSet<u32>) -> Vec<u32> {
    let free = |q: &u32| !held.contains_key(q) && !wanted.contains(q);
    let mut out: Vec<u32> = (p + 1..=50_000).filter(free).take(3).collect();
    if out.len() < 3 {
        out.extend((1..p).rev().filter(free).take(3 - out.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_priorities_skip_held_and_wanted_ones_and_look_back_at_the_top() {
        let held: BTreeMap<u32, String> = [(10, "a".to_string()), (11, "b".to_string())].into();
        let wanted: BTreeSet<u32> = [10, 12].into();
        assert_eq!(free_near(10, &held, &wanted), vec![13, 14, 15]);
        let held: BTreeMap<u32, String> = [(50_000, "a".to_string())].into();
        assert_eq!(free_near(50_000, &held, &BTreeSet::new()), vec![49_999, 49_998, 49_997]);
    }

    #[test]
    fn regions_come_from_the_arn() {
        assert_eq!(
            arn_region("arn:aws:elasticloadbalancing:eu-west-1:111111111111:listener/app/x/1/2"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("listener"), None);
    }
}
