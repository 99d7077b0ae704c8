//! The `kolokasi` binary: a thin shim over [`kolokasi::cli`].

fn main() -> std::process::ExitCode {
    kolokasi::cli::main()
}
