//! SSH transport: a pool holding at most one authenticated russh connection per device,
//! reused by every command and every run, with each command on its own channel.
//!
//! - [`target`]: how to reach a device (`SshTarget`, `SshAuth`, the pinned `HostKey`).
//! - [`connection`]: one connection: connect with `nodelay`, check the pinned key, log in, run.
//! - [`command`]: `RemoteCommand` and `shell_quote`, the only way text reaches a remote shell.
//! - [`request_tag`]: `RequestTag`, the request id every driver stamps on what it changes.
//! - [`error`]: `SshError` and which faults are worth retrying.
//! - [`shell`]: the persistent `sh` per connection that commands run in (framing by random end
//!   markers), so a command costs one round trip, not a session process and a login shell.
//! - [`phases`]: where a connection's and a command's time went (for the benchmarks).
//!
//! A command runs in the connection's persistent shell when there is one (most devices); a
//! device whose login shell does not take commands from its input (a vendor CLI, a broken
//! account), binary stdin, or `SshSettings::persistent_shell = false` get an exec channel per
//! command, ended by the server's channel close (exit-status and EOF come in the same burst
//! from OpenSSH, so waiting for the close costs nothing measurable).
//!
//! Commands to one device are serialised (a tokio mutex per device, held across connect and
//! command), so a device never sees two kolokasi commands at once. A cached connection found
//! dead is dropped and opened again, once, before anything is sent on it.
//!
//! Every command is capped in time (`command_timeout`) and in output (`max_output_bytes`,
//! stdout and stderr together, default 1 MiB): a device that hangs or streams endlessly gets
//! `CommandTimeout` or `OutputTooLarge` and its channel closed (after a flood the connection is
//! dropped as well) — never a hang, never unbounded memory.
//! Owns the connections; must not interpret command output (drivers do).

mod command;
pub(crate) mod connection;
mod error;
mod phases;
mod shell;
mod request_tag;
mod target;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use command::{CommandOutput, RemoteCommand, shell_quote};
pub use error::SshError;
pub use phases::{CommandPhases, ConnectPhases};
pub use request_tag::{RequestTag, RequestTagError};
pub use target::{HostKey, SshAuth, SshTarget};

use connection::{Connection, ShellError};

/// Time limits of the pool.
#[derive(Debug, Clone, Copy)]
pub struct SshSettings {
    /// TCP connect, key exchange and login together.
    pub connect_timeout: Duration,
    /// One command, from opening its channel to the channel's close.
    pub command_timeout: Duration,
    /// Stdout and stderr of one command together, in bytes.
    pub max_output_bytes: usize,
    /// Run commands in one persistent `sh` per connection ([`shell`]) instead of an exec
    /// channel each: on a stock sshd that saves a session process, PAM and a login shell per
    /// command. Devices whose login shell does not run it get exec channels anyway.
    pub persistent_shell: bool,
}

impl SshSettings {
    /// The default output cap: 1 MiB.
    pub const MAX_OUTPUT_BYTES: usize = 1 << 20;
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            max_output_bytes: Self::MAX_OUTPUT_BYTES,
            persistent_shell: true,
        }
    }
}

/// The caps of one command: how long it may take and how much it may print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecLimits {
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

/// How long closing a timed-out command's channel may take before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A device's slot: its lock and its cached connection.
type Slot = Arc<tokio::sync::Mutex<Option<Connection>>>;

/// The session pool, shared by all drivers and runs of a process.
#[derive(Default)]
pub struct SshPool {
    settings: SshSettings,
    slots: Mutex<HashMap<String, Slot>>,
    /// Connections opened since the pool was made (for tests and benchmarks).
    opened: AtomicUsize,
}

impl SshPool {
    pub fn new(settings: SshSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    pub fn settings(&self) -> SshSettings {
        self.settings
    }

    /// Runs `command` on the device with the pool's command timeout.
    pub async fn exec(&self, target: &SshTarget, command: &RemoteCommand) -> Result<CommandOutput, SshError> {
        self.exec_with(target, command, None, self.settings.command_timeout).await
    }

    /// Runs `command` and fails unless it exits with status 0.
    pub async fn exec_ok(&self, target: &SshTarget, command: &RemoteCommand, stdin: Option<&[u8]>) -> Result<CommandOutput, SshError> {
        let out = self.exec_with(target, command, stdin, self.settings.command_timeout).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(SshError::CommandFailed {
                device: target.name.clone(),
                program: command.program().to_string(),
                status: out.status_text(),
                stderr: out.stderr.trim().to_string(),
            })
        }
    }

    /// Runs `command`, feeding it `stdin`, within `timeout` and the pool's output cap.
    pub async fn exec_with(
        &self,
        target: &SshTarget,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        let limits = ExecLimits { timeout, max_output_bytes: self.settings.max_output_bytes };
        self.exec_limited(target, command, stdin, limits).await
    }

    /// Runs `command`, feeding it `stdin`, within `limits`. A command that runs out of time or
    /// prints past the cap fails and its channel is closed; after a flood the connection is
    /// dropped too (data already in flight on it must not reach the next command), after a
    /// timeout it is kept.
    pub async fn exec_limited(
        &self,
        target: &SshTarget,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limits: ExecLimits,
    ) -> Result<CommandOutput, SshError> {
        Ok(self.exec_phased(target, command, stdin, limits).await?.0)
    }

    /// [`Self::exec_limited`], also saying where the command's time went.
    pub async fn exec_phased(
        &self,
        target: &SshTarget,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limits: ExecLimits,
    ) -> Result<(CommandOutput, CommandPhases), SshError> {
        let timeout = limits.timeout;
        let mut phases = CommandPhases::default();
        let slot = self.slot(&target.name);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.is_closed() || c.target != *target) {
            *cached = None;
        }
        let reused = cached.is_some();
        let conn = match cached.take() {
            Some(c) => c,
            None => self.connect(target).await?,
        };
        *cached = Some(conn);
        if self.settings.persistent_shell
            && let Some(out) = self.in_shell(&mut cached, target, command, stdin, limits, &mut phases, reused).await?
        {
            return Ok((out, phases));
        }
        let conn = cached.as_mut().expect("connected above");
        let opening = std::time::Instant::now();
        let channel = match conn.open_channel().await {
            Ok(ch) => ch,
            // The device restarted or dropped us while idle: nothing ran, so reconnect once.
            Err(_) if reused => {
                *cached = None;
                let conn = cached.insert(self.connect(target).await?);
                conn.open_channel().await?
            }
            Err(e) => {
                *cached = None;
                return Err(e);
            }
        };
        phases.channel_open = opening.elapsed();
        let conn = cached.as_ref().expect("connected above");
        // `run` keeps the time cap itself (and closes the channel); this outer one only guards
        // against a session that stops answering even the close.
        match tokio::time::timeout(timeout + CLOSE_GRACE, conn.run(channel, command, stdin, limits, &mut phases)).await {
            Ok(Ok(out)) => Ok((out, phases)),
            // The channel was closed in time: the connection is still good for the next command.
            Ok(Err(e @ SshError::CommandTimeout { .. })) => Err(e),
            Ok(Err(e)) => {
                // A flood, or a session error mid-command: the connection is in an unknown state.
                *cached = None;
                Err(e)
            }
            Err(_) => {
                *cached = None;
                Err(SshError::CommandTimeout { device: target.name.clone(), program: command.program().to_string(), after: timeout })
            }
        }
    }

    /// The command in the connection's shell (`Ok(None)`: no shell there, use an exec channel).
    /// A shell that could not be started or had ended while idle ran nothing: on a reused
    /// connection that may be a connection the device dropped, so reconnect once and try again.
    #[allow(clippy::too_many_arguments)]
    async fn in_shell(
        &self,
        cached: &mut Option<Connection>,
        target: &SshTarget,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limits: ExecLimits,
        phases: &mut CommandPhases,
        reused: bool,
    ) -> Result<Option<CommandOutput>, SshError> {
        for attempt in 0..2 {
            let conn = cached.as_mut().expect("connected");
            let run = tokio::time::timeout(limits.timeout + CLOSE_GRACE, conn.run_in_shell(command, stdin, limits, phases)).await;
            match run {
                Ok(Ok(out)) => return Ok(out),
                // Only the shell had ended: a new one on the same connection.
                Ok(Err(ShellError::NothingRan(SshError::ShellEnded { .. }))) if attempt == 0 => {}
                Ok(Err(ShellError::NothingRan(_))) if attempt == 0 && reused => *cached = Some(self.connect(target).await?),
                // The shell was closed in time, or it alone ended: the connection is still good
                // for the next command.
                Ok(Err(ShellError::Failed(e @ (SshError::CommandTimeout { .. } | SshError::ShellEnded { .. })))) => return Err(e),
                Ok(Err(ShellError::NothingRan(e) | ShellError::Failed(e))) => {
                    *cached = None;
                    return Err(e);
                }
                Err(_) => {
                    *cached = None;
                    return Err(SshError::CommandTimeout { device: target.name.clone(), program: command.program().to_string(), after: limits.timeout });
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Connects and authenticates to `target` unless a connection is open already, so that
    /// its first command finds one ready (a run opens its devices' sessions early this way).
    /// Holds the device's slot meanwhile: a command arriving during the connect waits for it
    /// instead of opening a second connection. Returns whether it connected.
    pub async fn warm(&self, target: &SshTarget) -> Result<bool, SshError> {
        let slot = self.slot(&target.name);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| !c.is_closed() && c.target == *target) {
            return Ok(false);
        }
        *cached = Some(self.connect(target).await?);
        Ok(true)
    }

    /// How the cached connection to `device` was set up, if there is one.
    pub async fn connect_phases(&self, device: &str) -> Option<ConnectPhases> {
        let slot = self.slots.lock().expect("not poisoned").get(device).cloned()?;
        slot.lock().await.as_ref().map(|c| c.phases)
    }

    /// Connections opened so far (a reused connection is counted once).
    pub fn connections_opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    /// Devices that have an open cached connection now.
    pub async fn live_connections(&self) -> usize {
        let slots: Vec<Slot> = self.slots.lock().expect("not poisoned").values().cloned().collect();
        let mut n = 0;
        for s in slots {
            if s.lock().await.as_ref().is_some_and(|c| !c.is_closed()) {
                n += 1;
            }
        }
        n
    }

    /// Drops the cached connection of `device` (the next command reconnects).
    pub async fn forget(&self, device: &str) {
        let slot = self.slots.lock().expect("not poisoned").get(device).cloned();
        if let Some(s) = slot {
            *s.lock().await = None;
        }
    }

    fn slot(&self, device: &str) -> Slot {
        self.slots.lock().expect("not poisoned").entry(device.to_string()).or_default().clone()
    }

    async fn connect(&self, target: &SshTarget) -> Result<Connection, SshError> {
        let conn = Connection::open(target, self.settings.connect_timeout).await?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(device = %target.name, address = %target.address, "ssh connected");
        Ok(conn)
    }
}
