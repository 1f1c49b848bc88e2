//! `panka logs` (issue 13): a component's CloudWatch Logs, every stream of
//! its group interleaved by time, each line naming its stream; `--follow`
//! polls for new events until Ctrl-C.
//!
//! Invariant: an event is printed at most once while following. CloudWatch
//! may deliver an event after later ones (ingestion is not ordered across
//! streams), so each poll looks back [`LOOKBACK`] before the newest event
//! seen and skips the event ids it already printed.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::aws::{explain, AwsError, Resource};

/// One log event, as `panka logs` prints it (`--output json`: one per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    pub timestamp: DateTime<Utc>,
    pub group: String,
    pub stream: String,
    pub message: String,
    /// CloudWatch's id of the event (dedupes the polls of `--follow`).
    pub id: String,
}

impl std::fmt::Display for LogEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] {}",
            self.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.stream,
            self.message.trim_end_matches(['\n', '\r'])
        )
    }
}

/// What to read: a group, from a time, through an optional filter pattern.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub group: String,
    /// CloudWatch's filter pattern syntax (`ERROR`, `"timed out"`, `{ $.level = "error" }`).
    pub filter: Option<String>,
}

/// How far back each poll of `--follow` looks before the newest event seen.
pub const LOOKBACK: Duration = Duration::from_secs(30);

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Every event of `q.group` from `since` on, oldest first (ties: by stream).
pub async fn read(client: &Client, q: &LogQuery, since: DateTime<Utc>) -> Result<Vec<LogEvent>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = client
            .filter_log_events()
            .log_group_name(&q.group)
            .start_time(millis(since))
            .set_filter_pattern(q.filter.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| missing_group(explain(&e, "FilterLogEvents", Resource::Named("log group", &q.group)), q))?;
        for e in resp.events() {
            let Some(ts) = e.timestamp().and_then(|ms| Utc.timestamp_millis_opt(ms).single()) else { continue };
            out.push(LogEvent {
                timestamp: ts,
                group: q.group.clone(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
            });
        }
        match resp.next_token() {
            // A repeated token would loop forever (seen with emulators).
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| (a.timestamp, &a.stream, &a.id).cmp(&(b.timestamp, &b.stream, &b.id)));
    Ok(out)
}

fn missing_group(mut e: AwsError, q: &LogQuery) -> AwsError {
    if e.code.as_deref() == Some("ResourceNotFoundException") {
        e.message = format!("the log group `{}` does not exist", q.group);
        e.hint = Some("the component is not deployed in this environment, or has not started yet".into());
    }
    e
}

/// The events of a poll not printed before; remembers them.
#[derive(Debug, Default)]
pub struct Follower {
    /// Ids printed, with their times, within [`LOOKBACK`] of the newest.
    seen: HashMap<String, DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
}

impl Follower {
    /// Where the next poll starts.
    pub fn next_start(&self, since: DateTime<Utc>) -> DateTime<Utc> {
        match self.newest {
            Some(n) => (n - chrono::Duration::from_std(LOOKBACK).expect("small")).max(since),
            None => since,
        }
    }

    pub fn fresh(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let fresh: Vec<LogEvent> = events.into_iter().filter(|e| !self.seen.contains_key(&e.id)).collect();
        for e in &fresh {
            self.seen.insert(e.id.clone(), e.timestamp);
            self.newest = self.newest.max(Some(e.timestamp));
        }
        if let Some(n) = self.newest {
            let horizon = n - chrono::Duration::from_std(LOOKBACK * 2).expect("small");
            self.seen.retain(|_, t| *t >= horizon);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, secs: i64) -> LogEvent {
        LogEvent {
            timestamp: Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap(),
            group: "g".into(),
            stream: "s".into(),
            message: id.into(),
            id: id.into(),
        }
    }

    #[test]
    fn a_follower_prints_each_event_once_and_accepts_late_ones() {
        let mut f = Follower::default();
        let since = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        assert_eq!(f.fresh(vec![ev("a", 1), ev("b", 40)]).len(), 2);
        // The next poll looks back 30 s before the newest (40 s): from 10 s.
        assert_eq!(f.next_start(since), Utc.timestamp_opt(1_700_000_010, 0).unwrap());
        // `b` again, and `late`, written at 20 s but delivered now.
        let again = f.fresh(vec![ev("late", 20), ev("b", 40), ev("c", 41)]);
        assert_eq!(again.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["late", "c"]);
        // Ids far behind the newest are forgotten; the window never reaches them.
        f.fresh(vec![ev("d", 500)]);
        assert!(!f.seen.contains_key("a"));
        assert!(f.next_start(since) > ev("a", 1).timestamp);
    }

    #[test]
    fn an_event_prints_with_its_time_and_stream() {
        let mut e = ev("x", 0);
        e.message = "hello\n".into();
        e.stream = "api/api/0123".into();
        assert_eq!(e.to_string(), "2023-11-14T22:13:20.000Z [api/api/0123] hello");
    }
}
