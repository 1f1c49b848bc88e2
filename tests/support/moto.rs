//! A moto server for the tests of one process: started on first use on a
//! free loopback port (`scripts/moto_server.py` binds port 0 and reports it),
//! shared by every test of the process, and gone when the process ends
//! (the server exits when its stdin, held here, closes).
//!
//! `PANKA_TEST_MOTO_ENDPOINT` points the tests at a server that is already
//! running instead. The venv (`PANKA_TEST_VENV`, default `.venv`) is created
//! by `scripts/moto-venv.sh` when missing.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

pub struct Moto {
    pub endpoint: String,
    // Held for the life of the process; dropping stdin stops the server.
    _server: Option<Mutex<(Child, ChildStdin)>>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared server, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(start)
}

pub fn endpoint() -> String {
    moto().endpoint.clone()
}

fn start() -> Moto {
    if let Ok(endpoint) = std::env::var("PANKA_TEST_MOTO_ENDPOINT") {
        return Moto { endpoint, _server: None };
    }
    let root = root();
    let status =
        Command::new("bash").arg(root.join("scripts/moto-venv.sh")).status().expect("running scripts/moto-venv.sh");
    assert!(status.success(), "scripts/moto-venv.sh failed: could not install moto");
    let venv = std::env::var("PANKA_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|_| root.join(".venv"));
    let mut child = Command::new(venv.join("bin/python"))
        .arg(root.join("scripts/moto_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("reading moto's port");
    let port: u16 = line
        .trim()
        .strip_prefix("port=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("moto did not report a port: {line:?}"));
    let stdin = child.stdin.take().unwrap();
    Moto { endpoint: format!("http://127.0.0.1:{port}"), _server: Some(Mutex::new((child, stdin))) }
}

/// SDK configuration for the moto server with static test credentials (so
/// nothing ever asks an instance-metadata endpoint).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "panka-tests"))
        .endpoint_url(endpoint())
        .load()
        .await
}

pub async fn s3_builder() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(&sdk_config().await).force_path_style(true)
}

pub async fn s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_builder().await.build())
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A short unique suffix for bucket and table names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A fresh bucket.
pub async fn new_bucket() -> String {
    let name = unique("panka-test");
    s3().await.create_bucket().bucket(&name).send().await.expect("create bucket");
    name
}

/// A fresh lock table, made by `admin init`'s own code.
pub async fn new_table() -> String {
    let name = unique("panka-locks");
    let mut report = panka::admin::InitReport::default();
    panka::admin::init_table(&dynamodb().await, &name, Default::default(), &mut report).await.expect("create table");
    name
}

/// A lock item read straight from the table (keys `pk`/`sk`), bypassing panka.
pub async fn raw_lock(table: &str, key: &str) -> Option<panka::lock::LockRecord> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (pk, sk) = key.match_indices(':').nth(1).map(|(i, _)| (&key[..i], &key[i + 1..])).expect("tenant:<t>:…");
    let out = dynamodb()
        .await
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_string()))
        .key("sk", AttributeValue::S(sk.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().map(|i| panka::lock::dynamodb::from_item(i).unwrap())
}

/// Seeds the moto server through boto3 (`tests/support/aws_seed.py`): log
/// events, ECS services, Lambda functions, a load balancer's listener and
/// rules, as a deployed stack has them. Returns what the script printed
/// (one JSON line per action that creates something with a generated ARN).
pub fn seed(region: &str, actions: serde_json::Value) -> String {
    let venv = std::env::var("PANKA_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|_| root().join(".venv"));
    let out = Command::new(venv.join("bin/python"))
        .arg(root().join("tests/support/aws_seed.py"))
        .arg(endpoint())
        .arg(region)
        .arg(actions.to_string())
        .output()
        .expect("running aws_seed.py");
    assert!(out.status.success(), "aws_seed.py failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
