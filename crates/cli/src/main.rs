//! The `barter` binary: parse the command line, run it, map failure to a non-zero exit status.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime
        .block_on(cli::run(cli))
        .and_then(|code| Ok(cli::flush_output().map(|()| code)?));
    // Dropping the runtime would wait for every blocking task, however long; `barter serve`
    // has already given its work a bounded time to stop, so the process exits now.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(error) => cli::exit_on_error(&error),
    }
}
