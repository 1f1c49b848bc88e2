//! Issue 12: physical names across deployments sharing an account,
//! replacement-safe updates, networking and alarms, judged on the emitted
//! programs (the schema check runs over every variant).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml::Value;

use super::check::check_program;
use super::emit::{emit_component, emit_shared, rds_engine_version, EmitOptions};
use super::schema::tests::real_schema;
use crate::load::{load, LoadOptions, LoadedStack};
use crate::model::{AlarmsSpec, ComponentId, Kind, RdsEngineType};

fn load_env(env: &str) -> LoadedStack {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pulumi/all-kinds");
    let opts = LoadOptions { dir, environment: env.to_string(), ..LoadOptions::default() };
    load(&opts).unwrap_or_else(|f| panic!("{f}: {:#?}", f.diagnostics))
}

fn opts(tenant: &str) -> EmitOptions {
    EmitOptions { tenant: tenant.into(), endpoint: None }
}

fn id_of(stack: &LoadedStack, kind: Kind) -> ComponentId {
    stack.components.values().find(|c| c.kind == kind).map(|c| c.id.clone()).expect("the fixture has every kind")
}

fn emit(stack: &LoadedStack, id: &ComponentId, tenant: &str) -> Value {
    let program = emit_component(stack, id, &opts(tenant)).unwrap_or_else(|e| panic!("{id}: {e}"));
    let value = program.to_value();
    let problems = check_program(real_schema(), &value);
    assert!(problems.is_empty(), "{id}: {problems:?}\n{}", program.to_yaml());
    value
}

/// `(logical name, type token, properties)` of every resource.
fn resources(program: &Value) -> Vec<(String, String, Value)> {
    program["resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .map(|(k, v)| {
            (k.as_str().unwrap().to_string(), v["type"].as_str().unwrap().to_string(), v["properties"].clone())
        })
        .collect()
}

fn resource(program: &Value, logical: &str) -> Value {
    program["resources"][logical]["properties"].clone()
}

/// AWS's rules for a physical name, written from each service's
/// documentation (not from panka's `names` table): maximum length, allowed
/// characters, and whether the name is global to the account.
struct AwsRule {
    property: &'static str,
    max: usize,
    allowed: fn(char) -> bool,
    lowercase_letter_first: bool,
    global: bool,
}

fn alnum_dash(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}
fn alnum_dash_underscore(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn aws_rule(type_token: &str) -> Option<AwsRule> {
    let r = |property, max, allowed: fn(char) -> bool| AwsRule {
        property,
        max,
        allowed,
        lowercase_letter_first: false,
        global: false,
    };
    Some(match type_token {
        // ELB CreateTargetGroup: 32, alphanumerics and hyphens.
        "aws:lb:TargetGroup" => r("name", 32, alnum_dash),
        // IAM CreateRole: 64, [\w+=,.@-], one namespace per account.
        "aws:iam:Role" => {
            AwsRule { global: true, ..r("name", 64, |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) }
        }
        // SQS CreateQueue: 80 including `.fifo`.
        "aws:sqs:Queue" => r("name", 80, |c| alnum_dash_underscore(c) || c == '.'),
        "aws:sns:Topic" => r("name", 256, |c| alnum_dash_underscore(c) || c == '.'),
        // The Terraform provider's bucket_prefix: 37, lowercase.
        "aws:s3:Bucket" => AwsRule {
            lowercase_letter_first: true,
            ..r("bucketPrefix", 37, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        },
        "aws:ecs:Service" | "aws:ecs:Cluster" => r("name", 255, alnum_dash_underscore),
        "aws:ecs:TaskDefinition" => r("family", 255, alnum_dash_underscore),
        "aws:cloudwatch:LogGroup" => r("name", 512, |c| c.is_ascii_alphanumeric() || "._-/#".contains(c)),
        "aws:cloudwatch:MetricAlarm" => r("name", 255, |c| c.is_ascii() && !c.is_ascii_control()),
        "aws:ec2:SecurityGroup" => r("name", 255, |c| c.is_ascii() && !c.is_ascii_control()),
        // RDS DB instance identifier: 63, a letter first, lowercase.
        "aws:rds:Instance" => AwsRule {
            lowercase_letter_first: true,
            ..r("identifier", 63, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        },
        "aws:rds:SubnetGroup" => r("name", 255, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || " ._-".contains(c)),
        // ElastiCache replication group id: 40, a letter first, lowercase.
        "aws:elasticache:ReplicationGroup" => AwsRule {
            lowercase_letter_first: true,
            ..r("replicationGroupId", 40, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        },
        "aws:elasticache:SubnetGroup" => r("name", 255, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "aws:lambda:Function" => r("name", 64, alnum_dash_underscore),
        "aws:dynamodb:Table" => r("name", 255, |c| alnum_dash_underscore(c) || c == '.'),
        "aws:scheduler:Schedule" => r("name", 64, |c| alnum_dash_underscore(c) || c == '.'),
        "aws:appautoscaling:Policy" => r("name", 255, |c| c.is_ascii() && c != ':' && c != '/'),
        _ => return None,
    })
}

fn check_aws_rule(type_token: &str, rule: &AwsRule, name: &str) {
    assert!(!name.is_empty() && name.len() <= rule.max, "{type_token} `{name}`: {} > {}", name.len(), rule.max);
    assert!(name.chars().all(rule.allowed), "{type_token} `{name}` has a character AWS refuses");
    if rule.lowercase_letter_first {
        assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{type_token} `{name}` must start with a letter");
        assert!(!name.contains("--"), "{type_token} `{name}` has two hyphens in a row");
    }
    if type_token == "aws:ec2:SecurityGroup" {
        assert!(!name.starts_with("sg-"), "{name}");
    }
}

/// Two tenants × two stacks × two environments × two regions, all in one
/// account: every physical name fits its type's AWS rules, and no two
/// deployments share one (regional names within a region, IAM names across
/// the account).
#[test]
fn names_never_collide_across_tenants_stacks_environments_and_regions() {
    let mut owner: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut checked = BTreeSet::new();
    for tenant in ["default", "acme-payments-team20"] {
        for stack_name in ["payments", "payments-platform-orders"] {
            for env in ["dev", "production"] {
                for region in ["us-east-1", "ap-southeast-2"] {
                    let mut stack = load_env(env);
                    stack.stack.metadata.name = stack_name.to_string();
                    stack.provider.region = region.to_string();
                    stack.provider.account_id = Some("123456789012".into());
                    let deployment = format!("{tenant}/{stack_name}/{env}/{region}");
                    let mut programs: Vec<Value> = stack.components.keys().map(|id| emit(&stack, id, tenant)).collect();
                    let mut shared = stack.clone();
                    shared.stack.spec.shared.cluster =
                        Some(crate::model::Cluster { create: true, ..Default::default() });
                    programs.extend(emit_shared(&shared, &opts(tenant)).unwrap().map(|p| p.to_value()));
                    for program in &programs {
                        for (_, type_token, props) in resources(program) {
                            let Some(rule) = aws_rule(&type_token) else { continue };
                            let name = props[rule.property].as_str().unwrap_or_else(|| {
                                panic!("{deployment}: {type_token} has no literal {}", rule.property)
                            });
                            check_aws_rule(&type_token, &rule, name);
                            checked.insert(type_token.clone());
                            if type_token == "aws:s3:Bucket" {
                                continue; // a prefix: AWS adds a unique suffix
                            }
                            let namespace = if rule.global { "account".to_string() } else { region.to_string() };
                            let key = (namespace, type_token.clone(), name.to_string());
                            if let Some(other) = owner.insert(key.clone(), deployment.clone()) {
                                panic!("{key:?} is used by both {other} and {deployment}");
                            }
                        }
                    }
                }
            }
        }
    }
    for t in ["aws:lb:TargetGroup", "aws:iam:Role", "aws:sqs:Queue", "aws:s3:Bucket", "aws:cloudwatch:MetricAlarm"] {
        assert!(checked.contains(t), "{t} was never rendered");
    }
    assert!(owner.len() > 16 * 30, "{} names", owner.len());
}

/// Tenant `default` keeps the regional names panka gave before issue 12
/// (a changed RDS identifier would replace the database).
#[test]
fn the_default_tenant_keeps_its_regional_names() {
    let stack = load_env("production");
    let rds = emit(&stack, &id_of(&stack, Kind::Rds), "default");
    assert_eq!(resource(&rds, "instance")["identifier"], "payments-production-backend-database");
    let sqs = emit(&stack, &id_of(&stack, Kind::Sqs), "default");
    assert_eq!(resource(&sqs, "queue")["name"], "payments-production-backend-orders");
    let other = emit(&stack, &id_of(&stack, Kind::Rds), "acme");
    assert_eq!(resource(&other, "instance")["identifier"], "acme-payments-production-backend-database");
}

/// IAM names are global to the account: the same stack in two regions
/// gets two roles.
#[test]
fn iam_role_names_differ_per_region() {
    let mut stack = load_env("production");
    let id = id_of(&stack, Kind::Worker);
    let a = resource(&emit(&stack, &id, "default"), "taskRole")["name"].clone();
    stack.provider.region = "us-west-2".into();
    let b = resource(&emit(&stack, &id, "default"), "taskRole")["name"].clone();
    assert_ne!(a, b);
    assert!(a.as_str().unwrap().starts_with("payments-production-backend-consumer-task-"), "{a:?}");
}

/// A bucket takes a prefix (AWS adds an unpredictable suffix) and ignores
/// changes to its name fields, so a bucket created with a fixed name keeps
/// it instead of being replaced.
#[test]
fn buckets_take_a_prefix_and_never_replace_an_existing_name() {
    let stack = load_env("dev");
    let program = emit(&stack, &id_of(&stack, Kind::S3), "default");
    let bucket = &program["resources"]["bucket"];
    assert_eq!(bucket["properties"]["bucketPrefix"], "payments-dev-backend-uploads-");
    assert!(bucket["properties"].get("bucket").is_none());
    let ignored: Vec<&str> =
        bucket["options"]["ignoreChanges"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(ignored, ["bucket", "bucketPrefix"]);
}

/// The replace-forcing inputs of a resource type: the one documented list
/// the stand-in provider's Diff uses (SPEC §10).
fn replace_forcing(type_token: &str) -> Vec<String> {
    let text = include_str!("../../tests/stand-in-aws/replace.json");
    let all: BTreeMap<String, Vec<String>> = serde_json::from_str(text).unwrap();
    all.get(type_token).cloned().unwrap_or_default()
}

/// Toggling `spot` either way changes only the service's capacity provider
/// strategy, which updates in place: no `launchType` (replace-forcing) on
/// either side. Before issue 12 the on-demand side set `launchType`.
#[test]
fn toggling_spot_changes_only_the_capacity_provider_strategy() {
    for kind in [Kind::MicroService, Kind::Worker] {
        let mut stack = load_env("production");
        let id = id_of(&stack, kind);
        let mut services = Vec::new();
        for spot in [false, true] {
            stack.components.get_mut(&id).unwrap().infra.as_mut().unwrap().spot = spot;
            let service = resource(&emit(&stack, &id, "default"), "service");
            assert!(service.get("launchType").is_none(), "{kind}: {service:?}");
            assert_eq!(service["forceNewDeployment"], Value::Bool(true), "{kind}: required to change a strategy");
            let provider = &service["capacityProviderStrategies"][0]["capacityProvider"];
            assert_eq!(provider, if spot { "FARGATE_SPOT" } else { "FARGATE" });
            services.push(service);
        }
        let (a, b) = (services[0].as_mapping().unwrap(), services[1].as_mapping().unwrap());
        let keys: BTreeSet<&str> = a.keys().chain(b.keys()).filter_map(Value::as_str).collect();
        let changed: Vec<&str> = keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).collect();
        assert_eq!(changed, ["capacityProviderStrategies"], "{kind}");
        let forcing = replace_forcing("aws:ecs/service:Service");
        assert!(forcing.contains(&"launchType".to_string()), "the list names launchType: {forcing:?}");
        assert!(!changed.iter().any(|c| forcing.iter().any(|f| f == c)), "{kind}: {changed:?} forces a replacement");
    }
}

/// A target group's port and protocol version force its replacement; both
/// are in its name, so the replacement never collides with the old one.
#[test]
fn target_group_names_follow_port_and_protocol() {
    let mut stack = load_env("dev");
    let id = id_of(&stack, Kind::MicroService);
    let name = |stack: &LoadedStack| {
        let program = emit(stack, &id, "default");
        let tg = resource(&program, "targetGroup");
        (
            tg["name"].as_str().unwrap().to_string(),
            tg["healthCheck"]["matcher"].clone(),
            tg["healthCheck"]["path"].clone(),
        )
    };
    let (http, matcher, _) = name(&stack);
    assert_eq!(http, "payments-dev-backend-api-8080");
    assert_eq!(matcher, "200-399");
    let set_port = |stack: &mut LoadedStack, port: u32, grpc: bool| {
        let c = stack.components.get_mut(&id).unwrap();
        let crate::model::ComponentSpec::MicroService(ms) = &mut c.spec else { unreachable!() };
        ms.ports[0].port = port;
        ms.ports[0].protocol = if grpc { crate::model::PortProtocol::Grpc } else { crate::model::PortProtocol::Http };
    };
    set_port(&mut stack, 9090, false);
    assert_eq!(name(&stack).0, "payments-dev-backend-api-9090");
    set_port(&mut stack, 9090, true);
    let (grpc, matcher, _) = name(&stack);
    assert_eq!(grpc, "payments-dev-backend-api-9090g");
    assert_eq!(matcher, "0", "a gRPC health method answers OK (0), a gRPC status, not an HTTP one");
    // Without a readiness path, ALB's default gRPC path answers UNIMPLEMENTED.
    let c = stack.components.get_mut(&id).unwrap();
    let crate::model::ComponentSpec::MicroService(ms) = &mut c.spec else { unreachable!() };
    ms.health_check.readiness = None;
    let (_, matcher, path) = name(&stack);
    assert_eq!((matcher, path), (Value::from("12"), Value::from("/AWS.ALB/healthcheck")));
    for forcing in ["port", "protocolVersion", "name"] {
        assert!(replace_forcing("aws:lb/targetGroup:TargetGroup").contains(&forcing.to_string()));
    }
}

#[test]
fn rds_takes_the_major_engine_version_and_a_snapshot_name_per_incarnation() {
    assert_eq!(rds_engine_version(RdsEngineType::Postgres, "16.4"), "16");
    assert_eq!(rds_engine_version(RdsEngineType::Postgres, "16"), "16");
    assert_eq!(rds_engine_version(RdsEngineType::Postgres, "9.6.24"), "9.6");
    assert_eq!(rds_engine_version(RdsEngineType::Mysql, "8.0.35"), "8.0");
    assert_eq!(rds_engine_version(RdsEngineType::Mariadb, "10.11.5"), "10.11");
    assert_eq!(rds_engine_version(RdsEngineType::Postgres, "${VERSION}"), "${VERSION}");
    let stack = load_env("production");
    let program = emit(&stack, &id_of(&stack, Kind::Rds), "default");
    let instance = resource(&program, "instance");
    assert_eq!(instance["engineVersion"], "16");
    assert_eq!(instance["autoMinorVersionUpgrade"], Value::Bool(true));
    // The component's security group is recreated with the database and
    // AWS never reuses its id: a recreated database's snapshot gets a new name.
    assert_eq!(instance["finalSnapshotIdentifier"], "payments-production-backend-database-final-${securityGroup.id}");
    let cache = emit(&stack, &id_of(&stack, Kind::ElastiCache), "default");
    let group = resource(&cache, "replicationGroup");
    assert!(group["finalSnapshotIdentifier"].as_str().unwrap().ends_with("-final-${securityGroup.id}"));
}

/// ElastiCache applies patches itself from version 6 and takes
/// `<major>.<minor>`: a patch given is dropped, a bare major refused.
#[test]
fn elasticache_takes_major_dot_minor_and_refuses_a_bare_major() {
    let mut stack = load_env("production");
    let id = id_of(&stack, Kind::ElastiCache);
    let set_version = |stack: &mut LoadedStack, v: &str| match &mut stack.components.get_mut(&id).unwrap().spec {
        crate::model::ComponentSpec::ElastiCache(s) => s.version = v.to_string(),
        _ => unreachable!(),
    };
    set_version(&mut stack, "7.2.4");
    assert!(crate::validate::rules::check(&stack).iter().all(|d| d.code != "invalid-value"));
    let cache = emit(&stack, &id, "default");
    assert_eq!(resource(&cache, "replicationGroup")["engineVersion"], "7.2");
    set_version(&mut stack, "8");
    let diags = crate::validate::rules::check(&stack);
    let d = diags.iter().find(|d| d.message.contains("needs its minor version")).expect("a bare major is refused");
    assert!(d.hint.as_deref().unwrap().contains("\"8.1\""), "{:?}", d.hint);
}

/// Security groups carry no inline rules; egress is separate rule
/// resources (inline rules and rule resources fight over the group).
#[test]
fn security_groups_have_no_inline_rules_and_containers_get_egress_resources() {
    let stack = load_env("production");
    for id in stack.components.keys() {
        let program = emit(&stack, id, "default");
        let all = resources(&program);
        for (logical, type_token, props) in &all {
            if type_token == "aws:ec2:SecurityGroup" {
                assert!(props.get("egress").is_none() && props.get("ingress").is_none(), "{id} {logical}");
            }
        }
        if stack.components[id].kind.is_container() {
            let egress: Vec<&str> = all
                .iter()
                .filter(|(_, t, p)| {
                    t == "aws:vpc:SecurityGroupEgressRule" && p["securityGroupId"] == "${securityGroup.id}"
                })
                .map(|(l, _, _)| l.as_str())
                .collect();
            assert_eq!(egress, ["egressTcp", "egressUdp"], "{id}");
        }
    }
}

/// A routed MicroService always admits the load balancer: its security
/// group when given, else the first of the listener's load balancer's.
#[test]
fn the_load_balancer_is_always_let_in() {
    let mut stack = load_env("dev");
    let id = id_of(&stack, Kind::MicroService);
    let given = emit(&stack, &id, "default");
    assert_eq!(resource(&given, "albIngress")["referencedSecurityGroupId"], "sg-0alb");
    stack.stack.spec.shared.load_balancer.as_mut().unwrap().security_group_id = None;
    let looked_up = emit(&stack, &id, "default");
    let ingress = resource(&looked_up, "albIngress");
    assert_eq!(ingress["referencedSecurityGroupId"]["fn::select"][1], "${loadBalancerSecurityGroups}");
    assert_eq!(
        looked_up["variables"]["loadBalancerSecurityGroups"]["fn::invoke"]["return"], "securityGroups",
        "{looked_up:?}"
    );
}

fn alarms(program: &Value) -> BTreeMap<String, Value> {
    resources(program)
        .into_iter()
        .filter(|(_, t, _)| t == "aws:cloudwatch:MetricAlarm")
        .map(|(l, _, p)| (l, p))
        .collect()
}

/// The alarms a platform team expects, on by default: target 5xx (the
/// service's deployment rollback alarm), dead-letter queue depth, RDS free
/// storage.
#[test]
fn components_get_the_expected_alarms() {
    let stack = load_env("production");
    let ms = emit(&stack, &id_of(&stack, Kind::MicroService), "default");
    let a = alarms(&ms);
    let five = &a["alarm-5xx"];
    assert_eq!(five["metricName"], "HTTPCode_Target_5XX_Count");
    assert_eq!(five["dimensions"]["TargetGroup"], "${targetGroup.arnSuffix}");
    assert_eq!(five["dimensions"]["LoadBalancer"], "app/shared/50dc6c495c0c9188");
    assert!(five.get("alarmActions").is_none(), "no topic configured");
    let service = resource(&ms, "service");
    assert_eq!(service["deploymentCircuitBreaker"]["rollback"], Value::Bool(true));
    assert_eq!(service["alarms"]["alarmNames"][0], "${alarm-5xx.name}");
    assert_eq!(service["alarms"]["rollback"], Value::Bool(true));

    let sqs = emit(&stack, &id_of(&stack, Kind::Sqs), "default");
    let dlq = &alarms(&sqs)["alarm-dlq-depth"];
    assert_eq!(dlq["dimensions"]["QueueName"], "${deadLetterQueue.name}");
    assert_eq!(
        (dlq["threshold"].as_f64(), dlq["comparisonOperator"].as_str()),
        (Some(0.0), Some("GreaterThanThreshold"))
    );

    let rds = emit(&stack, &id_of(&stack, Kind::Rds), "default");
    let storage = &alarms(&rds)["alarm-free-storage"];
    assert_eq!(storage["metricName"], "FreeStorageSpace");
    assert_eq!(storage["threshold"].as_f64(), Some(50.0 * 1024.0 * 1024.0 * 1024.0 / 10.0));

    for kind in [Kind::Worker, Kind::DynamoDB, Kind::S3, Kind::Lambda] {
        assert!(alarms(&emit(&stack, &id_of(&stack, kind), "default")).is_empty(), "{kind}");
    }
}

fn with_alarms(spec: AlarmsSpec) -> LoadedStack {
    let mut stack = load_env("production");
    stack.environment_doc.as_mut().expect("production has an Environment").spec.alarms = Some(spec);
    stack
}

#[test]
fn alarms_notify_the_environment_topic_or_are_off() {
    let off = with_alarms(AlarmsSpec { enabled: false, ..AlarmsSpec::default() });
    for id in off.components.keys() {
        let program = emit(&off, id, "default");
        assert!(alarms(&program).is_empty(), "{id}");
    }
    assert!(resource(&emit(&off, &id_of(&off, Kind::MicroService), "default"), "service").get("alarms").is_none());

    let arn = "arn:aws:sns:eu-west-1:123456789012:platform-alarms";
    let given = with_alarms(AlarmsSpec { topic_arn: Some(arn.into()), ..AlarmsSpec::default() });
    let sqs = emit(&given, &id_of(&given, Kind::Sqs), "default");
    let dlq = &alarms(&sqs)["alarm-dlq-depth"];
    assert_eq!(dlq["alarmActions"][0], arn);
    assert_eq!(dlq["okActions"][0], arn);

    // One topic per environment, in the stack's shared program, read by
    // every component through a StackReference.
    let created = with_alarms(AlarmsSpec { create_topic: true, ..AlarmsSpec::default() });
    assert!(crate::plan::has_shared(&created), "the topic makes a shared program");
    let shared = emit_shared(&created, &opts("default")).unwrap().unwrap().to_value();
    assert!(check_program(real_schema(), &shared).is_empty());
    let topic = resource(&shared, "alarmTopic");
    assert_eq!(topic["name"], "payments-production-alarms");
    assert!(shared["resources"].get("cluster").is_none(), "the fixture names an existing cluster");
    assert_eq!(shared["outputs"]["alarmTopicArn"], "${alarmTopic.arn}");
    let rds = emit(&created, &id_of(&created, Kind::Rds), "default");
    assert_eq!(
        alarms(&rds)["alarm-free-storage"]["alarmActions"][0],
        "${ref-payments-shared.outputs[\"alarmTopicArn\"]}"
    );
    assert_eq!(resource(&rds, "ref-payments-shared")["name"], "organization/payments-shared/production");
}

/// A component secret holding the RDS-managed master password is a
/// warning: RDS rotates it and running tasks keep the old one.
#[test]
fn an_injected_rds_managed_password_is_a_warning() {
    let stack = load_env("production");
    let diags = crate::validate::rules::check(&stack);
    let warnings: Vec<_> = diags.iter().filter(|d| d.code == "rotating-secret").collect();
    assert_eq!(warnings.len(), 1, "{diags:#?}");
    let w = warnings[0];
    assert_eq!(w.severity, crate::diagnostic::Severity::Warning);
    assert!(w.message.contains("DB_PASSWORD") && w.message.contains("7 days"), "{}", w.message);
    assert!(w.hint.as_deref().unwrap().contains("docs/kinds/rds.md"));
}

/// The ARN (and an action that creates it) of a named resource, as AWS
/// authorizes it: what the tenant's deploy policy must own. `None` for
/// types whose ARN carries no name (security groups: by tag) or that are
/// not authorized by name (scaling policies: by their target's tag).
fn created_as(type_token: &str, name: &str) -> Option<(&'static str, String)> {
    let at = |service: &str, rest: String| format!("arn:aws:{service}:us-east-1:123456789012:{rest}");
    Some(match type_token {
        "aws:lb:TargetGroup" => (
            "elasticloadbalancing:CreateTargetGroup",
            at("elasticloadbalancing", format!("targetgroup/{name}/0123abcd")),
        ),
        "aws:iam:Role" => ("iam:PassRole", format!("arn:aws:iam::123456789012:role/{name}")),
        "aws:sqs:Queue" => ("sqs:CreateQueue", at("sqs", name.to_string())),
        "aws:sns:Topic" => ("sns:CreateTopic", at("sns", name.to_string())),
        "aws:s3:Bucket" => ("s3:CreateBucket", format!("arn:aws:s3:::{name}20240101000000000000000001")),
        "aws:ecs:Service" => ("ecs:CreateService", at("ecs", format!("service/payments/{name}"))),
        "aws:ecs:Cluster" => ("ecs:CreateCluster", at("ecs", format!("cluster/{name}"))),
        "aws:ecs:TaskDefinition" => ("ecs:RegisterTaskDefinition", at("ecs", format!("task-definition/{name}:1"))),
        "aws:cloudwatch:LogGroup" => ("logs:CreateLogGroup", at("logs", format!("log-group:{name}"))),
        "aws:cloudwatch:MetricAlarm" => ("cloudwatch:PutMetricAlarm", at("cloudwatch", format!("alarm:{name}"))),
        "aws:rds:Instance" => ("rds:CreateDBInstance", at("rds", format!("db:{name}"))),
        "aws:rds:SubnetGroup" => ("rds:CreateDBSubnetGroup", at("rds", format!("subgrp:{name}"))),
        "aws:elasticache:ReplicationGroup" => {
            ("elasticache:CreateReplicationGroup", at("elasticache", format!("replicationgroup:{name}")))
        }
        "aws:elasticache:SubnetGroup" => {
            ("elasticache:CreateCacheSubnetGroup", at("elasticache", format!("subnetgroup:{name}")))
        }
        "aws:lambda:Function" => ("lambda:CreateFunction", at("lambda", format!("function:{name}"))),
        "aws:dynamodb:Table" => ("dynamodb:CreateTable", at("dynamodb", format!("table/{name}"))),
        "aws:scheduler:Schedule" => ("scheduler:CreateSchedule", at("scheduler", format!("schedule/default/{name}"))),
        _ => return None,
    })
}

/// Issue 14: every physical name a tenant's programs give leads with the
/// tenant, so its deploy policy (`<tenant>-*` patterns) owns every named
/// resource of its stacks — long stack names and truncated target groups
/// included — and another tenant's policy owns none of them.
#[test]
fn a_tenants_policy_owns_every_name_its_programs_give() {
    use crate::tenant::policy::{deploy_policy, evaluate, tenant_policy, Decision, PolicyInput, Request};
    let policy_of = |tenant: &str| {
        let input = PolicyInput {
            tenant: tenant.into(),
            bucket: "state".into(),
            prefix: String::new(),
            table: "panka-locks".into(),
            stacks: "*".into(),
        };
        let mut statements = tenant_policy(&input)["Statement"].as_array().unwrap().clone();
        statements.extend(deploy_policy(&input)["Statement"].as_array().unwrap().iter().cloned());
        serde_json::json!({"Version": "2012-10-17", "Statement": statements})
    };
    let mut checked = BTreeSet::new();
    let mut names = 0;
    // `other` never overlaps `tenant` (`a` and `a-b` cannot both exist:
    // `tenant::policy::tenant_overlap`), but shares its first characters.
    for (tenant, other) in [("t", "ta"), ("abcdefghij-klmnopqrs", "abcdefghij-klmnopqr")] {
        let (mine, theirs) = (policy_of(tenant), policy_of(other));
        for stack_name in ["payments", "payments-platform-orders"] {
            let mut stack = with_alarms(AlarmsSpec { enabled: true, create_topic: true, topic_arn: None });
            stack.stack.metadata.name = stack_name.to_string();
            stack.provider.account_id = Some("123456789012".into());
            let mut programs: Vec<Value> = stack.components.keys().map(|id| emit(&stack, id, tenant)).collect();
            let mut shared = stack.clone();
            shared.stack.spec.shared.cluster = Some(crate::model::Cluster { create: true, ..Default::default() });
            programs.extend(emit_shared(&shared, &opts(tenant)).unwrap().map(|p| p.to_value()));
            for program in &programs {
                for (_, type_token, props) in resources(program) {
                    let Some(rule) = aws_rule(&type_token) else { continue };
                    let name = props[rule.property].as_str().unwrap();
                    let lead = match type_token.as_str() {
                        "aws:cloudwatch:LogGroup" if name.starts_with("/aws/lambda/") => {
                            format!("/aws/lambda/{tenant}-")
                        }
                        "aws:cloudwatch:LogGroup" => format!("/ecs/{tenant}/"),
                        _ => format!("{tenant}-"),
                    };
                    assert!(name.starts_with(&lead), "{type_token} `{name}` does not lead with `{lead}`");
                    names += 1;
                    let Some((action, arn)) = created_as(&type_token, name) else { continue };
                    assert_eq!(evaluate(&mine, &Request::new(action, &arn)), Decision::Allow, "{action} {arn}");
                    assert_ne!(evaluate(&theirs, &Request::new(action, &arn)), Decision::Allow, "{other}: {arn}");
                    checked.insert(type_token);
                }
            }
        }
    }
    for t in
        ["aws:lb:TargetGroup", "aws:iam:Role", "aws:sqs:Queue", "aws:s3:Bucket", "aws:ecs:Cluster", "aws:sns:Topic"]
    {
        assert!(checked.contains(t), "{t} was never rendered: {checked:?}");
    }
    assert!(checked.len() >= 15, "{checked:?}");
    assert!(names > 100, "{names}");
}
