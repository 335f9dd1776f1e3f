//! The `pinctl` binary: hands the command line to the library and exits
//! with the code it returns.

fn main() {
    std::process::exit(pinctl::run(std::env::args_os()));
}
