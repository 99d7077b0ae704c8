//! The `kolokasi` binary: a thin shim over [`kolokasi::cli`].

fn main() -> std::process::ExitCode {
    // Die quietly on a closed pipe (`kolokasi request list | head`), as command-line tools do.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    kolokasi::cli::main()
}
