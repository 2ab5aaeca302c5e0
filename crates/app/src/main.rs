//! The `barter` binary: parse the command line, run it, map failure to a non-zero exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = barter_app::cli::Cli::parse();
    barter_app::cli::init_logging(cli.verbose);
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
        .block_on(barter_app::cli::run(cli))
        .and_then(|code| Ok(barter_app::cli::flush_output().map(|()| code)?));
    // Dropping the runtime would wait for every blocking task, however long; `barter serve`
    // has already given its work a bounded time to stop, so the process exits now.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(error) => barter_app::cli::exit_on_error(&error),
    }
}
