//! The `jwt-authz` binary: parse the command line, run it, map errors to exit codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = jwt_authz::cli::Cli::parse();
    match jwt_authz::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Each error's message already includes its cause: print it once.
            eprintln!("error: {}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
