//! `kind: RDS` — a relational database whose master password RDS manages in
//! Secrets Manager (panka never sees it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsSpec {
    pub engine: RdsEngine,
    #[serde(default)]
    pub instance: RdsInstance,
    pub database: RdsDatabase,
    #[serde(default)]
    pub availability: RdsAvailability,
    #[serde(default)]
    pub encryption: RdsEncryption,
    #[serde(default)]
    pub backup: RdsBackup,
    /// `ddd:hh24:mi-ddd:hh24:mi` in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<String>,
    /// Defaults to true in protected (production) environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    #[serde(default = "default_true")]
    pub performance_insights: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsEngine {
    #[serde(rename = "type")]
    pub kind: RdsEngineType,
    /// `16.4`, `8.0.39` …
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdsEngineType {
    Postgres,
    Mysql,
    Mariadb,
}

impl RdsEngineType {
    pub fn as_str(self) -> &'static str {
        match self {
            RdsEngineType::Postgres => "postgres",
            RdsEngineType::Mysql => "mysql",
            RdsEngineType::Mariadb => "mariadb",
        }
    }

    pub fn default_port(self) -> u32 {
        match self {
            RdsEngineType::Postgres => 5432,
            RdsEngineType::Mysql | RdsEngineType::Mariadb => 3306,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsInstance {
    #[serde(default = "default_class")]
    pub class: String,
    #[serde(default)]
    pub storage: RdsStorage,
}

impl Default for RdsInstance {
    fn default() -> Self {
        RdsInstance { class: default_class(), storage: RdsStorage::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsStorage {
    #[serde(default = "default_storage", rename = "allocatedGB")]
    pub allocated_gb: u32,
    /// Storage autoscaling ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "maxAllocatedGB")]
    pub max_allocated_gb: Option<u32>,
    #[serde(default = "default_storage_type", rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
}

impl Default for RdsStorage {
    fn default() -> Self {
        RdsStorage { allocated_gb: default_storage(), max_allocated_gb: None, kind: default_storage_type(), iops: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsDatabase {
    pub name: String,
    #[serde(default = "default_username")]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsAvailability {
    #[serde(default, rename = "multiAZ")]
    pub multi_az: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsEncryption {
    #[serde(default = "default_true")]
    pub at_rest: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for RdsEncryption {
    fn default() -> Self {
        RdsEncryption { at_rest: true, kms_key_id: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsBackup {
    #[serde(default)]
    pub automated: AutomatedBackup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutomatedBackup {
    /// 0–35; 0 disables automated backups.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// `hh24:mi-hh24:mi` in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

impl Default for AutomatedBackup {
    fn default() -> Self {
        AutomatedBackup { retention_days: default_retention(), window: None }
    }
}

fn default_class() -> String {
    "db.t4g.micro".to_string()
}
fn default_storage() -> u32 {
    20
}
fn default_storage_type() -> String {
    "gp3".to_string()
}
fn default_username() -> String {
    "app".to_string()
}
fn default_retention() -> u32 {
    7
}
fn default_true() -> bool {
    true
}
