//! The interactive CLI session of one IOS-style switch: an SSH connection with the pinned host
//! key (as the SSH pool pins it), a PTY and a shell, and reading the device's answers up to its
//! next prompt. Knows prompts, modes and `%` errors; knows nothing of ports.

use std::time::Duration;

use russh::ChannelMsg;
use russh::client::{self, Handle};
use tokio::time::{Instant, timeout, timeout_at};

use super::{Command, IosCliError};
use crate::secrets::Secret;
use crate::ssh::connection::{PinnedHostKey, connect_authenticated};
use crate::ssh::{SshError, SshSettings, SshTarget};
use crate::switch::SwitchError;

/// A CLI mode, as the prompt shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Exec,
    Privileged,
    Config,
    Interface,
    Other,
    Password,
}

impl Mode {
    fn prompt(self) -> &'static str {
        match self {
            Self::Exec => "`host>`",
            Self::Privileged => "`host#`",
            Self::Config => "`host(config)#`",
            Self::Interface => "`host(config-if)#`",
            Self::Other => "another configuration mode",
            Self::Password => "`Password:`",
        }
    }
}

/// The mode a line shows if it is a prompt of `hostname` (any hostname while not yet known).
fn prompt_mode(line: &str, hostname: Option<&str>) -> Option<Mode> {
    if line.trim_end().ends_with("Password:") {
        return Some(Mode::Password);
    }
    let rest = match hostname {
        Some(h) => line.strip_prefix(h)?,
        None => line.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
    };
    if hostname.is_none() && rest.len() == line.len() {
        return None;
    }
    match rest {
        ">" => Some(Mode::Exec),
        "#" => Some(Mode::Privileged),
        "(config)#" => Some(Mode::Config),
        "(config-if)#" => Some(Mode::Interface),
        r if r.starts_with('(') && r.ends_with(")#") && !r[1..].contains(['(', ' ']) => Some(Mode::Other),
        _ => None,
    }
}

/// Output lines starting with `%` that are news, not errors: IOS creates a missing access
/// VLAN itself and says so; syslog lines look like `%LINK-3-UPDOWN: …`.
fn is_informational(line: &str) -> bool {
    let syslog = line.split_once(':').is_some_and(|(tag, _)| tag.len() > 1 && tag[1..].split('-').count() == 3 && !tag.contains(' '));
    line.starts_with("% Access VLAN does not exist. Creating vlan") || syslog
}

/// One logged-in shell in privileged EXEC mode, between commands.
pub(super) struct Shell {
    device: String,
    /// Keeps the connection open.
    handle: Handle<PinnedHostKey>,
    channel: russh::Channel<client::Msg>,
    hostname: String,
    mode: Mode,
    wait: Duration,
}

impl Shell {
    pub(super) async fn open(target: &SshTarget, settings: SshSettings, enable_secret: Option<&Secret>) -> Result<Self, SwitchError> {
        let session = |source| SshError::Session { device: target.name.clone(), address: target.address, source: Box::new(source) };
        let connected = timeout(settings.connect_timeout, async {
            let handle = connect_authenticated(target).await?;
            let channel = handle.channel_open_session().await.map_err(session)?;
            // A wide terminal: IOS scrolls input lines longer than the width, garbling the echo.
            channel.request_pty(true, "vt100", 511, 24, 0, 0, &[]).await.map_err(session)?;
            channel.request_shell(true).await.map_err(session)?;
            Ok::<_, SshError>((handle, channel))
        })
        .await
        .map_err(|_| SshError::ConnectTimeout {
            device: target.name.clone(),
            address: target.address,
            after: settings.connect_timeout,
        })??;
        let (handle, channel) = connected;
        let mut shell = Self {
            device: target.name.clone(),
            handle,
            channel,
            hostname: String::new(),
            mode: Mode::Exec,
            wait: settings.command_timeout,
        };
        shell.start(enable_secret).await?;
        Ok(shell)
    }

    /// Waits for the channel-request replies and the first prompt, then gets to `host#`.
    async fn start(&mut self, enable_secret: Option<&Secret>) -> Result<(), IosCliError> {
        let (_, mode) = self.answer("login", None).await?;
        self.mode = mode;
        self.run(&Command::TerminalLength0).await?;
        if self.mode == Mode::Exec {
            let enable = Command::Enable.to_string();
            self.send(&enable, &enable).await?;
            let (mut output, mut mode) = self.answer(&enable, Some(&enable)).await?;
            if mode == Mode::Password {
                // The secret is typed at a password prompt, never as a command line.
                let secret = enable_secret
                    .map(Secret::expose)
                    .filter(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
                    .ok_or_else(|| IosCliError::EnableSecret { device: self.device.clone() })?;
                self.send(secret, "enable (password)").await?;
                (output, mode) = self.answer("enable", None).await?;
            }
            self.mode = mode;
            self.check("enable", &output, Some(Mode::Privileged))?;
        }
        self.check("login", "", Some(Mode::Privileged))
    }

    /// False if the device closed the session while it sat idle (nothing was sent on it yet).
    pub(super) async fn alive(&mut self) -> bool {
        if self.handle.is_closed() {
            return false;
        }
        loop {
            match timeout(Duration::ZERO, self.channel.wait()).await {
                Err(_) => return true,
                Ok(None | Some(ChannelMsg::Eof | ChannelMsg::Close)) => return false,
                Ok(Some(_)) => {}
            }
        }
    }

    /// Sends one command and returns its output, checked for errors and the expected mode.
    pub(super) async fn run(&mut self, command: &Command<'_>) -> Result<String, IosCliError> {
        let line = command.to_string();
        // The typed values allow only printable ASCII without `?` (IOS help); a second fence.
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'?'), "CLI line {line:?} is not plain printable ASCII");
        self.send(&line, &line).await?;
        let (output, mode) = self.answer(&line, Some(&line)).await?;
        self.mode = mode;
        self.check(&line, &output, command.leads_to())?;
        Ok(output)
    }

    fn check(&self, command: &str, output: &str, expected: Option<Mode>) -> Result<(), IosCliError> {
        if let Some(error) =
            output.lines().map(str::trim).find(|l| (l.starts_with('%') && !is_informational(l)) || l.starts_with("Command rejected"))
        {
            return Err(IosCliError::Rejected { device: self.device.clone(), command: command.into(), answer: error.into() });
        }
        match expected {
            Some(mode) if mode != self.mode => Err(IosCliError::WrongMode {
                device: self.device.clone(),
                command: command.into(),
                expected: mode.prompt(),
                got: self.mode.prompt().into(),
            }),
            _ => Ok(()),
        }
    }

    /// Types `line` and Enter; `command` names it in errors (a secret is never named).
    async fn send(&mut self, line: &str, command: &str) -> Result<(), IosCliError> {
        let closed = |_| IosCliError::SessionClosed { device: self.device.clone(), command: command.into() };
        self.channel.data_bytes(format!("{line}\n")).await.map_err(closed)
    }

    /// Reads until a prompt; returns the output before it (without the echoed `echo` line).
    async fn answer(&mut self, command: &str, echo: Option<&str>) -> Result<(String, Mode), IosCliError> {
        let deadline = Instant::now() + self.wait;
        let known = (!self.hostname.is_empty()).then_some(self.hostname.as_str());
        let mut received = Vec::new();
        let closed = || IosCliError::SessionClosed { device: self.device.clone(), command: command.into() };
        loop {
            let text = String::from_utf8_lossy(&received);
            let last = text.rsplit(['\r', '\n']).next().unwrap_or("");
            if let Some(mode) = prompt_mode(last, known) {
                let hostname = last.split(['>', '#', '(']).next().unwrap_or("").to_string();
                let body = &text[..text.len() - last.len()];
                let body = match echo {
                    Some(e) => body.split_once('\n').filter(|(first, _)| first.trim_end().ends_with(e)).map_or(body, |(_, rest)| rest),
                    None => body,
                };
                let output = body.replace('\r', "");
                if known.is_none() && mode != Mode::Password {
                    self.hostname = hostname;
                }
                return Ok((output, mode));
            }
            match timeout_at(deadline, self.channel.wait()).await {
                Err(_) => {
                    return Err(IosCliError::PromptTimeout { device: self.device.clone(), command: command.into(), after: self.wait });
                }
                Ok(None | Some(ChannelMsg::Eof | ChannelMsg::Close)) => return Err(closed()),
                Ok(Some(ChannelMsg::Failure)) => return Err(IosCliError::ShellRefused { device: self.device.clone() }),
                Ok(Some(ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. })) => received.extend_from_slice(&data),
                Ok(Some(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_recognised_per_mode() {
        assert_eq!(prompt_mode("sw-test>", None), Some(Mode::Exec));
        assert_eq!(prompt_mode("sw-test(config-if)#", Some("sw-test")), Some(Mode::Interface));
        assert_eq!(prompt_mode("other#", Some("sw-test")), None);
        assert_eq!(prompt_mode(" description a#", None), None);
        assert_eq!(prompt_mode("Password: ", None), Some(Mode::Password));
        assert!(is_informational("%LINK-3-UPDOWN: Interface GigabitEthernet1/0/5, changed state to up"));
        assert!(!is_informational("% Invalid input detected at '^' marker."));
    }
}
