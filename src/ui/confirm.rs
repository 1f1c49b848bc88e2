//! The `yes` confirmation before a run changes anything.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;

use super::Printer;
use crate::exit::{ExitStatus, Failure};
use crate::pulumi::runner::Interrupt;

/// Asks for `yes` on a terminal; refuses without one (exit 2). Ctrl-C at
/// the prompt changes nothing and exits 130 (the caller releases the lock).
pub async fn confirm(printer: &Printer, question: &str, auto_approve: bool, interrupt: &Interrupt) -> Result<()> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            ExitStatus::Invalid,
            format!("{question}, and there is no terminal to confirm on\nhint: pass `--auto-approve` to run without confirmation"),
        )
        .into());
    }
    {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{question}. Type `yes` to continue: ");
        let _ = stderr.flush();
    }
    // A plain thread, not the runtime's blocking pool: a read still blocked
    // after Ctrl-C must not keep the process from exiting.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer).map(|_| answer);
        let _ = tx.send(read);
    });
    let mut interrupt = interrupt.clone();
    let interrupted = async {
        while !*interrupt.borrow_and_update() {
            if interrupt.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let answer = tokio::select! {
        answer = rx => answer.map_err(|_| anyhow::anyhow!("the confirmation prompt closed"))??,
        () = interrupted => {
            printer.info("");
            return Err(Failure::new(ExitStatus::Interrupted, "interrupted at the confirmation prompt; nothing was changed").into());
        }
    };
    if answer.trim() != "yes" {
        printer.info("cancelled, nothing was changed");
        return Err(Failure::printed(ExitStatus::Invalid).into());
    }
    Ok(())
}
