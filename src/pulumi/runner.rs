//! The one place panka starts `pulumi` (SPEC §10): every call goes through
//! [`Runner::run`], an async child process with the backend URL and the
//! passphrase (or secrets provider) in its environment, stdout and stderr
//! captured per call, and an interrupt channel that forwards Ctrl-C to the
//! child as SIGINT.
//!
//! Invariants:
//! - "could not start" ([`RunError::Start`]) is kept apart from "exited
//!   non-zero" ([`RunError::Exited`]);
//! - stack outputs are read without `--show-secrets`, so a secret output
//!   never reaches panka's memory, logs or state: Pulumi prints it as
//!   `[secret]` and that is what panka records;
//! - nothing here reads or writes panka's state or locks.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::watch;

use crate::state::types::SECRET_PLACEHOLDER;

/// How to tell a running child to stop: flips to `true` once (Ctrl-C).
pub type Interrupt = watch::Receiver<bool>;

/// The oldest `pulumi` panka runs: DIY backends with update locks that
/// `pulumi cancel` clears, `up --json` engine events, the YAML runtime, and
/// the pulumi-aws v7 provider.
pub const MIN_VERSION: (u64, u64, u64) = (3, 100, 0);

/// Reads `v3.140.0` (or `3.140.0-dev.0`, `v3.140.0+dirty`) and refuses a
/// version older than [`MIN_VERSION`].
pub fn check_version(text: &str) -> Result<(u64, u64, u64), RunError> {
    let min = format!("v{}.{}.{}", MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.2);
    let core = text.trim().trim_start_matches('v');
    let core = core.split(['-', '+', ' ']).next().unwrap_or_default();
    let parts: Vec<Option<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    let found = match parts.as_slice() {
        [Some(a), Some(b), Some(c)] => (*a, *b, *c),
        _ => {
            return Err(RunError::Output {
                command: "pulumi version".into(),
                detail: format!("`{}` is not a version", text.trim()),
            })
        }
    };
    if found < MIN_VERSION {
        return Err(RunError::TooOld { found: text.trim().to_string(), min });
    }
    Ok(found)
}

/// How many trailing stderr lines a failure keeps.
const STDERR_TAIL: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the `pulumi` CLI was not found{looked}\nhint: install it with `curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/), or point panka at it with `--pulumi PATH` or PANKA_PULUMI_BINARY")]
    NotFound { looked: String },
    #[error("no Pulumi passphrase is set\nhint: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, or configure a secrets provider with `pulumi.passphrase: awskms://…` in the panka config")]
    NoPassphrase,
    /// `pulumi.passphrase` holds something that is not a source: never echoed.
    #[error("`pulumi.passphrase` in the panka config is not a passphrase source (its value is not shown: it may be a passphrase itself)\nhint: use `passphrase` (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE), `env:NAME`, `file:PATH`, or a secrets provider URL (awskms://, azurekeyvault://, gcpkms://, hashivault://); a passphrase belongs in the environment, never in the config or on a command line")]
    BadSecretsSource,
    #[error("the Pulumi passphrase comes from `{name}` (`pulumi.passphrase: env:{name}`), which is not set")]
    PassphraseVarUnset { name: String },
    #[error("could not start `{command}`: {source}")]
    Start {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` exited with {code}{detail}")]
    Exited {
        command: String,
        /// The exit code, or -1 when killed by a signal.
        code: i32,
        /// `: <last error line>` or empty.
        detail: String,
        /// The last lines of stderr (Pulumi masks secrets in what it prints).
        stderr: String,
    },
    #[error("`{command}` was interrupted")]
    Interrupted { command: String, stderr: String },
    #[error("the Pulumi stack `{stack}` is still locked by {holders}, which panka cannot prove dead\nhint: when that run is really gone (on its machine), clear its lock with `{cancel}` and apply again")]
    Locked { stack: String, holders: String, cancel: String },
    #[error("pulumi {found} is too old: panka needs {min} or newer\nhint: upgrade it (`pulumi self-update`, or see https://www.pulumi.com/docs/install/)")]
    TooOld { found: String, min: String },
    #[error("`{command}` printed output panka could not read: {detail}")]
    Output { command: String, detail: String },
}

impl RunError {
    /// What the user should see of Pulumi's own error output, if any.
    pub fn stderr(&self) -> &str {
        match self {
            RunError::Exited { stderr, .. } | RunError::Interrupted { stderr, .. } => stderr,
            _ => "",
        }
    }
}

/// Where the passphrase comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secrets {
    /// `PULUMI_CONFIG_PASSPHRASE` / `_FILE` from the environment.
    Passphrase,
    /// `file:<path>` in the config: passed as `PULUMI_CONFIG_PASSPHRASE_FILE`.
    PassphraseFile(PathBuf),
    /// `env:<NAME>` in the config: that variable's value is passed to
    /// `pulumi` as `PULUMI_CONFIG_PASSPHRASE` (in its environment only).
    PassphraseVar(String),
    /// A secrets provider URL (`awskms://…`), passed to `stack select --create`.
    Provider(String),
}

impl Secrets {
    /// From the config's `pulumi.passphrase`: `passphrase` (or `env`, the
    /// default: PULUMI_CONFIG_PASSPHRASE / _FILE), `env:NAME`, `file:PATH`,
    /// or a secrets provider URL by its scheme. Anything else is refused
    /// without being echoed: it may be a passphrase written in the config.
    pub fn from_config(source: Option<&str>) -> Result<Secrets, RunError> {
        const PROVIDERS: [&str; 4] = ["awskms://", "azurekeyvault://", "gcpkms://", "hashivault://"];
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        match source.map(str::trim) {
            None | Some("") | Some("env") | Some("passphrase") => {
                if set("PULUMI_CONFIG_PASSPHRASE") || set("PULUMI_CONFIG_PASSPHRASE_FILE") {
                    Ok(Secrets::Passphrase)
                } else {
                    Err(RunError::NoPassphrase)
                }
            }
            Some(s) if s.starts_with("file:") && s.len() > "file:".len() => {
                Ok(Secrets::PassphraseFile(PathBuf::from(&s["file:".len()..])))
            }
            Some(s) if s.starts_with("env:") => {
                let name = &s["env:".len()..];
                let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    return Err(RunError::BadSecretsSource);
                }
                if set(name) {
                    Ok(Secrets::PassphraseVar(name.to_string()))
                } else {
                    Err(RunError::PassphraseVarUnset { name: name.to_string() })
                }
            }
            Some(url) if PROVIDERS.iter().any(|p| url.starts_with(p) && url.len() > p.len()) => {
                Ok(Secrets::Provider(url.to_string()))
            }
            Some(_) => Err(RunError::BadSecretsSource),
        }
    }
}

/// What one successful call printed.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// One engine event of `pulumi up --json`, reduced to what panka shows.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A resource step started: operation and resource type.
    Step { op: String, urn: String, kind: String },
    /// A resource step finished.
    StepDone { op: String, urn: String },
    /// A diagnostic of severity error.
    Error(String),
    /// The run's summary: changed resources by operation.
    Summary(BTreeMap<String, u64>),
    /// The stack's outputs once the program ran (the `pulumi:pulumi:Stack`
    /// resource's outputs; secrets are `[secret]`, see [`parse_outputs`]).
    StackOutputs(BTreeMap<String, Value>),
}

/// The type of the resource that holds a Pulumi stack's outputs.
const STACK_TOKEN: &str = "pulumi:pulumi:Stack";

/// Parses one line of `up --json`; anything unknown is `None`, never an error.
pub fn parse_event(line: &str) -> Option<EngineEvent> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let meta = |e: &Value| {
        let m = &e["metadata"];
        (
            m["op"].as_str().unwrap_or("same").to_string(),
            m["urn"].as_str().unwrap_or_default().to_string(),
            m["type"].as_str().unwrap_or_default().to_string(),
        )
    };
    if let Some(e) = v.get("resourcePreEvent") {
        let (op, urn, kind) = meta(e);
        return Some(EngineEvent::Step { op, urn, kind });
    }
    if let Some(e) = v.get("resOutputsEvent") {
        let (op, urn, kind) = meta(e);
        if kind == STACK_TOKEN {
            // Pulumi reports the stack resource's outputs here (secrets as
            // its masked envelope), the same as `stack output --json`.
            if let Some(Value::Object(outputs)) = e["metadata"]["new"].get("outputs") {
                return Some(EngineEvent::StackOutputs(
                    outputs.iter().map(|(k, v)| (k.clone(), mask(v.clone()))).collect(),
                ));
            }
        }
        return Some(EngineEvent::StepDone { op, urn });
    }
    if let Some(e) = v.get("diagnosticEvent") {
        if e["severity"].as_str() == Some("error") {
            return Some(EngineEvent::Error(e["message"].as_str().unwrap_or_default().trim().to_string()));
        }
        return None;
    }
    if let Some(e) = v.get("summaryEvent") {
        let changes = e["resourceChanges"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect())
            .unwrap_or_default();
        return Some(EngineEvent::Summary(changes));
    }
    None
}

/// A process holding a Pulumi DIY lock, as `pulumi` names it when it
/// refuses to run ("the stack is currently locked by 1 lock(s) …
/// created by user@host (pid 123) at …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulumiLock {
    pub user: String,
    pub host: String,
    pub pid: u32,
}

impl PulumiLock {
    /// Dead for sure without waiting: it names this host and no process has
    /// its pid (SPEC §9). A lock from another machine is never judged dead.
    pub fn provably_dead(&self) -> bool {
        let here = crate::lock::record::user_at_host();
        let host = here.rsplit_once('@').map_or(here.as_str(), |(_, h)| h);
        // SAFETY: kill(2) with signal 0 only checks that the pid exists.
        let alive = i32::try_from(self.pid)
            .is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
        self.host == host && !alive
    }
}

impl std::fmt::Display for PulumiLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} (pid {})", self.user, self.host, self.pid)
    }
}

/// The holders listed in Pulumi's "currently locked" refusal; `None` when
/// `text` is not that refusal.
pub fn locked_by(text: &str) -> Option<Vec<PulumiLock>> {
    if !text.contains("the stack is currently locked") {
        return None;
    }
    let holders = text
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find("created by ")? + "created by ".len()..];
            let (who, rest) = rest.split_once(" (pid ")?;
            let (user, host) = who.rsplit_once('@')?;
            let pid = rest.split(')').next()?.trim().parse().ok()?;
            Some(PulumiLock { user: user.to_string(), host: host.to_string(), pid })
        })
        .collect();
    Some(holders)
}

/// Runs `pulumi` for one panka stack and environment.
#[derive(Debug, Clone)]
pub struct Runner {
    binary: PathBuf,
    env: Vec<(OsString, OsString)>,
    secrets: Secrets,
    /// `up --refresh`: read what is live before diffing (drift remediation).
    refresh: bool,
}

impl Runner {
    /// Finds the binary: `explicit` (`--pulumi`, PANKA_PULUMI_BINARY or the
    /// config), else `pulumi` on PATH.
    pub fn locate(explicit: Option<&str>) -> Result<PathBuf, RunError> {
        let name = explicit.filter(|s| !s.is_empty()).unwrap_or("pulumi");
        which::which(name).map_err(|_| RunError::NotFound {
            looked: if explicit.is_some() { format!(" at `{name}`") } else { " on PATH".to_string() },
        })
    }

    pub fn new(binary: PathBuf, backend_url: &str, secrets: Secrets) -> Runner {
        // Pulumi runs in a temporary directory: a relative `file://` URL
        // (the local backend of `-C .`) must become absolute.
        let backend_url = match backend_url.strip_prefix("file://") {
            Some(path) if !Path::new(path).is_absolute() => {
                let cwd = std::env::current_dir().unwrap_or_default();
                format!("file://{}", cwd.join(path.trim_start_matches("./")).display())
            }
            _ => backend_url.to_string(),
        };
        let backend_url = backend_url.as_str();
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PULUMI_BACKEND_URL".into(), backend_url.into()),
            ("PULUMI_SKIP_UPDATE_CHECK".into(), "true".into()),
            ("PULUMI_DIY_BACKEND_NO_LEGACY_WARNING".into(), "true".into()),
            ("NO_COLOR".into(), "1".into()),
        ];
        match &secrets {
            Secrets::PassphraseFile(path) => env.push(("PULUMI_CONFIG_PASSPHRASE_FILE".into(), path.clone().into())),
            Secrets::PassphraseVar(name) => {
                if let Some(value) = std::env::var_os(name) {
                    env.push(("PULUMI_CONFIG_PASSPHRASE".into(), value));
                }
            }
            Secrets::Passphrase | Secrets::Provider(_) => {}
        }
        Runner { binary, env, secrets, refresh: false }
    }

    /// Every `up` refreshes first, so a resource changed out of band is
    /// diffed against what is live and put back (`drift --remediate`).
    pub fn refreshing(mut self) -> Runner {
        self.refresh = true;
        self
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `pulumi version`.
    pub async fn version(&self, interrupt: &Interrupt) -> Result<String, RunError> {
        let out = self.run(Path::new("."), &["version"], interrupt, |_| {}).await?;
        Ok(out.stdout.trim().to_string())
    }

    /// `pulumi stack select --create --stack <stack>`.
    pub async fn select(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<(), RunError> {
        let mut args = vec!["stack", "select", "--create", "--non-interactive", "--stack", stack];
        if let Secrets::Provider(url) = &self.secrets {
            args.extend(["--secrets-provider", url.as_str()]);
        }
        self.run(dir, &args, interrupt, |_| {}).await.map(drop)
    }

    /// `pulumi up --yes --skip-preview --non-interactive --json`; `on_event`
    /// sees every engine event as it arrives. Returns the stack's outputs
    /// when the engine reported them (it does: the stack resource's outputs
    /// event), which saves a `pulumi stack output` process per component.
    pub async fn up(
        &self,
        dir: &Path,
        stack: &str,
        interrupt: &Interrupt,
        mut on_event: impl FnMut(EngineEvent),
    ) -> Result<Option<BTreeMap<String, Value>>, RunError> {
        let mut args = vec!["up", "--yes", "--skip-preview", "--non-interactive", "--json", "--stack", stack];
        if self.refresh {
            args.push("--refresh");
        }
        let mut errors = Vec::new();
        let mut outputs = None;
        let result = self
            .run(dir, &args, interrupt, |line| {
                if let Some(e) = parse_event(line) {
                    match &e {
                        EngineEvent::Error(m) => errors.push(m.clone()),
                        EngineEvent::StackOutputs(o) => outputs = Some(o.clone()),
                        _ => {}
                    }
                    on_event(e);
                }
            })
            .await;
        match result {
            // Engine errors arrive as events on stdout: show them with stderr.
            Err(RunError::Exited { command, code, detail, stderr }) if !errors.is_empty() => {
                let mut text = errors.join("\n");
                if !stderr.is_empty() {
                    text.push('\n');
                    text.push_str(&stderr);
                }
                let detail = if detail.is_empty() { format!(": {}", first_line(&errors[0])) } else { detail };
                Err(RunError::Exited { command, code, detail, stderr: text })
            }
            other => other.map(|_| outputs),
        }
    }

    /// `pulumi stack output --json`: secret outputs come back as `[secret]`
    /// (see the module invariants).
    pub async fn outputs(
        &self,
        dir: &Path,
        stack: &str,
        interrupt: &Interrupt,
    ) -> Result<BTreeMap<String, Value>, RunError> {
        let args = ["stack", "output", "--json", "--non-interactive", "--stack", stack];
        let out = self.run(dir, &args, interrupt, |_| {}).await?;
        parse_outputs(&out.stdout).map_err(|detail| RunError::Output { command: "pulumi stack output".into(), detail })
    }

    /// `pulumi destroy --yes --skip-preview --non-interactive`.
    pub async fn destroy(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<(), RunError> {
        let args = ["destroy", "--yes", "--skip-preview", "--non-interactive", "--stack", stack];
        self.run(dir, &args, interrupt, |_| {}).await.map(drop)
    }

    /// `pulumi refresh --preview-only --json`: what refreshing would change,
    /// without writing Pulumi's state (drift). Returns the JSON document.
    pub async fn refresh_preview(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<String, RunError> {
        let args = ["refresh", "--preview-only", "--json", "--non-interactive", "--stack", stack];
        self.run(dir, &args, interrupt, |_| {}).await.map(|o| o.stdout)
    }

    /// `pulumi preview --json` of an existing stack (`panka plan
    /// --preview`): the steps an `up` would take. Returns the JSON document.
    pub async fn preview(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<String, RunError> {
        let args = ["preview", "--json", "--non-interactive", "--stack", stack];
        self.run(dir, &args, interrupt, |_| {}).await.map(|o| o.stdout)
    }

    /// `pulumi stack rm --yes`.
    pub async fn stack_rm(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<(), RunError> {
        let args = ["stack", "rm", "--yes", "--non-interactive", "--stack", stack];
        self.run(dir, &args, interrupt, |_| {}).await.map(drop)
    }

    /// The command a person runs to clear a Pulumi lock panka would not
    /// clear itself (the backend URL is not secret: credentials never go in it).
    pub fn cancel_command(&self, project: &str, stack: &str) -> String {
        let url = self
            .env
            .iter()
            .find(|(k, _)| k == "PULUMI_BACKEND_URL")
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("PULUMI_BACKEND_URL='{url}' pulumi cancel --yes --stack organization/{project}/{stack}")
    }

    /// `pulumi cancel --yes`: clears the Pulumi lock a dead run left (call it
    /// only while holding panka's own lock).
    pub async fn cancel(&self, dir: &Path, stack: &str, interrupt: &Interrupt) -> Result<(), RunError> {
        let args = ["cancel", "--yes", "--non-interactive", "--stack", stack];
        self.run(dir, &args, interrupt, |_| {}).await.map(drop)
    }

    /// Runs `pulumi <args>` in `dir`. Each stdout line goes to `on_line` as
    /// it arrives; stderr is kept. When `interrupt` flips, the child gets
    /// SIGINT and is waited for.
    ///
    /// The child writes its stdout and stderr to files, never to pipes: a
    /// panka killed outright (SIGKILL) must not turn Pulumi's next write
    /// into a SIGPIPE that kills the engine mid-operation and leaves its
    /// lock and pending operations behind. Instead the child gets SIGINT as
    /// its parent-death signal, which Pulumi treats as a graceful cancel:
    /// the steps in flight finish, the checkpoint and the lock are written
    /// out, and its plugins are shut down.
    pub async fn run(
        &self,
        dir: &Path,
        args: &[&str],
        interrupt: &Interrupt,
        mut on_line: impl FnMut(&str),
    ) -> Result<Output, RunError> {
        let command = format!("pulumi {}", args.iter().take(3).copied().collect::<Vec<_>>().join(" "));
        let start_error = |source| RunError::Start { command: command.clone(), source };
        let out_file = tempfile::Builder::new().prefix("panka-pulumi-out-").tempfile().map_err(start_error)?;
        let err_file = tempfile::Builder::new().prefix("panka-pulumi-err-").tempfile().map_err(start_error)?;
        let mut out_reader = tokio::fs::File::from_std(out_file.reopen().map_err(start_error)?);
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .current_dir(dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_file.as_file().try_clone().map_err(start_error)?))
            .stderr(Stdio::from(err_file.as_file().try_clone().map_err(start_error)?))
            .kill_on_drop(true);
        // Its own process group: a terminal's Ctrl-C reaches panka only, and
        // panka forwards it, so Pulumi is interrupted exactly once.
        cmd.process_group(0);
        // SAFETY: prctl(2) is async-signal-safe; it only sets this child's
        // parent-death signal. The check of getppid closes the race where
        // panka died between fork and prctl.
        let panka = std::process::id() as libc::pid_t;
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != panka {
                    libc::raise(libc::SIGINT);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(start_error)?;
        let pid = child.id();
        let mut interrupt = interrupt.clone();
        let mut interrupted = *interrupt.borrow();
        if interrupted {
            forward_sigint(pid);
        }
        let mut stdout_text = String::new();
        let mut pending = Vec::new();
        let mut tick = tokio::time::interval(STDOUT_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = tick.tick() => {
                    read_lines(&mut out_reader, &mut pending, &mut stdout_text, &mut on_line, false).await;
                }
                changed = interrupt.changed(), if !interrupted => {
                    if changed.is_err() || *interrupt.borrow() {
                        interrupted = true;
                        forward_sigint(pid);
                    }
                }
            }
        }
        .map_err(start_error)?;
        read_lines(&mut out_reader, &mut pending, &mut stdout_text, &mut on_line, true).await;
        let stderr =
            std::fs::read(err_file.path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if status.success() {
            return Ok(Output { stdout: stdout_text, stderr });
        }
        // Pulumi writes most of its errors (`destroy`, `stack rm`, engine
        // diagnostics without `--json`) to stdout: keep both.
        let mut shown = tail(&stderr, STDERR_TAIL);
        if !args.contains(&"--json") {
            let out_tail = tail(&stdout_text, STDERR_TAIL);
            if !out_tail.trim().is_empty() {
                shown = if shown.trim().is_empty() { out_tail } else { format!("{out_tail}\n{shown}") };
            }
        }
        if interrupted {
            return Err(RunError::Interrupted { command, stderr: shown });
        }
        let detail = shown
            .lines()
            .rev()
            .find(|l| l.contains("error"))
            .map(|l| format!(": {}", l.trim().trim_start_matches("error: ")))
            .unwrap_or_default();
        Err(RunError::Exited { command, code: status.code().unwrap_or(-1), detail, stderr: shown })
    }
}

/// How often a running child's stdout file is read for new lines.
const STDOUT_POLL: Duration = Duration::from_millis(50);

/// Reads what `file` gained since the last call and hands each complete
/// line to `on_line` (with `eof`, the last partial line too).
async fn read_lines(
    file: &mut tokio::fs::File,
    pending: &mut Vec<u8>,
    text: &mut String,
    on_line: &mut impl FnMut(&str),
    eof: bool,
) {
    let _ = file.read_to_end(pending).await;
    let mut start = 0;
    while let Some(i) = pending[start..].iter().position(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(&pending[start..start + i]);
        on_line(&line);
        text.push_str(&line);
        text.push('\n');
        start += i + 1;
    }
    pending.drain(..start);
    if eof && !pending.is_empty() {
        let line = String::from_utf8_lossy(pending).into_owned();
        on_line(&line);
        text.push_str(&line);
        text.push('\n');
        pending.clear();
    }
}

fn forward_sigint(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Parses `stack output --json`; anything that looks like a secret is
/// replaced by [`SECRET_PLACEHOLDER`].
pub fn parse_outputs(stdout: &str) -> Result<BTreeMap<String, Value>, String> {
    if stdout.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let v: Value = serde_json::from_str(stdout).map_err(|e| e.to_string())?;
    let Value::Object(map) = v else {
        return Err("expected a JSON object of outputs".into());
    };
    Ok(map.into_iter().map(|(k, v)| (k, mask(v))).collect())
}

/// Pulumi's secret envelope (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", …}`)
/// anywhere in a value becomes `[secret]`.
fn mask(v: Value) -> Value {
    const SIG: &str = "4dabf18193072939515e22adb298388d";
    match v {
        Value::Object(m) if m.contains_key(SIG) => Value::String(SECRET_PLACEHOLDER.into()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, mask(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(mask).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_are_parsed_tolerantly() {
        assert_eq!(
            parse_event(
                r#"{"sequence":3,"resourcePreEvent":{"metadata":{"op":"create","urn":"u","type":"aws:sqs:Queue"}}}"#
            ),
            Some(EngineEvent::Step { op: "create".into(), urn: "u".into(), kind: "aws:sqs:Queue".into() })
        );
        assert_eq!(
            parse_event(r#"{"diagnosticEvent":{"severity":"error","message":"boom\n"}}"#),
            Some(EngineEvent::Error("boom".into()))
        );
        assert_eq!(parse_event(r#"{"diagnosticEvent":{"severity":"info","message":"x"}}"#), None);
        assert_eq!(parse_event("not json"), None);
        // As pulumi v3.276.0 prints the stack's outputs (a secret masked).
        let Some(EngineEvent::StackOutputs(o)) = parse_event(
            r#"{"resOutputsEvent":{"metadata":{"op":"same","urn":"urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev","type":"pulumi:pulumi:Stack","new":{"outputs":{"n":5432,"sec":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","ciphertext":"[secret]"}}}}}}"#,
        ) else {
            panic!("stack outputs")
        };
        assert_eq!(o["n"], 5432);
        assert_eq!(o["sec"], SECRET_PLACEHOLDER);
        assert_eq!(parse_event(r#"{"somethingNew":{}}"#), None);
        let Some(EngineEvent::Summary(s)) = parse_event(r#"{"summaryEvent":{"resourceChanges":{"create":4}}}"#) else {
            panic!("summary")
        };
        assert_eq!(s["create"], 4);
    }

    #[test]
    fn pulumis_lock_refusal_names_its_holders() {
        // As pulumi v3.276.0 prints it (checked against the real CLI).
        let text = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///b/.pulumi/locks/organization/p/dev/abc.json?no_tmp_dir=true: created by root@vm-1 (pid 999999) at 2026-12-03T09:00:00Z\n";
        let holders = locked_by(text).unwrap();
        assert_eq!(holders, [PulumiLock { user: "root".into(), host: "vm-1".into(), pid: 999999 }]);
        assert_eq!(locked_by("error: something else"), None);
        let me = PulumiLock { user: "u".into(), host: "elsewhere.example".into(), pid: 1 };
        assert!(!me.provably_dead(), "another host's lock is never judged dead");
        let here = crate::lock::record::user_at_host();
        let host = here.rsplit_once('@').unwrap().1.to_string();
        let alive = PulumiLock { user: "u".into(), host: host.clone(), pid: std::process::id() };
        assert!(!alive.provably_dead());
        let dead = PulumiLock { user: "u".into(), host, pid: 4_000_000 };
        assert!(dead.provably_dead());
    }

    #[test]
    fn versions_older_than_the_minimum_are_refused() {
        assert_eq!(check_version("v3.140.0\n").unwrap(), (3, 140, 0));
        assert_eq!(check_version("3.205.1-dev.0").unwrap(), (3, 205, 1));
        assert_eq!(check_version("v3.205.0-pulumi-double").unwrap(), (3, 205, 0));
        assert_eq!(check_version("v4.0.0+dirty").unwrap(), (4, 0, 0));
        let old = check_version("v3.99.9").unwrap_err().to_string();
        assert!(old.contains("v3.99.9 is too old") && old.contains("v3.100.0"), "{old}");
        assert!(matches!(check_version("v2.25.2"), Err(RunError::TooOld { .. })));
        assert!(matches!(check_version("warning: something"), Err(RunError::Output { .. })));
    }

    #[test]
    fn secret_outputs_are_masked() {
        let out = parse_outputs(
            r#"{"url":"https://x","pw":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"hunter2\""},"n":[{"4dabf18193072939515e22adb298388d":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(out["url"], "https://x");
        assert_eq!(out["pw"], SECRET_PLACEHOLDER);
        assert_eq!(out["n"][0], SECRET_PLACEHOLDER);
        assert!(!serde_json::to_string(&out).unwrap().contains("hunter2"));
        assert!(parse_outputs("[1]").is_err());
        assert!(parse_outputs("").unwrap().is_empty());
    }

    #[test]
    fn a_missing_passphrase_is_refused_unless_a_source_is_configured() {
        assert_eq!(Secrets::from_config(Some("file:/p")).unwrap(), Secrets::PassphraseFile("/p".into()));
        assert_eq!(
            Secrets::from_config(Some("awskms://alias/x")).unwrap(),
            Secrets::Provider("awskms://alias/x".into())
        );
        assert_eq!(Secrets::from_config(Some("env:PATH")).unwrap(), Secrets::PassphraseVar("PATH".into()));
        assert!(matches!(
            Secrets::from_config(Some("env:PANKA_SURELY_UNSET_VAR")),
            Err(RunError::PassphraseVarUnset { .. })
        ));
    }

    #[test]
    fn a_bare_value_is_refused_without_being_echoed() {
        for bare in ["correct horse battery staple", "s3cr3t", "file:", "awskms://", "env:A B", "https://vault"] {
            let err = Secrets::from_config(Some(bare)).unwrap_err();
            assert!(matches!(err, RunError::BadSecretsSource), "{bare}: {err:?}");
            let text = err.to_string();
            let value_like = !bare.ends_with("://") && bare.len() >= 6;
            assert!(!value_like || !text.contains(bare), "{bare} echoed: {text}");
        }
    }

    #[tokio::test]
    async fn could_not_start_is_not_exited_non_zero() {
        let (_tx, rx) = watch::channel(false);
        let r = Runner::new("/nonexistent/pulumi".into(), "file:///tmp/x", Secrets::Passphrase);
        assert!(matches!(r.version(&rx).await, Err(RunError::Start { .. })));
        let r = Runner::new("false".into(), "file:///tmp/x", Secrets::Passphrase);
        let err = r.version(&rx).await.unwrap_err();
        assert!(matches!(err, RunError::Exited { code: 1, .. }), "{err:?}");
        assert!(matches!(Runner::locate(Some("/nonexistent/pulumi")), Err(RunError::NotFound { .. })));
    }
}
