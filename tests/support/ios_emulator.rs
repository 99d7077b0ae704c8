//! A stateful emulator of the IOS CLI subset kolokasi's `IosCli` driver uses, behind a real
//! russh SSH server on 127.0.0.1:0 with a fresh ed25519 host key. No IOS image can run here;
//! this keeps the transport (SSH, host-key pinning, login, PTY shell, echo, prompts) real and
//! the device small.
//!
//! The device `sw-test` has 24 ports, GigabitEthernet1/0/1..24, each in VLAN 1, without a
//! description, not shut down and without a `switchport mode` line. Only a shell on a PTY is
//! served. It understands exactly: enable, configure terminal, interface NAME, switchport mode
//! access, no switchport mode, switchport access vlan N, description REST-OF-LINE, no
//! description, shutdown, no shutdown, end, exit, terminal length 0 and show running-config
//! interface NAME, each only in its IOS mode; anything else gets `% Invalid input detected at
//! '^' marker.` Every line received is recorded (an enable password as `<enable password>`), so
//! a test can check on the device that nothing else was executed.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{self, Auth, Msg, Session};
use russh::{Channel, ChannelId, Disconnect, Pty};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const HOSTNAME: &str = "sw-test";
pub const PORTS: u32 = 24;
pub const INVALID: &str = "% Invalid input detected at '^' marker.";

/// A fresh ed25519 key (host keys and client keys alike).
pub fn ed25519_key() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&rand::random()))
}

/// `"ssh-ed25519 AAAA…"`, as kolokasi pins it.
pub fn openssh_public(key: &PrivateKey) -> String {
    key.public_key().to_openssh().unwrap().split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

pub enum Login {
    Password(String),
    Key(PublicKey),
}

pub struct Options {
    pub user: String,
    pub login: Login,
    /// `Some`: a login lands in user EXEC (`sw-test>`) and `enable` asks for this password.
    /// `None`: it lands in privileged EXEC (`sw-test#`), as a privilege-15 user's does.
    pub enable_secret: Option<String>,
}

/// One port's configuration, as the device holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub vlan: u16,
    pub mode_access: bool,
    pub description: Option<String>,
    pub shutdown: bool,
}

impl Default for Port {
    fn default() -> Self {
        Self { vlan: 1, mode_access: false, description: None, shutdown: false }
    }
}

#[derive(Default)]
struct Device {
    ports: BTreeMap<u32, Port>,
    log: Vec<String>,
    /// Lines answered with `% Invalid input` although valid (a device refusing a value).
    refused: HashSet<String>,
    /// Lines never answered, once each (a hung device).
    stalled: HashSet<String>,
    shells: usize,
    sessions: Vec<server::Handle>,
}

pub struct Emulator {
    pub address: SocketAddr,
    /// The host key, `"ssh-ed25519 AAAA…"`.
    pub host_key: String,
    pub user: String,
    device: Arc<Mutex<Device>>,
    accept: JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Emulator {
    pub async fn start(options: Options) -> Self {
        let host_key = ed25519_key();
        let config = Arc::new(server::Config {
            keys: vec![host_key.clone()],
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: Some(Duration::from_secs(120)),
            nodelay: true,
            ..Default::default()
        });
        let ports = (1..=PORTS).map(|n| (n, Port::default())).collect();
        let device = Arc::new(Mutex::new(Device { ports, ..Device::default() }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let user = options.user.clone();
        let (shared, options) = (device.clone(), Arc::new(options));
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = Connection { device: shared.clone(), options: options.clone(), ptys: HashSet::new(), shells: HashMap::new() };
                let (config, shared) = (config.clone(), shared.clone());
                tokio::spawn(async move {
                    if let Ok(session) = server::run_stream(config, socket, handler).await {
                        shared.lock().unwrap().sessions.push(session.handle());
                        let _ = session.await;
                    }
                });
            }
        });
        Self { address, host_key: openssh_public(&host_key), user, device, accept }
    }

    /// Every line the device received, in order.
    pub fn log(&self) -> Vec<String> {
        self.device.lock().unwrap().log.clone()
    }

    /// `GigabitEthernet1/0/n` as the device holds it.
    pub fn port(&self, n: u32) -> Port {
        self.device.lock().unwrap().ports[&n].clone()
    }

    /// Changes a port behind the driver's back (as an operator at the console would).
    pub fn set_port(&self, n: u32, port: Port) {
        self.device.lock().unwrap().ports.insert(n, port);
    }

    /// From now on, answers exactly this line with `% Invalid input`.
    pub fn refuse(&self, line: &str) {
        self.device.lock().unwrap().refused.insert(line.to_string());
    }

    /// Never answers the next time this exact line arrives.
    pub fn stall_once(&self, line: &str) {
        self.device.lock().unwrap().stalled.insert(line.to_string());
    }

    /// Shells opened since the start.
    pub fn shells_opened(&self) -> usize {
        self.device.lock().unwrap().shells
    }

    /// Drops every SSH connection, as a reloading switch would.
    pub async fn disconnect_all(&self) {
        let sessions = std::mem::take(&mut self.device.lock().unwrap().sessions);
        for s in sessions {
            let _ = s.disconnect(Disconnect::ByApplication, "reload".into(), String::new()).await;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exec,
    Privileged,
    Config,
    Interface(u32),
    Password,
}

fn prompt(mode: Mode) -> String {
    match mode {
        Mode::Exec => format!("{HOSTNAME}>"),
        Mode::Privileged => format!("{HOSTNAME}#"),
        Mode::Config => format!("{HOSTNAME}(config)#"),
        Mode::Interface(_) => format!("{HOSTNAME}(config-if)#"),
        Mode::Password => "Password: ".into(),
    }
}

/// One shell: its mode and the line being typed.
struct Cli {
    mode: Mode,
    line: Vec<u8>,
    after_cr: bool,
}

struct Connection {
    device: Arc<Mutex<Device>>,
    options: Arc<Options>,
    ptys: HashSet<ChannelId>,
    shells: HashMap<ChannelId, Cli>,
}

impl server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ok = user == self.options.user && matches!(&self.options.login, Login::Password(p) if p == password);
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: server::VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        let ok = user == self.options.user && matches!(&self.options.login, Login::Key(k) if k.key_data() == key.public_key.key_data());
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        _: Channel<Msg>,
        reply: server::ChannelOpenHandle,
        _: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.ptys.insert(channel);
        session.channel_success(channel)
    }

    /// Like a switch's vty: a shell only on a terminal, and no exec.
    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        if !self.ptys.contains(&channel) {
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        let mode = if self.options.enable_secret.is_some() { Mode::Exec } else { Mode::Privileged };
        self.device.lock().unwrap().shells += 1;
        self.shells.insert(channel, Cli { mode, line: Vec::new(), after_cr: false });
        session.data(channel, format!("\r\n{HOSTNAME} - authorised access only\r\n\r\n{}", prompt(mode)).into_bytes())
    }

    async fn exec_request(&mut self, channel: ChannelId, _: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    /// Echoes what is typed (as a terminal does, except a password) and runs each line.
    async fn data(&mut self, channel: ChannelId, data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        let Some(cli) = self.shells.get_mut(&channel) else { return Ok(()) };
        let mut out = Vec::new();
        let mut close = false;
        for &b in data {
            if b == b'\n' && cli.after_cr {
                cli.after_cr = false;
                continue;
            }
            cli.after_cr = b == b'\r';
            if b != b'\r' && b != b'\n' {
                cli.line.push(b);
                if cli.mode != Mode::Password {
                    out.push(b);
                }
                continue;
            }
            out.extend_from_slice(b"\r\n");
            let line = String::from_utf8_lossy(&std::mem::take(&mut cli.line)).into_owned();
            match execute(&mut self.device.lock().unwrap(), &self.options, cli, &line) {
                Some(Reply::Text(text)) => {
                    out.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
                    out.extend_from_slice(prompt(cli.mode).as_bytes());
                }
                Some(Reply::Close) => close = true,
                None => {}
            }
            if close {
                break;
            }
        }
        session.data(channel, out)?;
        if close {
            self.shells.remove(&channel);
            session.eof(channel)?;
            session.close(channel)?;
        }
        Ok(())
    }
}

enum Reply {
    Text(String),
    Close,
}

/// Runs one line in the shell's mode; `None` when the device stalls.
fn execute(device: &mut Device, options: &Options, cli: &mut Cli, line: &str) -> Option<Reply> {
    let ok = || Some(Reply::Text(String::new()));
    if cli.mode == Mode::Password {
        device.log.push("<enable password>".into());
        let right = options.enable_secret.as_deref() == Some(line);
        cli.mode = if right { Mode::Privileged } else { Mode::Exec };
        return if right { ok() } else { Some(Reply::Text("% Access denied\n\n".into())) };
    }
    device.log.push(line.to_string());
    if device.stalled.remove(line) {
        return None;
    }
    let caret = " ".repeat(prompt(cli.mode).len());
    let invalid = || Some(Reply::Text(format!("{caret}^\n{INVALID}\n\n")));
    if device.refused.contains(line) {
        return invalid();
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let set = |device: &mut Device, n: u32, change: &dyn Fn(&mut Port)| {
        change(device.ports.get_mut(&n).expect("resolved ports exist"));
        ok()
    };
    match (cli.mode, words.as_slice()) {
        (_, []) => ok(),
        (Mode::Exec | Mode::Privileged, ["terminal", "length", "0"]) => ok(),
        (Mode::Exec, ["enable"]) => {
            cli.mode = if options.enable_secret.is_some() { Mode::Password } else { Mode::Privileged };
            ok()
        }
        (Mode::Privileged, ["enable"]) => ok(),
        (Mode::Exec | Mode::Privileged, ["exit"]) => Some(Reply::Close),
        (Mode::Privileged, ["configure", "terminal"]) => {
            cli.mode = Mode::Config;
            Some(Reply::Text("Enter configuration commands, one per line.  End with CNTL/Z.\n".into()))
        }
        (Mode::Privileged, ["show", "running-config", "interface", name]) => match resolve(name) {
            Some(n) => Some(Reply::Text(running_config(n, &device.ports[&n]))),
            None => invalid(),
        },
        (Mode::Config | Mode::Interface(_), ["interface", name]) => match resolve(name) {
            Some(n) => {
                cli.mode = Mode::Interface(n);
                ok()
            }
            None => invalid(),
        },
        (Mode::Config | Mode::Interface(_), ["end"]) | (Mode::Config, ["exit"]) => {
            cli.mode = Mode::Privileged;
            ok()
        }
        (Mode::Interface(_), ["exit"]) => {
            cli.mode = Mode::Config;
            ok()
        }
        (Mode::Interface(n), ["switchport", "mode", "access"]) => set(device, n, &|p| p.mode_access = true),
        (Mode::Interface(n), ["no", "switchport", "mode"]) => set(device, n, &|p| p.mode_access = false),
        (Mode::Interface(n), ["switchport", "access", "vlan", v]) => match v.parse::<u16>() {
            Ok(v) if (1..=4094).contains(&v) => set(device, n, &|p| p.vlan = v),
            _ => invalid(),
        },
        (Mode::Interface(n), ["description", _, ..]) => {
            let text = line.trim_start()["description".len()..].trim_start().to_string();
            set(device, n, &|p| p.description = Some(text.clone()))
        }
        (Mode::Interface(n), ["no", "description"]) => set(device, n, &|p| p.description = None),
        (Mode::Interface(n), ["shutdown"]) => set(device, n, &|p| p.shutdown = true),
        (Mode::Interface(n), ["no", "shutdown"]) => set(device, n, &|p| p.shutdown = false),
        _ => invalid(),
    }
}

/// The port number of `GigabitEthernet1/0/n` under any unambiguous abbreviation (`Gi1/0/5`).
fn resolve(name: &str) -> Option<u32> {
    let at = name.find(|c: char| c.is_ascii_digit())?;
    let (kind, numbers) = name.split_at(at);
    let n: u32 = numbers.strip_prefix("1/0/")?.parse().ok()?;
    let known = kind.len() >= 2 && "gigabitethernet".starts_with(&kind.to_ascii_lowercase());
    (known && (1..=PORTS).contains(&n)).then_some(n)
}

fn running_config(n: u32, port: &Port) -> String {
    let mut body = format!("interface GigabitEthernet1/0/{n}\n");
    if let Some(d) = &port.description {
        body += &format!(" description {d}\n");
    }
    // Like IOS, the default VLAN 1 is not shown.
    if port.vlan != 1 {
        body += &format!(" switchport access vlan {}\n", port.vlan);
    }
    if port.mode_access {
        body += " switchport mode access\n";
    }
    if port.shutdown {
        body += " shutdown\n";
    }
    body += "end\n";
    format!("Building configuration...\n\nCurrent configuration : {} bytes\n!\n{body}\n", body.len())
}
