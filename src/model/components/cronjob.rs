//! `kind: CronJob` — a container task run on a schedule by EventBridge Scheduler.

use super::container::container_spec;

container_spec! {
    CronJobSpec {
        /// `cron(min hour day-of-month month day-of-week year)` or `rate(5 minutes)`.
        pub schedule: String,
        /// IANA time zone of the cron expression.
        #[serde(default = "default_timezone")]
        pub timezone: String,
        /// Retries of a failed invocation by the scheduler (0–185).
        #[serde(default = "default_retries")]
        pub retries: u32,
        /// Pause the schedule without deleting it.
        #[serde(default)]
        pub suspended: bool,
    }
}

fn default_timezone() -> String {
    "UTC".to_string()
}

fn default_retries() -> u32 {
    2
}
