//! The `panka` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;
use panka::exit::{status_of, ExitStatus, Failure};

fn main() {
    let cli = panka::cli::Cli::parse();
    let status = match panka::cli::run(cli) {
        Ok(status) => status,
        Err(err) => {
            let printed = err.chain().any(|e| e.downcast_ref::<Failure>().is_some_and(|f| f.printed));
            if !printed {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("error: {err}");
                    for cause in err.chain().skip(1) {
                        eprintln!("  caused by: {cause}");
                    }
                }
            }
            status_of(&err)
        }
    };
    std::process::exit(match status {
        ExitStatus::Ok => 0,
        s => s.code(),
    });
}
