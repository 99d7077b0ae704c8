//! Where the time of one connection and of one command goes (TCP connect, key exchange, login;
//! channel open, exit status, EOF, close), as the pool measured it. For the benchmarks and the
//! debug log; nothing decides anything by these figures.

use std::time::Duration;

/// One connection's set-up, phase by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectPhases {
    /// TCP handshake.
    pub tcp: Duration,
    /// Version exchange, key exchange and the host-key check.
    pub key_exchange: Duration,
    /// Public-key or password login.
    pub auth: Duration,
}

/// One command on an open connection. Every instant after `channel_open` is counted from the
/// moment the exec request was sent; `None` when that message never came (a signal, a cut-off
/// session, or the driver had its result before it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandPhases {
    /// Opening the session channel (one round trip).
    pub channel_open: Duration,
    /// The server's `exit-status`.
    pub exit_status: Option<Duration>,
    /// The server's EOF (no more output).
    pub eof: Option<Duration>,
    /// The server's channel close.
    pub close: Option<Duration>,
    /// When the pool had the command's result (status and all output) in hand.
    pub result: Duration,
}
