//! The pulumi-aws resource schema panka checks its programs against.
//!
//! The schema is a JSON file produced by `scripts/pulumi-aws-schema.mjs` from
//! the published npm package `@pulumi/aws` at [`PULUMI_AWS_VERSION`]: for each
//! resource its type token, input properties (with required markers), output
//! properties and deprecation marker; for each function (invoke) its inputs
//! and result fields; and every nested input type by name.
//!
//! Invariants: lookups accept both the full type token
//! (`aws:s3/bucket:Bucket`) and the short form Pulumi YAML also accepts
//! (`aws:s3:Bucket`); this module only reads the schema, it never fetches
//! anything except through [`ensure_cached`], which runs the script (and so
//! `npm pack`) when the cache file is missing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The pulumi-aws release panka's programs are written and checked for.
pub const PULUMI_AWS_VERSION: &str = "7.48.0";

/// Token of the explicit AWS provider resource.
pub const PROVIDER_TOKEN: &str = "pulumi:providers:aws";

/// Token of a stack reference (built into Pulumi, not part of pulumi-aws).
pub const STACK_REFERENCE_TOKEN: &str = "pulumi:pulumi:StackReference";

/// The JSON kind of a scalar property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarKind {
    String,
    Number,
    Boolean,
}

/// The shape of a property's value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum TypeRef {
    /// A string, number or boolean; `s` is absent for unions of kinds.
    Scalar {
        s: Option<ScalarKind>,
    },
    /// A union of shapes or an opaque type (`string | PolicyDocument`).
    Any,
    /// A nested object type, by name (`ecs.ServiceNetworkConfiguration`).
    Ref {
        #[serde(rename = "ref")]
        name: String,
    },
    Array {
        items: Box<TypeRef>,
    },
    Map {
        values: Box<TypeRef>,
    },
}

/// One input property.
#[derive(Debug, Clone, Deserialize)]
pub struct Property {
    #[serde(rename = "type")]
    pub ty: TypeRef,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub deprecated: Option<String>,
}

/// One output property (or function result field).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OutputProperty {
    #[serde(default)]
    pub deprecated: Option<String>,
}

/// A resource type or a function: its inputs and outputs.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceSchema {
    pub inputs: BTreeMap<String, Property>,
    pub outputs: BTreeMap<String, OutputProperty>,
    #[serde(default)]
    pub deprecated: Option<String>,
}

impl ResourceSchema {
    /// Whether `name` is an output of this resource; every resource also
    /// has `id` and `urn`.
    pub fn has_output(&self, name: &str) -> bool {
        name == "id" || name == "urn" || self.outputs.contains_key(name)
    }
}

#[derive(Debug, Deserialize)]
struct SchemaFile {
    package: String,
    version: String,
    resources: HashMap<String, ResourceSchema>,
    functions: HashMap<String, ResourceSchema>,
    types: HashMap<String, BTreeMap<String, Property>>,
}

/// The loaded schema with short-token indexes.
#[derive(Debug)]
pub struct Schema {
    pub version: String,
    resources: HashMap<String, ResourceSchema>,
    functions: HashMap<String, ResourceSchema>,
    types: HashMap<String, BTreeMap<String, Property>>,
    short_resources: HashMap<String, String>,
    short_functions: HashMap<String, String>,
}

/// `aws:s3/bucket:Bucket` → `aws:s3:Bucket`; `aws:index/getRegion:getRegion`
/// → `aws:index:getRegion` (Pulumi YAML also accepts `aws:getRegion`, handled
/// in [`Schema::canonical`]). Tokens without a `/` map to themselves.
pub fn short_token(token: &str) -> String {
    let mut parts = token.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(pkg), Some(module), Some(name)) => {
            let module = module.split('/').next().unwrap_or(module);
            format!("{pkg}:{module}:{name}")
        }
        _ => token.to_string(),
    }
}

impl Schema {
    /// Parses a schema file written by the extraction script.
    pub fn from_json(text: &str) -> Result<Schema> {
        let file: SchemaFile = serde_json::from_str(text).context("the pulumi-aws schema file is not valid")?;
        if file.package != "@pulumi/aws" {
            bail!("schema file is for `{}`, not `@pulumi/aws`", file.package);
        }
        let short_resources = file.resources.keys().map(|t| (short_token(t), t.clone())).collect();
        let short_functions = file.functions.keys().map(|t| (short_token(t), t.clone())).collect();
        Ok(Schema {
            version: file.version,
            resources: file.resources,
            functions: file.functions,
            types: file.types,
            short_resources,
            short_functions,
        })
    }

    /// Reads and parses a schema file.
    pub fn load(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).with_context(|| format!("could not read `{}`", path.display()))?;
        Schema::from_json(&text).with_context(|| format!("in `{}`", path.display()))
    }

    /// Number of resource types known.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// The full token for a resource token in either form.
    pub fn canonical_resource<'a>(&'a self, token: &'a str) -> Option<&'a str> {
        if self.resources.contains_key(token) {
            return Some(token);
        }
        self.short_resources.get(token).map(String::as_str)
    }

    /// The schema of a resource type, by full or short token.
    pub fn resource(&self, token: &str) -> Option<&ResourceSchema> {
        self.canonical_resource(token).and_then(|t| self.resources.get(t))
    }

    /// The schema of a function, by full token, short token, or `aws:name`
    /// (a function of the `index` module).
    pub fn function(&self, token: &str) -> Option<&ResourceSchema> {
        if let Some(f) = self.functions.get(token) {
            return Some(f);
        }
        if let Some(full) = self.short_functions.get(token) {
            return self.functions.get(full);
        }
        let mut parts = token.split(':');
        if let (Some(pkg), Some(name), None) = (parts.next(), parts.next(), parts.next()) {
            if let Some(full) = self.short_functions.get(&format!("{pkg}:index:{name}")) {
                return self.functions.get(full);
            }
        }
        None
    }

    /// The properties of a nested input type.
    pub fn object_type(&self, name: &str) -> Option<&BTreeMap<String, Property>> {
        self.types.get(name)
    }

    /// Resource tokens (full form) whose short or full token is close to
    /// `token`, for "did you mean" hints.
    pub fn suggest_resource(&self, token: &str) -> Option<String> {
        self.short_resources
            .keys()
            .map(|s| (strsim::jaro_winkler(s, token), s))
            .filter(|(score, _)| *score > 0.9)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| s.clone())
    }
}

/// Where the schema cache for `version` lives under a crate directory.
pub fn cache_path(crate_dir: &Path, version: &str) -> PathBuf {
    crate_dir.join("target").join("pulumi-aws-schema").join(format!("{version}.json"))
}

/// Returns the cached schema file for `version`, running the extraction
/// script (which needs `node` and `npm`) when it is missing.
/// `PANKA_PULUMI_AWS_SCHEMA` names a schema file to use instead.
pub fn ensure_cached(crate_dir: &Path, version: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PANKA_PULUMI_AWS_SCHEMA") {
        return Ok(PathBuf::from(path));
    }
    let path = cache_path(crate_dir, version);
    if path.exists() {
        return Ok(path);
    }
    // Several test processes may get here at once: one builds, the others
    // wait for its file (creating a directory is atomic).
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("could not create `{}`", parent.display()))?;
    }
    let lock = path.with_extension("lock");
    if std::fs::create_dir(&lock).is_err() {
        for _ in 0..900 {
            if path.exists() {
                return Ok(path);
            }
            if !lock.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if path.exists() {
            return Ok(path);
        }
        bail!(
            "`{}` was not written by the process building it\nhint: remove `{}` and retry",
            path.display(),
            lock.display()
        );
    }
    let result = build_schema(crate_dir, version, &path);
    let _ = std::fs::remove_dir(&lock);
    result.map(|()| path)
}

/// Runs the extraction script for `version`, writing `path`.
fn build_schema(crate_dir: &Path, version: &str, path: &Path) -> Result<()> {
    let script = crate_dir.join("scripts").join("pulumi-aws-schema.mjs");
    let status = Command::new("node")
        .arg(&script)
        .arg("--version")
        .arg(version)
        .arg("--out")
        .arg(path)
        .current_dir(crate_dir)
        .status()
        .with_context(|| {
            format!(
                "could not run `node {}`\nhint: install Node.js and npm to build the pulumi-aws schema",
                script.display()
            )
        })?;
    if !status.success() || !path.exists() {
        bail!("`node {}` failed ({status}); the pulumi-aws schema was not written", script.display());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The real pulumi-aws schema, built once per test process.
    pub(crate) fn real_schema() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            let path = ensure_cached(dir, PULUMI_AWS_VERSION).expect("pulumi-aws schema");
            Schema::load(&path).expect("schema loads")
        })
    }

    #[test]
    fn short_tokens() {
        assert_eq!(short_token("aws:s3/bucket:Bucket"), "aws:s3:Bucket");
        assert_eq!(short_token("aws:index/getRegion:getRegion"), "aws:index:getRegion");
        assert_eq!(short_token("pulumi:providers:aws"), "pulumi:providers:aws");
    }

    #[test]
    fn real_schema_knows_the_v7_tokens_panka_uses() {
        let s = real_schema();
        assert_eq!(s.version, PULUMI_AWS_VERSION);
        assert!(s.resource_count() > 1000);
        for token in [
            "aws:s3:Bucket",
            "aws:s3:BucketVersioning",
            "aws:s3:BucketServerSideEncryptionConfiguration",
            "aws:s3:BucketPublicAccessBlock",
            "aws:ecs:TaskDefinition",
            "aws:ecs:Service",
            "aws:lb:TargetGroup",
            "aws:lb:ListenerRule",
            "aws:cloudwatch:LogGroup",
            "aws:iam:Role",
            "aws:iam:RolePolicy",
            "aws:ec2:SecurityGroup",
            "aws:appautoscaling:Target",
            "aws:appautoscaling:Policy",
            "aws:scheduler:Schedule",
            "aws:lambda:Function",
            "aws:lambda:EventSourceMapping",
            "aws:rds:Instance",
            "aws:rds:SubnetGroup",
            "aws:dynamodb:Table",
            "aws:sqs:Queue",
            "aws:sns:Topic",
            "aws:sns:TopicSubscription",
            "aws:elasticache:ReplicationGroup",
            "aws:elasticache:SubnetGroup",
            PROVIDER_TOKEN,
        ] {
            let r = s.resource(token).unwrap_or_else(|| panic!("{token} missing"));
            assert!(r.deprecated.is_none(), "{token} is deprecated");
        }
        assert_eq!(s.canonical_resource("aws:s3:Bucket"), Some("aws:s3/bucket:Bucket"));
        assert!(s.resource("aws:s3:BucketV2").unwrap().deprecated.is_some());
        assert!(s.resource("aws:s3:NoSuchThing").is_none());
    }

    #[test]
    fn real_schema_has_required_markers_and_nested_types() {
        let s = real_schema();
        let td = s.resource("aws:ecs:TaskDefinition").unwrap();
        assert!(td.inputs["family"].required);
        assert!(td.inputs["containerDefinitions"].required);
        assert!(!td.inputs["cpu"].required);
        let svc = s.resource("aws:ecs:Service").unwrap();
        let TypeRef::Ref { name } = &svc.inputs["networkConfiguration"].ty else {
            panic!("networkConfiguration is not an object");
        };
        let net = s.object_type(name).unwrap();
        assert!(net["subnets"].required);
        assert!(svc.has_output("name") && svc.has_output("id"));
        assert!(s.function("aws:getCallerIdentity").is_some());
        assert!(s.function("aws:index/getCallerIdentity:getCallerIdentity").is_some());
    }
}
