//! terraform-provider-scimd: Terraform's plugin protocol v6 on stdout's handshake; logs on stderr.
#![forbid(unsafe_code)]

mod api;
mod checks;
mod data;
#[cfg(test)]
mod docs;
mod provider;
mod resource;
mod resources;
mod spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The plugin framework appends a backtrace to every diagnostic when backtraces are on
    // (RUST_BACKTRACE is often set); a user needs the API's message, not our stack.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    tf_provider::serve("scimd", provider::ScimdProvider::default()).await
}
