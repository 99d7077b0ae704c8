//! One authenticated russh connection to one device: connect (TCP_NODELAY, pinned host key),
//! log in, and run commands, each on its own channel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Error as RusshError};

use super::shell::{self, Shell, ShellFault};
use super::{CommandOutput, CommandPhases, ConnectPhases, ExecLimits, RemoteCommand, SshAuth, SshError, SshTarget};

/// Accepts exactly the pinned key and remembers what it saw otherwise, so the caller can say
/// which key the device offered (russh itself only reports "unknown server key").
pub(crate) struct PinnedHostKey {
    expected: String,
    offered: Arc<Mutex<Option<String>>>,
}

impl client::Handler for PinnedHostKey {
    type Error = RusshError;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let offered = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                let text = key.to_openssh()?;
                text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
            }
            // TODO(design): host certificates (an SSH CA) instead of per-device pins.
            PublicKeyOrCertificate::Certificate(_) => "an SSH certificate".to_string(),
        };
        let ok = offered == self.expected;
        if !ok {
            *self.offered.lock().expect("not poisoned") = Some(offered);
        }
        Ok(ok)
    }
}

pub(super) struct Connection {
    handle: Handle<PinnedHostKey>,
    /// The configuration it was opened with; a changed target means a new connection.
    pub(super) target: SshTarget,
    pub(super) phases: ConnectPhases,
    shell: ShellState,
}

/// The connection's persistent shell ([`super::shell`]).
enum ShellState {
    NotStarted,
    Running(Shell),
    /// The login shell does not run commands sent to it: exec channels only.
    Unavailable,
}

/// Why a command in the shell failed: before anything was sent (the pool may reconnect and
/// try again) or after.
pub(super) enum ShellError {
    NothingRan(SshError),
    Failed(SshError),
}

impl Connection {
    /// Connects and logs in, all within `timeout`.
    pub(super) async fn open(target: &SshTarget, timeout: Duration) -> Result<Self, SshError> {
        let opened = tokio::time::timeout(timeout, connect_phased(target)).await;
        match opened {
            Ok(opened) => {
                let (handle, phases) = opened?;
                Ok(Self { handle, target: target.clone(), phases, shell: ShellState::NotStarted })
            }
            Err(_) => Err(SshError::ConnectTimeout { device: target.name.clone(), address: target.address, after: timeout }),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Opens a channel. A failure here means nothing ran on the device, so the pool may safely
    /// reconnect and try once more.
    pub(super) async fn open_channel(&self) -> Result<russh::Channel<client::Msg>, SshError> {
        self.handle.channel_open_session().await.map_err(|source| session_error(&self.target, source))
    }

    /// Runs `command` in the connection's persistent shell, starting it first if needed, within
    /// `limits`. `Ok(None)`: no shell here (the login shell does not take commands, or `stdin`
    /// is not text); the caller uses an exec channel. A time-out or a fault ends the shell (the
    /// next command starts a new one); the connection stays.
    pub(super) async fn run_in_shell(
        &mut self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limits: ExecLimits,
        phases: &mut CommandPhases,
    ) -> Result<Option<CommandOutput>, ShellError> {
        if matches!(self.shell, ShellState::Unavailable) || !shell::can_feed(stdin) {
            return Ok(None);
        }
        let deadline = tokio::time::Instant::now() + limits.timeout;
        if matches!(self.shell, ShellState::NotStarted) {
            let opening = Instant::now();
            let channel = self.open_channel().await.map_err(ShellError::NothingRan)?;
            self.shell = match tokio::time::timeout_at(deadline, Shell::start(channel)).await {
                Ok(Ok(Some(shell))) => ShellState::Running(shell),
                Ok(Ok(None)) | Err(_) => ShellState::Unavailable,
                Ok(Err(source)) => return Err(ShellError::NothingRan(session_error(&self.target, source))),
            };
            phases.channel_open = opening.elapsed();
        }
        let ShellState::Running(running) = &mut self.shell else { return Ok(None) };
        let outcome = tokio::time::timeout_at(deadline, running.run(command, stdin, limits.max_output_bytes, phases)).await;
        let program = || command.program().to_string();
        let device = || self.target.name.clone();
        let error = match outcome {
            Ok(Ok(out)) => return Ok(Some(out)),
            Ok(Err(ShellFault::EndedIdle)) => ShellError::NothingRan(SshError::ShellEnded { device: device(), program: program() }),
            Ok(Err(ShellFault::Ended)) => ShellError::Failed(SshError::ShellEnded { device: device(), program: program() }),
            Ok(Err(ShellFault::TooLarge)) => ShellError::Failed(SshError::OutputTooLarge { device: device(), program: program(), limit: limits.max_output_bytes }),
            Ok(Err(ShellFault::Session(source))) => ShellError::Failed(session_error(&self.target, source)),
            Err(_) => ShellError::Failed(SshError::CommandTimeout { device: device(), program: program(), after: limits.timeout }),
        };
        if let ShellState::Running(shell) = std::mem::replace(&mut self.shell, ShellState::NotStarted) {
            shell.close().await;
        }
        Err(error)
    }

    /// Runs one command on `channel`, feeding `stdin` (then EOF) if given, until the channel
    /// closes or `limits.timeout` passes. Stdout and stderr together may hold at most
    /// `limits.max_output_bytes`: past that the command fails, so a device that streams
    /// endlessly costs at most the cap in memory. Either way the channel is closed, so nothing
    /// more of that command reaches the connection.
    pub(super) async fn run(
        &self,
        mut channel: russh::Channel<client::Msg>,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limits: super::ExecLimits,
        phases: &mut CommandPhases,
    ) -> Result<CommandOutput, SshError> {
        let read = tokio::time::timeout(limits.timeout, self.read(&mut channel, command, stdin, limits.max_output_bytes, phases)).await;
        match read {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => {
                let _ = channel.close().await;
                Err(e)
            }
            Err(_) => {
                let _ = channel.close().await;
                Err(SshError::CommandTimeout { device: self.target.name.clone(), program: command.program().to_string(), after: limits.timeout })
            }
        }
    }

    async fn read(
        &self,
        channel: &mut russh::Channel<client::Msg>,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        max_output: usize,
        phases: &mut CommandPhases,
    ) -> Result<CommandOutput, SshError> {
        let err = |source| session_error(&self.target, source);
        channel.exec(true, command.line()).await.map_err(err)?;
        let sent = Instant::now();
        if let Some(input) = stdin {
            channel.data_bytes(input.to_vec()).await.map_err(err)?;
        }
        // Without EOF a command that reads stdin (`nft -f -`) would wait forever.
        channel.eof().await.map_err(err)?;
        let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            let held = stdout.len() + stderr.len();
            let (buffer, data) = match msg {
                ChannelMsg::Data { data } => (&mut stdout, data),
                ChannelMsg::ExtendedData { data, ext: 1 } => (&mut stderr, data),
                ChannelMsg::ExitStatus { exit_status } => {
                    status = Some(exit_status);
                    phases.exit_status = Some(sent.elapsed());
                    continue;
                }
                ChannelMsg::Eof => {
                    phases.eof = Some(sent.elapsed());
                    continue;
                }
                ChannelMsg::Close => {
                    phases.close = Some(sent.elapsed());
                    break;
                }
                _ => continue,
            };
            if held + data.len() > max_output {
                // The caller closes the channel; the pool drops the connection as well, so data
                // still in flight on it is never read.
                return Err(SshError::OutputTooLarge { device: self.target.name.clone(), program: command.program().to_string(), limit: max_output });
            }
            buffer.extend_from_slice(&data);
        }
        phases.result = sent.elapsed();
        Ok(CommandOutput {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}

/// Connects (TCP_NODELAY, keepalives, the pinned host key) and logs in, with no time limit of
/// its own: callers wrap it in theirs. Shared by the command pool and interactive CLI shells.
pub(crate) async fn connect_authenticated(target: &SshTarget) -> Result<Handle<PinnedHostKey>, SshError> {
    Ok(connect_phased(target).await?.0)
}

/// [`connect_authenticated`], timing each phase.
async fn connect_phased(target: &SshTarget) -> Result<(Handle<PinnedHostKey>, ConnectPhases), SshError> {
    let start = Instant::now();
    let unreachable = |source| SshError::Unreachable { device: target.name.clone(), address: target.address, source };
    let socket = tokio::net::TcpStream::connect(target.address).await.map_err(unreachable)?;
    // Without it every command waits on Nagle + delayed ACK (~48 ms instead of ~6 ms).
    socket.set_nodelay(true).map_err(unreachable)?;
    let tcp = start.elapsed();
    let offered = Arc::new(Mutex::new(None));
    let handler = PinnedHostKey { expected: target.host_key.as_str().to_string(), offered: offered.clone() };
    let config = Arc::new(client::Config {
        // Cached connections sit idle between runs; keepalives notice a dead peer.
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        ..client::Config::default()
    });
    let mut handle = client::connect_stream(config, socket, handler).await.map_err(|e| classify(target, e, &offered))?;
    let key_exchange = start.elapsed() - tcp;
    login(&mut handle, target).await?;
    let auth = start.elapsed() - tcp - key_exchange;
    Ok((handle, ConnectPhases { tcp, key_exchange, auth }))
}

async fn login(handle: &mut Handle<PinnedHostKey>, target: &SshTarget) -> Result<(), SshError> {
    let key_error = |source| SshError::PrivateKey { device: target.name.clone(), source: Box::new(source) };
    let key = match &target.auth {
        SshAuth::KeyFile(path) => Some(russh::keys::load_secret_key(path, None).map_err(key_error)?),
        SshAuth::KeyPem(pem) => Some(russh::keys::decode_secret_key(pem.expose(), None).map_err(key_error)?),
        SshAuth::Password(_) => None,
    };
    let result = match (&target.auth, key) {
        (_, Some(key)) => {
            let hash = rsa_hash(handle, &key).await.map_err(|source| session_error(target, source))?;
            handle.authenticate_publickey(&target.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash)).await
        }
        (SshAuth::Password(password), None) => handle.authenticate_password(&target.user, password.expose()).await,
        (_, None) => unreachable!("key logins have a key"),
    };
    match result {
        Ok(r) if r.success() => Ok(()),
        Ok(_) => Err(SshError::LoginRefused { device: target.name.clone(), user: target.user.clone() }),
        Err(source) => Err(session_error(target, source)),
    }
}

/// The signature hash for an RSA key: what the server's `server-sig-algs` prefers (SHA-256 or
/// SHA-512; OpenSSH ≥ 8.8 refuses SHA-1 `ssh-rsa`), SHA-256 when it names none. Other key
/// types have their own fixed hash.
async fn rsa_hash(handle: &Handle<PinnedHostKey>, key: &russh::keys::PrivateKey) -> Result<Option<HashAlg>, RusshError> {
    if !key.algorithm().is_rsa() {
        return Ok(None);
    }
    Ok(handle.best_supported_rsa_hash().await?.unwrap_or(Some(HashAlg::Sha256)))
}

/// Sorts a failed connect into "changed host key" (fatal), "unreachable" and other session
/// errors (both retryable).
fn classify(target: &SshTarget, error: RusshError, offered: &Mutex<Option<String>>) -> SshError {
    if let Some(got) = offered.lock().expect("not poisoned").take() {
        return SshError::HostKeyChanged { device: target.name.clone(), expected: target.host_key.to_string(), got };
    }
    match error {
        RusshError::IO(source) => SshError::Unreachable { device: target.name.clone(), address: target.address, source },
        other => session_error(target, other),
    }
}

fn session_error(target: &SshTarget, source: RusshError) -> SshError {
    SshError::Session { device: target.name.clone(), address: target.address, source: Box::new(source) }
}
