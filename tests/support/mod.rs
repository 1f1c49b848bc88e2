//! Helpers shared by the tests: run the real `panka` binary; a real moto
//! server (`moto.rs`) and SDK interceptors that inject faults into real
//! requests (`faults.rs`).
#![allow(dead_code)]

/// A real moto server and fault-injecting SDK interceptors (AWS tests).
pub mod faults;
/// The lock scope, request and lease the lock tests share.
pub mod locks;
pub mod moto;
/// A fault-injecting HTTP proxy in front of moto (black holes, lost responses …).
pub mod proxy;
/// The real pulumi CLI, its YAML host and the stand-in AWS provider.
pub mod pulumi;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// A `panka` command with a clean environment: no user config, no colors.
pub fn panka() -> Command {
    let mut cmd = Command::cargo_bin("panka").expect("the panka binary is built");
    for (k, _) in std::env::vars() {
        if k.starts_with("PANKA_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", std::env::temp_dir().join("panka-test-home-does-not-exist"));
    cmd.env("NO_COLOR", "1");
    cmd
}

pub fn run(args: &[&str], dir: Option<&Path>) -> Output {
    let mut cmd = panka();
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.args(args).output().expect("panka runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Compare `actual` with the snapshot file; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn assert_snapshot(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(actual, expected, "snapshot {} differs (UPDATE_SNAPSHOTS=1 to accept)", path.display());
}

/// Copies a directory tree (an example stack into a test's temp dir).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The child's exit and output, or a panic (after killing it) past `secs`.
pub fn wait_exit(mut child: std::process::Child, secs: u64) -> (std::process::ExitStatus, Output) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, child.wait_with_output().unwrap());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("panka did not stop within {secs}s\n{}", stderr(&out));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
