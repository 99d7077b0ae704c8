//! Cisco IOS-style switches through their CLI: one interactive SSH shell with a PTY per device,
//! kept open between calls and used by one caller at a time, driven prompt by prompt.
//!
//! ```text
//!  connect (pinned host key) ─► PTY + shell ─► `sw>` ─ terminal length 0 ─ enable ─► `sw#`
//!  `sw#` ─ configure terminal ─► `sw(config)#` ─ interface X ─► `sw(config-if)#` ─ lines … ─ end ─► `sw#`
//!  `sw#` ─ show running-config interface X ─► `sw#`            (parsed into SwitchPortState)
//! ```
//! Every line sent is a [`Command`] built from typed values (`InterfaceName`, `Vlan`,
//! `PortDescription`, `RequestTag`); each answer must end in the prompt of the expected mode
//! and carry no `%` error, or the driver stops, leaves configuration mode and names the device
//! and the command.
//!
//! IOS has no place for kolokasi's bookkeeping except the description, so an owned port's
//! description ends in a note: `<description> ## kolokasi <request> was <access|default> vlan
//! <n> <up|down>[ desc <old description>]`. The note is written first and removed last, so a
//! change interrupted half way is still found as the request's own, with the state to go back
//! to. A port whose current settings that note (or the CLI subset) cannot put back — a trunk,
//! a description outside [`PortDescription`]'s character set — is refused before anything is
//! sent. A disabled port is `shutdown` (IOS has a real administrative state; nothing is parked).
//!
//! `shell` holds the session (pinned host key, PTY, prompts, `%` errors); this file the
//! commands, the plan of a write and the reading of the running config.
//! Owns the CLI session; must not touch anything but the one interface it is asked about.

mod shell;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use self::shell::{Mode, Shell};
use super::SwitchError;
use super::port::{InterfaceName, PortDescription, PortVlans, SwitchPortState, VlanMode};
use crate::ipam::Vlan;
use crate::secrets::Secret;
use crate::ssh::{RequestTag, SshSettings, SshTarget};

#[derive(Debug, thiserror::Error)]
pub enum IosCliError {
    #[error("{device} rejected `{command}`: {answer}")]
    Rejected { device: String, command: String, answer: String },
    #[error("{device} showed no prompt within {after:?} after `{command}`")]
    PromptTimeout { device: String, command: String, after: Duration },
    #[error("the CLI session with {device} closed while waiting for `{command}`")]
    SessionClosed { device: String, command: String },
    #[error("{device} refused to open an interactive shell with a terminal")]
    ShellRefused { device: String },
    #[error("after `{command}` {device} shows the prompt {got:?}, expected {expected}")]
    WrongMode { device: String, command: String, expected: &'static str, got: String },
    #[error("{device} asks for an enable password, but none is configured or it contains a control character")]
    EnableSecret { device: String },
    #[error("kolokasi cannot manage port {port} on {device} through the CLI: {reason}")]
    Unmanageable { device: String, port: String, reason: String },
    #[error("cannot read port {port} on {device}: {message}")]
    Parse { device: String, port: String, message: String },
}

impl IosCliError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::PromptTimeout { .. } | Self::SessionClosed { .. })
    }
}

/// One IOS-style switch.
pub struct IosCli {
    target: SshTarget,
    settings: SshSettings,
    enable_secret: Option<Secret>,
    /// The open shell; the lock serialises every read and write on the device.
    shell: tokio::sync::Mutex<Option<Box<Shell>>>,
    opened: AtomicUsize,
}

impl IosCli {
    pub fn new(target: SshTarget, settings: SshSettings) -> Self {
        Self { target, settings, enable_secret: None, shell: tokio::sync::Mutex::new(None), opened: AtomicUsize::new(0) }
    }

    /// The password `enable` asks for, when the login lands in user EXEC mode (`sw>`).
    pub fn with_enable_secret(mut self, secret: Secret) -> Self {
        self.enable_secret = Some(secret);
        self
    }

    pub fn device(&self) -> &str {
        &self.target.name
    }

    /// CLI sessions opened so far (a reused session is counted once).
    pub fn sessions_opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    pub(super) async fn read(&self, port: &InterfaceName) -> Result<SwitchPortState, SwitchError> {
        let mut session = self.session().await?;
        let shell = session.as_mut().expect("opened by session()");
        match shell.run(&Command::ShowInterface(port)).await {
            Ok(output) => Ok(parse_running_config(self.device(), port, &output)?),
            // IOS answers a show of an interface it does not have with `% Invalid input`.
            Err(IosCliError::Rejected { answer, .. }) if answer.starts_with("% Invalid input") => {
                Ok(SwitchPortState::missing(port.clone()))
            }
            Err(e) => {
                if !matches!(e, IosCliError::Rejected { .. }) {
                    *session = None;
                }
                Err(e.into())
            }
        }
    }

    pub(super) async fn write(&self, desired: &SwitchPortState) -> Result<(), SwitchError> {
        // The whole plan is built (and checked) before the first line is sent.
        let plan = plan_write(self.device(), desired)?;
        let mut session = self.session().await?;
        let shell = session.as_mut().expect("opened by session()");
        for command in &plan {
            if let Err(e) = shell.run(command).await {
                // Leave configuration mode so the next caller starts from `host#`; a session in
                // an unknown state is dropped instead.
                let back =
                    matches!(e, IosCliError::Rejected { .. } | IosCliError::WrongMode { .. }) && shell.run(&Command::End).await.is_ok();
                if !back {
                    *session = None;
                }
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The device's shell, locked for the caller; opened if there is none or it died while idle.
    async fn session(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Box<Shell>>>, SwitchError> {
        let mut cached = self.shell.lock().await;
        if let Some(shell) = cached.as_mut()
            && !shell.alive().await
        {
            *cached = None;
        }
        if cached.is_none() {
            *cached = Some(Box::new(Shell::open(&self.target, self.settings, self.enable_secret.as_ref()).await?));
            self.opened.fetch_add(1, Ordering::Relaxed);
        }
        Ok(cached)
    }
}

/// The lines this driver sends, and nothing else.
enum Command<'a> {
    TerminalLength0,
    Enable,
    ConfigureTerminal,
    Interface(&'a InterfaceName),
    ModeAccess,
    NoMode,
    AccessVlan(Vlan),
    Description(DeviceDescription),
    NoDescription,
    Shutdown,
    NoShutdown,
    End,
    ShowInterface(&'a InterfaceName),
}

impl Command<'_> {
    /// The mode the device must be in after the command (`None`: the one it was in).
    fn leads_to(&self) -> Option<Mode> {
        match self {
            Self::TerminalLength0 => None,
            Self::Enable | Self::End | Self::ShowInterface(_) => Some(Mode::Privileged),
            Self::ConfigureTerminal => Some(Mode::Config),
            _ => Some(Mode::Interface),
        }
    }
}

impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TerminalLength0 => f.write_str("terminal length 0"),
            Self::Enable => f.write_str("enable"),
            Self::ConfigureTerminal => f.write_str("configure terminal"),
            Self::Interface(port) => write!(f, "interface {port}"),
            Self::ModeAccess => f.write_str("switchport mode access"),
            Self::NoMode => f.write_str("no switchport mode"),
            Self::AccessVlan(vlan) => write!(f, "switchport access vlan {vlan}"),
            Self::Description(text) => write!(f, "description {text}"),
            Self::NoDescription => f.write_str("no description"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::NoShutdown => f.write_str("no shutdown"),
            Self::End => f.write_str("end"),
            Self::ShowInterface(port) => write!(f, "show running-config interface {port}"),
        }
    }
}

/// The device's description line: a [`PortDescription`], and kolokasi's note on an owned port.
struct DeviceDescription {
    text: Option<PortDescription>,
    note: Option<Note>,
}

/// Who owns the port and how it was before (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Note {
    request: RequestTag,
    was_access: bool,
    was_vlan: Vlan,
    was_enabled: bool,
    was_description: Option<PortDescription>,
}

const NOTE: &str = "## kolokasi ";
/// IOS takes descriptions of up to 240 characters; the longest note is well below.
const IOS_DESCRIPTION_MAX: usize = 240;

impl fmt::Display for DeviceDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(n) = &self.note else {
            return write!(f, "{}", self.text.as_ref().map_or("", PortDescription::as_str));
        };
        if let Some(text) = &self.text {
            write!(f, "{text} ")?;
        }
        let mode = if n.was_access { "access" } else { "default" };
        let state = if n.was_enabled { "up" } else { "down" };
        write!(f, "{NOTE}{} was {mode} vlan {} {state}", n.request, n.was_vlan)?;
        match &n.was_description {
            Some(d) => write!(f, " desc {d}"),
            None => Ok(()),
        }
    }
}

/// Splits a description as read from the device into its text and kolokasi's note.
fn split_note(raw: &str) -> Result<(Option<String>, Option<Note>), String> {
    let Some(at) = raw.find(NOTE) else {
        return Ok((Some(raw.to_string()), None));
    };
    let text = raw[..at].strip_suffix(' ').map(str::to_string).filter(|t| !t.is_empty());
    let fields: Vec<&str> = raw[at + NOTE.len()..].splitn(7, ' ').collect();
    let bad = || format!("the kolokasi note in its description is not understood: {:?}", &raw[at..]);
    let [request, "was", mode, "vlan", vlan, state, rest @ ..] = fields.as_slice() else { return Err(bad()) };
    let was_description = match rest {
        [] => None,
        [d] => Some(PortDescription::parse(d.strip_prefix("desc ").ok_or_else(bad)?).map_err(|_| bad())?),
        _ => return Err(bad()),
    };
    let note = Note {
        request: RequestTag::parse(request).map_err(|_| bad())?,
        was_access: match *mode {
            "access" => true,
            "default" => false,
            _ => return Err(bad()),
        },
        was_vlan: vlan.parse::<u32>().ok().and_then(|v| Vlan::new(v).ok()).ok_or_else(bad)?,
        was_enabled: match *state {
            "up" => true,
            "down" => false,
            _ => return Err(bad()),
        },
        was_description,
    };
    Ok((text, Some(note)))
}

/// The commands that bring the port to `desired`, or why this driver cannot.
fn plan_write<'a>(device: &str, desired: &'a SwitchPortState) -> Result<Vec<Command<'a>>, IosCliError> {
    let port = &desired.port;
    let refuse = |reason: String| IosCliError::Unmanageable { device: device.into(), port: port.to_string(), reason };
    let (access, vlan) = access_settings(&desired.vlans).map_err(&refuse)?;
    // Only descriptions this driver can type, and that cannot be mistaken for its note.
    let description = |text: &Option<String>| match text {
        None => Ok(None),
        Some(t) if t.contains(NOTE.trim_end()) => Err(format!("the description {t:?} contains kolokasi's marker `{}`", NOTE.trim_end())),
        Some(t) => PortDescription::parse(t).map(Some).map_err(|e| format!("the description {t:?} cannot be typed into the CLI ({e})")),
    };
    let later = |reason: String| refuse(format!("it could not be put back later: {reason}"));
    let note = match (&desired.request, &desired.previous) {
        (None, _) => None,
        (Some(request), Some(previous)) => {
            let (was_access, was_vlan) = access_settings(&previous.vlans).map_err(later)?;
            let was_description = description(&previous.description).map_err(later)?;
            Some(Note { request: request.clone(), was_access, was_vlan, was_enabled: previous.enabled, was_description })
        }
        (Some(request), None) => return Err(refuse(format!("request {request} is stamped without the state to restore"))),
    };
    let text = description(&desired.description).map_err(&refuse)?;
    let owned = note.is_some();
    let line = match (text, note) {
        (None, None) => Command::NoDescription,
        (text, note) => Command::Description(DeviceDescription { text, note }),
    };
    if line.to_string().len() > "description ".len() + IOS_DESCRIPTION_MAX {
        return Err(refuse(format!("the description with kolokasi's note exceeds {IOS_DESCRIPTION_MAX} characters")));
    }
    let settings = [
        if access { Command::ModeAccess } else { Command::NoMode },
        Command::AccessVlan(vlan),
        if desired.enabled { Command::NoShutdown } else { Command::Shutdown },
    ];
    // The note goes on before anything else changes and comes off after everything is back.
    let mut plan = vec![Command::ConfigureTerminal, Command::Interface(port)];
    if owned {
        plan.push(line);
        plan.extend(settings);
    } else {
        plan.extend(settings);
        plan.push(line);
    }
    plan.push(Command::End);
    Ok(plan)
}

/// `(switchport mode access?, access VLAN)` of a port this driver can write.
fn access_settings(vlans: &PortVlans) -> Result<(bool, Vlan), String> {
    match (vlans.vlan_mode, vlans.tag, vlans.trunks.is_empty()) {
        (Some(VlanMode::Access), Some(vlan), true) => Ok((true, vlan)),
        (None, Some(vlan), true) => Ok((false, vlan)),
        _ => Err(format!("only access ports are supported, not {vlans:?}")),
    }
}

/// Reads `show running-config interface X` into a state.
fn parse_running_config(device: &str, port: &InterfaceName, output: &str) -> Result<SwitchPortState, IosCliError> {
    let bad = |message: String| IosCliError::Parse { device: device.into(), port: port.to_string(), message };
    let mut lines = output.lines().map(|l| l.trim_end_matches('\r'));
    let shown =
        lines.by_ref().find_map(|l| l.strip_prefix("interface ")).ok_or_else(|| bad(format!("no interface section in {output:?}")))?;
    if !same_interface(port.as_str(), shown.trim()) {
        return Err(bad(format!("the device showed interface {shown}")));
    }
    let vlan = |n: &str| n.parse::<u32>().ok().and_then(|n| Vlan::new(n).ok()).ok_or_else(|| bad(format!("{n:?} is not a VLAN")));
    let (mut description, mut access_vlan, mut mode, mut native, mut trunks, mut enabled) = (None, None, None, None, Vec::new(), true);
    for line in lines.take_while(|l| l.starts_with(' ')).map(str::trim_start) {
        if let Some(d) = line.strip_prefix("description ") {
            description = Some(d);
        } else if let Some(n) = line.strip_prefix("switchport access vlan ") {
            access_vlan = Some(vlan(n)?);
        } else if let Some(m) = line.strip_prefix("switchport mode ") {
            mode = Some(m);
        } else if let Some(n) = line.strip_prefix("switchport trunk native vlan ") {
            native = Some(vlan(n)?);
        } else if let Some(list) = line.strip_prefix("switchport trunk allowed vlan ") {
            for item in list.trim_start_matches("add ").split(',') {
                let (from, to) = item.split_once('-').unwrap_or((item, item));
                trunks.extend((vlan(from)?.get()..=vlan(to)?.get()).filter_map(|v| Vlan::try_from(v).ok()));
            }
        } else if line == "shutdown" {
            enabled = false;
        }
    }
    let default_vlan = || Some(access_vlan.unwrap_or_else(|| Vlan::new(1).expect("1 is a VLAN")));
    let vlans = match mode {
        None => PortVlans { tag: default_vlan(), trunks: Vec::new(), vlan_mode: None },
        Some("access") => PortVlans { tag: default_vlan(), trunks: Vec::new(), vlan_mode: Some(VlanMode::Access) },
        Some("trunk") => PortVlans { tag: native, trunks, vlan_mode: Some(VlanMode::Trunk) }.normalised(),
        Some("dot1q-tunnel") => PortVlans { tag: default_vlan(), trunks: Vec::new(), vlan_mode: Some(VlanMode::Dot1qTunnel) },
        Some(other) => {
            return Err(IosCliError::Unmanageable {
                device: device.into(),
                port: port.to_string(),
                reason: format!("`switchport mode {other}` is not modelled"),
            });
        }
    };
    let (description, note) = match description {
        Some(raw) => split_note(raw).map_err(bad)?,
        None => (None, None),
    };
    let previous = note.as_ref().map(|n| {
        let mut was = SwitchPortState::missing(port.clone());
        was.exists = true;
        was.vlans = PortVlans { tag: Some(n.was_vlan), trunks: Vec::new(), vlan_mode: n.was_access.then_some(VlanMode::Access) };
        was.enabled = n.was_enabled;
        was.description = n.was_description.as_ref().map(|d| d.to_string());
        Box::new(was)
    });
    Ok(SwitchPortState { port: port.clone(), exists: true, vlans, description, enabled, request: note.map(|n| n.request), previous })
}

/// Whether the device's name for an interface (`GigabitEthernet1/0/5`) is the one asked for,
/// possibly abbreviated (`Gi1/0/5`).
fn same_interface(asked: &str, shown: &str) -> bool {
    fn split(s: &str) -> (&str, &str) {
        s.split_at(s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len()))
    }
    let ((asked_type, asked_numbers), (shown_type, shown_numbers)) = (split(asked), split(shown));
    asked_numbers == shown_numbers && shown_type.to_ascii_lowercase().starts_with(&asked_type.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::port::PortPattern;

    fn port() -> InterfaceName {
        InterfaceName::parse(PortPattern::Ios, "Gi1/0/5").unwrap()
    }

    #[test]
    fn reads_an_ios_running_config() {
        let out = "Building configuration...\n\nCurrent configuration : 120 bytes\n!\ninterface GigabitEthernet1/0/5\n description web (rack 1/U12)\n switchport access vlan 120\n switchport mode access\n shutdown\nend\n\n";
        let s = parse_running_config("sw", &port(), out).unwrap();
        assert_eq!((s.access_vlan(), s.vlans.vlan_mode, s.enabled), (Some(Vlan::new(120).unwrap()), Some(VlanMode::Access), false));
        assert_eq!((s.description.as_deref(), s.request.is_none()), (Some("web (rack 1/U12)"), true));
        let plain = parse_running_config("sw", &port(), "!\ninterface GigabitEthernet1/0/5\nend\n").unwrap();
        assert_eq!((plain.access_vlan(), plain.vlans.vlan_mode, plain.enabled), (Some(Vlan::new(1).unwrap()), None, true));
        assert!(parse_running_config("sw", &port(), "interface GigabitEthernet1/0/6\nend\n").is_err());
        let trunk = parse_running_config(
            "sw",
            &port(),
            "interface Gi1/0/5\n switchport trunk allowed vlan 10,20-22\n switchport mode trunk\nend\n",
        )
        .unwrap();
        assert_eq!(trunk.vlans.trunks.iter().map(|v| v.get()).collect::<Vec<_>>(), [10, 20, 21, 22]);
    }

    /// What a write puts on the device reads back as the same state, note and all.
    #[test]
    fn the_ownership_note_round_trips() {
        let mut before = parse_running_config("sw", &port(), "interface Gi1/0/5\n description old one\n shutdown\nend\n").unwrap();
        before.vlans.tag = Some(Vlan::new(7).unwrap());
        let mut desired = before.clone();
        desired.vlans = PortVlans { tag: Some(Vlan::new(120).unwrap()), trunks: vec![], vlan_mode: Some(VlanMode::Access) };
        desired.description = Some("kolokasi KLK-2026-00042 srv".into());
        desired.enabled = true;
        desired.request = Some(RequestTag::parse("KLK-2026-00042").unwrap());
        desired.previous = Some(Box::new(before));
        let plan = plan_write("sw", &desired).unwrap();
        let lines: Vec<String> = plan.iter().map(ToString::to_string).collect();
        assert_eq!(lines[2], "description kolokasi KLK-2026-00042 srv ## kolokasi KLK-2026-00042 was default vlan 7 down desc old one");
        let shown = format!("interface GigabitEthernet1/0/5\n {}\n switchport access vlan 120\n switchport mode access\nend\n", lines[2]);
        assert_eq!(parse_running_config("sw", &port(), &shown).unwrap(), desired);
        assert_eq!(lines.last().unwrap(), "end");
    }
}
