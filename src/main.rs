//! Entry point: parses the command line and hands over to `scimd::cli`.
#![forbid(unsafe_code)]

use clap::Parser;

// glibc's malloc spent ~15% of a GET's CPU (arena locks, consolidation) on the many small
// short-lived allocations of a request; mimalloc's per-thread free lists make them cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = scimd::cli::Cli::parse();
    match scimd::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
