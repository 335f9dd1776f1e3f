//! The command line: the only module that knows clap. It parses, turns the
//! arguments into the option structs of `commands`, and maps the outcome
//! to an exit code and an `error:` line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{self, Out};

#[derive(Parser)]
#[command(
    name = "pinctl",
    version,
    about = "Run the whole life of an HTTP Public Key Pinning (RFC 7469) deployment",
    after_help = "Examples:\n  pinctl pin cert.pem\n  pinctl lint 'Public-Key-Pins: pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=600'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum PinFormat {
    Text,
    Json,
    Header,
    Tlsa,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Print the pin of every key, CSR, public key or certificate in the inputs.
    #[command(
        after_help = "Examples:\n  pinctl pin fullchain.pem\n  openssl s_client -connect example.com:443 -showcerts </dev/null | pinctl pin -\n  pinctl pin --format header primary.csr backup1.csr"
    )]
    Pin {
        /// Files to read (PEM with any number of blocks, or DER); `-` is standard input.
        #[arg(required = true, value_hint = clap::ValueHint::FilePath)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PinFormat,
    },
    /// Parse and validate a Public-Key-Pins header line.
    #[command(
        after_help = "Exit status: 0 valid (warnings allowed), 1 invalid.\n\nExamples:\n  pinctl lint 'pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=600'\n  pinctl lint --chain served-chain.pem --host example.com \"$(curl -sI https://example.com | grep -i ^public-key-pins)\""
    )]
    Lint {
        /// The header value, with or without the `Public-Key-Pins:` name.
        header: String,
        /// The chain the server serves (PEM): a pin must match it and a backup must not.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        chain: Option<PathBuf>,
        /// The pinned host name, to spot a report-uri that cannot receive reports.
        #[arg(long)]
        host: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// Parses `args`, runs the command, prints errors, returns the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return code;
        }
    };
    let mut out = Out::stdout();
    let result = match cli.command {
        Command::Pin { files, format } => commands::pin(
            &files,
            match format {
                PinFormat::Text => commands::PinFormat::Text,
                PinFormat::Json => commands::PinFormat::Json,
                PinFormat::Header => commands::PinFormat::Header,
                PinFormat::Tlsa => commands::PinFormat::Tlsa,
            },
            &mut out,
        ),
        Command::Lint {
            header,
            chain,
            host,
            format,
        } => commands::lint(
            &header,
            chain.as_deref(),
            host.as_deref(),
            format == Format::Json,
            &mut out,
        ),
    };
    match result {
        Ok(code) => {
            print!("{}", out.buf);
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            1
        }
    }
}
