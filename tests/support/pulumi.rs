//! The real Pulumi engine for the tests: the `pulumi` CLI and the YAML
//! language host built by `make pulumi` (scripts/build-pulumi.sh) into
//! `.tools/bin/`, and the stand-in AWS provider (tests/stand-in-aws, a test
//! fixture) installed into a `PULUMI_HOME` shared by the tests, the way
//! users have the real provider. What the stand-in creates lands in a
//! per-test "fake cloud" directory (`FAKE_AWS_DIR`).
//!
//! Nothing here skips: a missing build is a test failure that says to run
//! `make pulumi`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

/// `.tools/bin`, which holds `pulumi` and `pulumi-language-yaml` (and never
/// the provider: a provider on PATH costs a second process per `up`).
pub fn tools_bin() -> PathBuf {
    super::root().join(".tools/bin")
}

/// The real `pulumi` binary.
pub fn pulumi() -> PathBuf {
    let p = tools_bin().join("pulumi");
    assert!(
        p.is_file() && tools_bin().join("pulumi-language-yaml").is_file(),
        "the real pulumi CLI is not built at {}: run `make pulumi` (make test does)",
        p.display()
    );
    p
}

/// A `PULUMI_HOME` with the stand-in provider installed (once, under a lock,
/// by scripts/install-stand-in.sh), shared by every test.
pub fn pulumi_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = super::root().join("target/pulumi-home");
        let status = Command::new("bash")
            .arg(super::root().join("scripts/install-stand-in.sh"))
            .arg(&home)
            .status()
            .expect("bash runs");
        assert!(status.success(), "could not install the stand-in provider into {}", home.display());
        home
    })
}

/// `PATH` with `.tools/bin` first, so `pulumi` finds its YAML language host.
pub fn path_env() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", tools_bin().display())
}

/// The environment every real-pulumi run gets: the tools, the shared
/// `PULUMI_HOME`, and the fake cloud of one test.
pub fn env(fake_cloud: &Path) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), path_env()),
        ("PULUMI_HOME".into(), pulumi_home().display().to_string()),
        ("FAKE_AWS_DIR".into(), fake_cloud.display().to_string()),
        ("PULUMI_SKIP_UPDATE_CHECK".into(), "true".into()),
    ]
}

/// One provider operation the stand-in recorded in `operations.log`.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    pub op: String,
    #[serde(rename = "type")]
    pub type_token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub urn: String,
    #[serde(default)]
    pub id: String,
}

/// Every operation the stand-in recorded so far.
pub fn operations(fake_cloud: &Path) -> Vec<Operation> {
    let text = std::fs::read_to_string(fake_cloud.join("operations.log")).unwrap_or_default();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("an operation line")).collect()
}

/// The resources panka's programs made that are in the fake cloud now (one
/// JSON file each), leaving out what [`seed`] put there.
pub fn resources(fake_cloud: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    walk(fake_cloud, &mut out);
    out.retain(|r| r["seeded"] != true);
    out
}

/// Puts a resource that exists before panka runs (the platform team's
/// cluster, load balancer and listener) into the fake cloud, in the
/// stand-in's layout (`<module>/<Type>/<key>.json`).
pub fn seed(fake_cloud: &Path, type_token: &str, name: &str, outputs: serde_json::Value) {
    let mut parts = type_token.split(':');
    let (_, module, type_name) = (parts.next(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let module = module.split('/').next().unwrap_or_default();
    let dir = fake_cloud.join(module).join(type_name);
    std::fs::create_dir_all(&dir).unwrap();
    let id = outputs["arn"].as_str().unwrap_or(name).to_string();
    let record = serde_json::json!({
        "type": type_token, "urn": "", "id": id, "name": name, "key": name,
        "inputs": {}, "outputs": outputs, "seeded": true,
    });
    std::fs::write(dir.join(format!("{name}.json")), serde_json::to_vec_pretty(&record).unwrap()).unwrap();
}

/// The shared load balancer and listener a platform team provides.
pub fn seed_load_balancer(fake_cloud: &Path, listener_arn: &str) {
    // arn:…:listener/app/<name>/<lb id>/<listener id> → arn:…:loadbalancer/app/<name>/<lb id>
    let (prefix, rest) = listener_arn.split_once(":listener/").expect("a listener ARN");
    let lb_path = rest.rsplit_once('/').map(|(lb, _)| lb).unwrap_or(rest);
    let lb_arn = format!("{prefix}:loadbalancer/{lb_path}");
    let lb_name = lb_path.split('/').nth(1).unwrap_or("shared");
    seed(
        fake_cloud,
        "aws:lb/loadBalancer:LoadBalancer",
        lb_name,
        serde_json::json!({"arn": lb_arn, "name": lb_name, "dnsName": format!("{lb_name}-123456.elb.amazonaws.com"), "loadBalancerType": "application", "securityGroups": ["sg-0a1b2c3d4e5f60718"]}),
    );
    seed(
        fake_cloud,
        "aws:lb/listener:Listener",
        &format!("{lb_name}-listener"),
        serde_json::json!({"arn": listener_arn, "loadBalancerArn": lb_arn, "port": 443, "protocol": "HTTPS"}),
    );
}

fn walk(dir: &Path, out: &mut Vec<serde_json::Value>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            if let Ok(v) = serde_json::from_slice(&std::fs::read(&p).unwrap_or_default()) {
                out.push(v);
            }
        }
    }
}
