//! A persistent `sh` on one channel of a connection, fed one command at a time.
//!
//! Why: on a stock sshd every exec channel costs a new sshd session process, PAM (`UsePAM yes`:
//! setcred, pam_env's locale), the user's login shell reading its rc files and loading the
//! locale — 5–8 ms on the lab's 2 cores before the command itself starts. Through one shell
//! started once per connection a command costs one round trip and the shell's own fork+exec.
//!
//! Framing: each command line is written as
//! `LINE </dev/null; printf '%s %d\n' END "$?"; printf '%s\n' END >&2` (stdin, when given, as a
//! quoted here-document instead of `/dev/null`), where END is a fresh random marker. The command
//! is done when stdout ends with `END <status>\n` and stderr with `END\n`; what precedes the
//! markers is its output, byte for byte. The shell echoes nothing (no PTY). Anything unexpected
//! — the shell ending, output past the cap, a time-out — makes the caller drop the shell.

use std::time::Instant;

use russh::client::Msg;
use russh::{Channel, ChannelMsg};

use super::{CommandOutput, CommandPhases, RemoteCommand};

/// Why a command in the shell did not finish normally (the caller maps it to `SshError`).
#[derive(Debug)]
pub(super) enum ShellFault {
    Session(russh::Error),
    /// The shell had ended while idle (found before anything was sent): nothing ran.
    EndedIdle,
    /// The shell's channel ended before the command's end markers (the shell died, or the
    /// login shell does not run commands from its input).
    Ended,
    TooLarge,
}

pub(super) struct Shell {
    channel: Channel<Msg>,
}

/// Stdin the shell can pass as a here-document: text without NUL. Other input goes over an
/// exec channel of its own.
pub(super) fn can_feed(stdin: Option<&[u8]>) -> bool {
    stdin.is_none_or(|s| std::str::from_utf8(s).is_ok_and(|t| !t.contains('\0')))
}

impl Shell {
    /// Starts `sh` on a fresh channel (no PTY, so no echo and no prompts) and checks that it
    /// runs what it is sent: `None` when the login shell prints anything else (a device CLI, a
    /// broken or hostile account); the caller then runs commands on exec channels.
    pub(super) async fn start(mut channel: Channel<Msg>) -> Result<Option<Self>, russh::Error> {
        channel.exec(true, "exec sh").await?;
        let ready = format!("klk-ready-{:032x}\n", rand::random::<u128>());
        channel.data_bytes(format!("printf '%s\\n' {}\n", ready.trim_end()).into_bytes()).await?;
        let mut seen = Vec::new();
        while seen.len() < ready.len() {
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => seen.extend_from_slice(&data),
                Some(ChannelMsg::ExtendedData { .. } | ChannelMsg::Success | ChannelMsg::WindowAdjusted { .. }) => continue,
                _ => break,
            }
            if !ready.as_bytes().starts_with(&seen[..seen.len().min(ready.len())]) {
                break;
            }
        }
        if seen != ready.as_bytes() {
            let _ = channel.close().await;
            return Ok(None);
        }
        Ok(Some(Self { channel }))
    }

    pub(super) async fn close(self) {
        let _ = self.channel.close().await;
    }

    /// Runs `command`, feeding it `stdin` (a here-document, which ends with a newline).
    pub(super) async fn run(
        &mut self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        max_output: usize,
        phases: &mut CommandPhases,
    ) -> Result<CommandOutput, ShellFault> {
        // Whatever the channel said while idle: only its end matters.
        while let Some(msg) = futures_util::FutureExt::now_or_never(self.channel.wait()) {
            if matches!(msg, None | Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. })) {
                return Err(ShellFault::EndedIdle);
            }
        }
        let end = format!("klk-end-{:032x}", rand::random::<u128>());
        self.channel.data_bytes(framed(command, stdin, &end)).await.map_err(ShellFault::Session)?;
        let sent = Instant::now();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let out_end = format!("{end} ");
        let err_end = format!("{end}\n");
        loop {
            let held = stdout.len() + stderr.len();
            let (buffer, data) = match self.channel.wait().await {
                Some(ChannelMsg::Data { data }) => (&mut stdout, data),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => (&mut stderr, data),
                Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. }) | None => {
                    return Err(ShellFault::Ended);
                }
                Some(_) => continue,
            };
            // The markers are small; the cap is on the command's output.
            if held + data.len() > max_output + 2 * out_end.len() + 16 {
                return Err(ShellFault::TooLarge);
            }
            buffer.extend_from_slice(&data);
            let Some((out, status)) = status_line(&stdout, &out_end) else { continue };
            if phases.exit_status.is_none() {
                phases.exit_status = Some(sent.elapsed());
            }
            if !stderr.ends_with(err_end.as_bytes()) {
                continue;
            }
            stderr.truncate(stderr.len() - err_end.len());
            phases.result = sent.elapsed();
            return Ok(CommandOutput {
                status: Some(status),
                stdout: String::from_utf8_lossy(&stdout[..out]).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
    }
}

/// What the shell receives for one command.
fn framed(command: &RemoteCommand, stdin: Option<&[u8]>, end: &str) -> Vec<u8> {
    let report = format!("printf '%s %d\\n' {end} \"$?\"; printf '%s\\n' {end} >&2\n");
    let mut text = match stdin.map(String::from_utf8_lossy) {
        None => format!("{} </dev/null; {report}", command.line()),
        Some(input) => {
            // A quoted delimiter: nothing in the document is expanded.
            let newline = if input.is_empty() || input.ends_with('\n') { "" } else { "\n" };
            format!("{} <<'{end}-in'\n{input}{newline}{end}-in\n{report}", command.line())
        }
    };
    text.shrink_to_fit();
    text.into_bytes()
}

/// `Some((length of the output, status))` once `stdout` ends with `END <status>\n`.
fn status_line(stdout: &[u8], out_end: &str) -> Option<(usize, u32)> {
    let body = stdout.strip_suffix(b"\n")?;
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let at = body.len() - digits;
    let start = at.checked_sub(out_end.len())?;
    if digits == 0 || &body[start..at] != out_end.as_bytes() {
        return None;
    }
    let status = std::str::from_utf8(&body[at..]).ok()?.parse().ok()?;
    Some((start, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_ends_the_output_and_is_cut_off() {
        let end = "klk-end-00ff ";
        assert_eq!(status_line(b"hello\nklk-end-00ff 0\n", end), Some((6, 0)));
        assert_eq!(status_line(b"no newlineklk-end-00ff 127\n", end), Some((10, 127)));
        assert_eq!(status_line(b"klk-end-00ff 3\n", end), Some((0, 3)));
        assert_eq!(status_line(b"hello\nklk-end-00ff 0", end), None, "line not complete yet");
        assert_eq!(status_line(b"hello\nklk-end-00ff \n", end), None);
        assert_eq!(status_line(b"hello\n", end), None);
    }

    /// A real `sh` run on the framed text gives back exactly the command's output and status,
    /// and a here-document reaches its stdin unexpanded.
    #[test]
    fn a_real_shell_runs_the_framed_command() {
        let end = "klk-end-1234";
        let printf = RemoteCommand::new("sh").arg("-c").arg("printf 'a$b\\n'; echo err >&2; exit 3");
        let cat = RemoteCommand::new("cat");
        let mut input = framed(&printf, None, end);
        input.extend(framed(&cat, Some(b"$(reboot) `id`\nlast"), end));
        let mut child = std::process::Command::new("sh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stdout, "a$b\nklk-end-1234 3\n$(reboot) `id`\nlast\nklk-end-1234 0\n");
        assert_eq!(stderr, "err\nklk-end-1234\nklk-end-1234\n");
    }
}
