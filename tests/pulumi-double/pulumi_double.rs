//! `pulumi-double`: a TEST DOUBLE of the `pulumi` CLI, for panka's tests and
//! benchmarks only (the real CLI cannot be installed where they run). It is
//! not Pulumi and deploys nothing; see `docs/pulumi-double.md`.
//!
//! It accepts exactly the calls panka makes (`version`, `stack select
//! --create`, `up --json`, `stack output --json`, `destroy`, `stack rm`,
//! `cancel`), requires what the real CLI requires (`PULUMI_BACKEND_URL`, a
//! passphrase, `Pulumi.yaml` in the working directory), and writes the DIY
//! backend layout (`.pulumi/meta.yaml`, `.pulumi/stacks/<project>/<stack>.json`,
//! `.pulumi/locks/<project>/<stack>/<id>.json` while running) to `file://`
//! or `s3://` URLs. Outputs are fake but deterministic; `${ref.outputs["x"]}`
//! reads another stack's checkpoint in the same backend, as a
//! StackReference would. Exit codes: 0 ok, 255 failure (as pulumi).
//!
//! Fault injection and observation, by environment:
//! - `PULUMI_DOUBLE_FAIL=<project>[,<project>…]`: `up` of those projects fails;
//! - `PULUMI_DOUBLE_SLEEP_MS=<n>`: `up` and `destroy` take n ms;
//! - `PULUMI_DOUBLE_HANG=<project>`: `up` of that project never ends (until SIGINT,
//!   or until its parent dies: then it exits leaving its lock behind);
//! - `PULUMI_DOUBLE_SECRET_OUTPUTS=<name>[,…]`: those outputs are secrets;
//! - `PULUMI_DOUBLE_LOG=<file>`: one line per call: `<command> <project> <stack>`;
//! - `PULUMI_DOUBLE_TIMING=<file>`: one line per call: `<project> <microseconds>`
//!   (its own run time, for the benchmark's overhead figure).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SECRET_SIG: &str = "4dabf18193072939515e22adb298388d";

struct Fail(String);

fn fail(msg: impl Into<String>) -> Fail {
    Fail(msg.into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = std::time::Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = run(&args).await;
    if let Ok(path) = std::env::var("PULUMI_DOUBLE_TIMING") {
        let project = read_program().ok().and_then(|p| p["name"].as_str().map(str::to_string)).unwrap_or_default();
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(format!("{project} {}\n", started.elapsed().as_micros()).as_bytes());
        }
    }
    match result {
        Ok(()) => {}
        Err(Fail(msg)) => {
            eprintln!("error: {msg}");
            std::process::exit(255);
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn has(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn env_list(name: &str) -> Vec<String> {
    std::env::var(name).unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

async fn run(args: &[String]) -> Result<(), Fail> {
    let words: Vec<&str> = args.iter().take_while(|a| !a.starts_with('-')).map(String::as_str).collect();
    if words.first() == Some(&"version") {
        // The version it answers for (PULUMI_DOUBLE_VERSION), marked as the double's.
        let v = std::env::var("PULUMI_DOUBLE_VERSION").unwrap_or_else(|_| "v3.205.0".into());
        println!("{v}-pulumi-double");
        return Ok(());
    }
    let url = std::env::var("PULUMI_BACKEND_URL")
        .map_err(|_| fail("PULUMI_BACKEND_URL is not set (the double only supports DIY backends)"))?;
    let backend = Backend::open(&url).await?;
    let program = read_program()?;
    let project = program["name"].as_str().ok_or_else(|| fail("Pulumi.yaml has no `name`"))?.to_string();
    let stack = flag(args, "--stack").ok_or_else(|| fail("no stack selected: pass --stack"))?;
    log(&words.join(" "), &project, &stack);
    let key = format!(".pulumi/stacks/{project}/{stack}.json");
    let needs_passphrase = !matches!(words.as_slice(), ["stack", "rm"] | ["cancel"]);
    if needs_passphrase
        && std::env::var_os("PULUMI_CONFIG_PASSPHRASE").is_none()
        && std::env::var_os("PULUMI_CONFIG_PASSPHRASE_FILE").is_none()
        && flag(args, "--secrets-provider").is_none()
    {
        return Err(fail("passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"));
    }
    match words.as_slice() {
        ["stack", "select"] => {
            if backend.get(&key).await?.is_none() {
                if !has(args, "--create") {
                    return Err(fail(format!("no stack named '{stack}' found")));
                }
                backend.put(".pulumi/meta.yaml", b"version: 1\n".to_vec()).await?;
                let empty = json!({"version": 3, "checkpoint": {"stack": format!("organization/{project}/{stack}"), "latest": null}});
                backend.put(&key, serde_json::to_vec_pretty(&empty).unwrap()).await?;
            }
            Ok(())
        }
        ["up"] => {
            let _ = checkpoint(&backend, &key, &stack).await?;
            let lock = take_lock(&backend, &project, &stack).await?;
            let result = tokio::select! {
                r = up(&backend, &program, &project, &stack, &key) => r,
                _ = tokio::signal::ctrl_c() => Err(fail("update canceled")),
            };
            release_lock(&backend, &lock).await;
            result
        }
        ["stack", "output"] => {
            let cp = checkpoint(&backend, &key, &stack).await?;
            let outputs = cp["checkpoint"]["latest"]["resources"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["type"] == "pulumi:pulumi:Stack"))
                .map(|r| r["outputs"].clone())
                .unwrap_or_else(|| json!({}));
            let show = has(args, "--show-secrets");
            let shown: serde_json::Map<String, Value> = outputs
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let v = if v.get(SECRET_SIG).is_some() {
                        if show {
                            reveal(&v)
                        } else {
                            json!("[secret]")
                        }
                    } else {
                        v
                    };
                    (k, v)
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&Value::Object(shown)).unwrap());
            Ok(())
        }
        ["destroy"] => {
            let mut cp = checkpoint(&backend, &key, &stack).await?;
            let lock = take_lock(&backend, &project, &stack).await?;
            sleep().await;
            cp["checkpoint"]["latest"] = json!({"manifest": manifest(), "resources": []});
            backend.put(&key, serde_json::to_vec_pretty(&cp).unwrap()).await?;
            release_lock(&backend, &lock).await;
            println!("Resources:\n    - deleted\n\nThe resources in the stack have been deleted");
            Ok(())
        }
        ["stack", "rm"] => {
            let cp = checkpoint(&backend, &key, &stack).await?;
            let live = cp["checkpoint"]["latest"]["resources"].as_array().map_or(0, Vec::len);
            if live > 0 && !has(args, "--force") {
                return Err(fail(format!(
                    "'{stack}' still has resources; removal rejected. Possible actions: destroy first"
                )));
            }
            backend.delete(&key).await
        }
        ["cancel"] => {
            for k in backend.list(&format!(".pulumi/locks/{project}/{stack}/")).await? {
                backend.delete(&k).await?;
            }
            println!("The currently running update for '{stack}' has been canceled!");
            Ok(())
        }
        other => Err(fail(format!("the pulumi double does not implement `{}`", other.join(" ")))),
    }
}

fn log(command: &str, project: &str, stack: &str) {
    if let Ok(path) = std::env::var("PULUMI_DOUBLE_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(format!("{command} {project} {stack}\n").as_bytes());
        }
    }
}

async fn sleep() {
    if let Some(ms) = std::env::var("PULUMI_DOUBLE_SLEEP_MS").ok().and_then(|s| s.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn read_program() -> Result<Value, Fail> {
    let text = std::fs::read_to_string("Pulumi.yaml")
        .map_err(|_| fail("no Pulumi.yaml project file found in the current working directory"))?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| fail(format!("Pulumi.yaml: {e}")))?;
    serde_json::to_value(yaml).map_err(|e| fail(format!("Pulumi.yaml: {e}")))
}

async fn checkpoint(backend: &Backend, key: &str, stack: &str) -> Result<Value, Fail> {
    let bytes = backend.get(key).await?.ok_or_else(|| fail(format!("no stack named '{stack}' found")))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(format!("corrupt checkpoint `{key}`: {e}")))
}

async fn take_lock(backend: &Backend, project: &str, stack: &str) -> Result<String, Fail> {
    let prefix = format!(".pulumi/locks/{project}/{stack}/");
    if !backend.list(&prefix).await?.is_empty() {
        return Err(fail(format!(
            "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  {prefix}"
        )));
    }
    let key = format!("{prefix}{}.json", uuid::Uuid::new_v4());
    let body = json!({"pid": std::process::id(), "username": "pulumi-double", "hostname": "localhost", "timestamp": chrono::Utc::now()});
    backend.put(&key, serde_json::to_vec(&body).unwrap()).await?;
    Ok(key)
}

async fn release_lock(backend: &Backend, key: &str) {
    let _ = backend.delete(key).await;
}

fn manifest() -> Value {
    json!({"time": chrono::Utc::now(), "magic": "pulumi-double", "version": "v3.0.0-pulumi-double"})
}

fn event(seq: &mut u64, body: Value) {
    *seq += 1;
    let mut v = json!({"sequence": *seq, "timestamp": chrono::Utc::now().timestamp()});
    if let (Value::Object(m), Value::Object(b)) = (&mut v, body) {
        m.extend(b);
    }
    println!("{v}");
}

async fn up(backend: &Backend, program: &Value, project: &str, stack: &str, key: &str) -> Result<(), Fail> {
    let mut seq = 0u64;
    let stack_urn = format!("urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}");
    event(&mut seq, json!({"preludeEvent": {"config": {}}}));
    event(
        &mut seq,
        json!({"resourcePreEvent": {"metadata": {"op": "create", "urn": stack_urn, "type": "pulumi:pulumi:Stack"}}}),
    );
    let resources = program["resources"].as_object().cloned().unwrap_or_default();
    // StackReferences must point at stacks that exist, as in Pulumi.
    let mut refs: BTreeMap<String, Value> = BTreeMap::new();
    for (name, r) in &resources {
        if r["type"] == "pulumi:pulumi:StackReference" {
            let full = r["properties"]["name"].as_str().unwrap_or_default();
            let parts: Vec<&str> = full.split('/').collect();
            let [_, p, s] = parts.as_slice() else {
                return Err(fail(format!("invalid stack reference name `{full}`")));
            };
            let cp = checkpoint(backend, &format!(".pulumi/stacks/{p}/{s}.json"), full).await.map_err(|_| {
                fail(format!("unknown stack \"{full}\"\n  error: resource `{name}` (pulumi:pulumi:StackReference) could not be read"))
            })?;
            let outputs = cp["checkpoint"]["latest"]["resources"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["type"] == "pulumi:pulumi:Stack"))
                .map(|r| r["outputs"].clone())
                .unwrap_or_else(|| json!({}));
            refs.insert(name.clone(), outputs);
        }
    }
    let failing = env_list("PULUMI_DOUBLE_FAIL").iter().any(|p| p == project);
    let hang = env_list("PULUMI_DOUBLE_HANG").iter().any(|p| p == project);
    let mut state_resources =
        vec![json!({"urn": stack_urn, "type": "pulumi:pulumi:Stack", "custom": false, "outputs": {}})];
    let count = resources.len();
    let half = count / 2;
    for (i, (name, r)) in resources.iter().enumerate() {
        let ty = r["type"].as_str().unwrap_or("unknown");
        let urn = format!("urn:pulumi:{stack}::{project}::{ty}::{name}");
        event(&mut seq, json!({"resourcePreEvent": {"metadata": {"op": "create", "urn": urn, "type": ty}}}));
        if i == half {
            sleep().await;
            if hang {
                hang_until_orphaned().await;
            }
            if failing {
                let msg = format!("  {ty} ({name}):\n    error: creating {ty} ({name}): operation error: injected failure by PULUMI_DOUBLE_FAIL\n");
                event(
                    &mut seq,
                    json!({"diagnosticEvent": {"urn": urn, "severity": "error", "message": msg, "color": "never"}}),
                );
                event(&mut seq, json!({"summaryEvent": {"resourceChanges": {"create": i}}}));
                eprintln!("error: update failed");
                return Err(fail(format!("{project}: {name} failed (injected by PULUMI_DOUBLE_FAIL)")));
            }
        }
        event(&mut seq, json!({"resOutputsEvent": {"metadata": {"op": "create", "urn": urn, "type": ty}}}));
        state_resources.push(json!({"urn": urn, "type": ty, "custom": true, "inputs": r["properties"], "outputs": {}}));
    }
    if count == 0 {
        sleep().await;
        if hang {
            hang_until_orphaned().await;
        }
    }
    let secrets = env_list("PULUMI_DOUBLE_SECRET_OUTPUTS");
    let mut outputs = serde_json::Map::new();
    for (k, v) in program["outputs"].as_object().cloned().unwrap_or_default() {
        let mut value = resolve(&v, &refs, project, stack)?;
        let secret = secrets.contains(&k) || v.get("fn::secret").is_some();
        if secret {
            let plain = value.to_string();
            value = json!({SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": hex(plain.as_bytes())});
        }
        outputs.insert(k, value);
    }
    state_resources[0]["outputs"] = Value::Object(outputs);
    let cp = json!({"version": 3, "checkpoint": {"stack": format!("organization/{project}/{stack}"), "latest": {"manifest": manifest(), "resources": state_resources}}});
    backend.put(key, serde_json::to_vec_pretty(&cp).unwrap()).await?;
    event(
        &mut seq,
        json!({"resOutputsEvent": {"metadata": {"op": "create", "urn": stack_urn, "type": "pulumi:pulumi:Stack"}}}),
    );
    event(&mut seq, json!({"summaryEvent": {"resourceChanges": {"create": count + 1}}}));
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b ^ 0x5a)).collect()
}

/// The double's "decryption" of its own obfuscated secrets.
fn reveal(v: &Value) -> Value {
    let text = v["ciphertext"].as_str().unwrap_or_default();
    let bytes: Vec<u8> = (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .map(|b| b ^ 0x5a)
        .collect();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Resolves `${…}` in an output expression: StackReference reads from
/// `refs`, anything else a fake, stable value.
fn resolve(v: &Value, refs: &BTreeMap<String, Value>, project: &str, stack: &str) -> Result<Value, Fail> {
    match v {
        Value::String(s) => {
            // A whole-string reference keeps the referenced value's type.
            if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                if !inner.contains("${") {
                    return reference(inner, refs, project, stack);
                }
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let end = rest[i..].find('}').ok_or_else(|| fail(format!("unterminated interpolation in `{s}`")))? + i;
                match reference(&rest[i + 2..end], refs, project, stack)? {
                    Value::String(x) => out.push_str(&x),
                    other => out.push_str(&other.to_string()),
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Ok(Value::String(out))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("fn::secret") => {
            resolve(&m["fn::secret"], refs, project, stack)
        }
        Value::Object(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m {
                o.insert(k.clone(), resolve(v, refs, project, stack)?);
            }
            Ok(Value::Object(o))
        }
        Value::Array(a) => {
            a.iter().map(|x| resolve(x, refs, project, stack)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

fn reference(expr: &str, refs: &BTreeMap<String, Value>, project: &str, stack: &str) -> Result<Value, Fail> {
    let (resource, path) = expr.split_once('.').unwrap_or((expr, ""));
    if let Some(outputs) = refs.get(resource) {
        let name = path
            .strip_prefix("outputs[\"")
            .and_then(|p| p.strip_suffix("\"]"))
            .or_else(|| path.strip_prefix("outputs."))
            .ok_or_else(|| fail(format!("unsupported StackReference expression `{expr}`")))?;
        return outputs
            .get(name)
            .cloned()
            .ok_or_else(|| fail(format!("stack reference `{resource}` has no output `{name}`")));
    }
    let digest = Sha256::digest(format!("{project}/{stack}/{expr}").as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let attr = path.rsplit('.').next().unwrap_or(path);
    Ok(Value::String(match attr {
        "arn" => format!("arn:aws:double:us-east-1:000000000000:{project}/{resource}-{short}"),
        "url" => format!("https://{resource}-{short}.double.example/{project}"),
        "port" => "5432".to_string(),
        _ => format!("{project}-{resource}-{attr}-{short}"),
    }))
}

/// A DIY backend: a directory (`file://`) or a bucket prefix (`s3://`).
enum Backend {
    File(PathBuf),
    S3 { client: aws_sdk_s3::Client, bucket: String, prefix: String },
}

impl Backend {
    async fn open(url: &str) -> Result<Backend, Fail> {
        if let Some(path) = url.strip_prefix("file://") {
            // As the real DIY backend: it never creates its root directory.
            if !Path::new(path).is_dir() {
                return Err(fail(format!("unable to open bucket {url}: stat {path}: no such file or directory")));
            }
            return Ok(Backend::File(PathBuf::from(path)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(fail(format!("the double supports file:// and s3:// backends, not `{url}`")));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let params: BTreeMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = params.get("region") {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        let sdk = loader.load().await;
        let mut conf = aws_sdk_s3::config::Builder::from(&sdk);
        if let Some(endpoint) = params.get("endpoint") {
            conf = conf.endpoint_url(*endpoint);
        }
        if params.get("s3ForcePathStyle") == Some(&"true") {
            conf = conf.force_path_style(true);
        }
        let prefix = prefix.trim_end_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(Backend::S3 { client: aws_sdk_s3::Client::from_conf(conf.build()), bucket: bucket.to_string(), prefix })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Fail> {
        match self {
            Backend::File(root) => match std::fs::read(root.join(key)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(fail(format!("reading {key}: {e}"))),
            },
            Backend::S3 { client, bucket, prefix } => {
                match client.get_object().bucket(bucket).key(format!("{prefix}{key}")).send().await {
                    Ok(o) => Ok(Some(o.body.collect().await.map_err(|e| fail(e.to_string()))?.into_bytes().to_vec())),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                    Err(e) => Err(fail(format!("reading s3 {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))),
                }
            }
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), Fail> {
        match self {
            Backend::File(root) => {
                let path = root.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| fail(format!("{key}: {e}")))?;
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, body).map_err(|e| fail(format!("{key}: {e}")))?;
                std::fs::rename(&tmp, &path).map_err(|e| fail(format!("{key}: {e}")))
            }
            Backend::S3 { client, bucket, prefix } => client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .body(body.into())
                .send()
                .await
                .map(drop)
                .map_err(|e| fail(format!("writing s3 {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Fail> {
        match self {
            Backend::File(root) => match std::fs::remove_file(root.join(key)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(fail(format!("{key}: {e}"))),
            },
            Backend::S3 { client, bucket, prefix } => client
                .delete_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .send()
                .await
                .map(drop)
                .map_err(|e| fail(format!("deleting s3 {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, Fail> {
        match self {
            Backend::File(root) => Ok(std::fs::read_dir(root.join(dir))
                .map(|rd| {
                    rd.filter_map(|e| e.ok()).map(|e| format!("{dir}{}", e.file_name().to_string_lossy())).collect()
                })
                .unwrap_or_default()),
            Backend::S3 { client, bucket, prefix } => {
                let out =
                    client.list_objects_v2().bucket(bucket).prefix(format!("{prefix}{dir}")).send().await.map_err(
                        |e| fail(format!("listing s3 {dir}: {}", aws_sdk_s3::error::DisplayErrorContext(e))),
                    )?;
                Ok(out.contents().iter().filter_map(|o| o.key()).map(|k| k[prefix.len()..].to_string()).collect())
            }
        }
    }
}

/// `PULUMI_DOUBLE_HANG`: never finishes, until SIGINT (handled by the
/// caller) or until the process that started it dies. Then it exits at once
/// and leaves its update lock behind, as a Pulumi whose parent was killed
/// mid-update does (its next write to the closed pipe kills it).
async fn hang_until_orphaned() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // SAFETY: as above.
        if unsafe { libc::getppid() } != parent {
            std::process::exit(255);
        }
    }
}
