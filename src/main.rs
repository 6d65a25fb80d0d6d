//! Entry point: parses the command line and hands over to `scimd::cli`.
#![deny(unsafe_code)]

use clap::Parser;

// glibc's malloc spent ~15% of a GET's CPU (arena locks, consolidation) on the many small
// short-lived allocations of a request; mimalloc's per-thread free lists make them cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option number for `purge_delay`: 15 in both its v2 and v3 headers; the Rust
/// bindings leave the constant out.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS at once instead of after a delay: with the delay, a burst
/// of password creates then cursor pages left the server's RSS ~20 MiB higher (measured on
/// mimalloc v3, whose delay is 1 s; v2's is 10 ms), with no throughput difference we could
/// tell from this machine's noise.
fn return_freed_memory_at_once() {
    // SAFETY: setting an option is a plain store into mimalloc's option table, which it
    // allows at any time from any thread; the value is within the option's range.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0)
    };
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    return_freed_memory_at_once();
    let cli = scimd::cli::Cli::parse();
    match scimd::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
