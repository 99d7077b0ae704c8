//! Remote commands: a program and its arguments, every argument single-quoted by the one
//! quoting helper, so text that reaches a remote shell is never interpreted by it. Callers
//! still pass only typed values (`InterfaceName`, `PortDescription`, …); quoting is the
//! second fence, not the first.

use std::fmt;

/// Quotes `text` as one POSIX shell word: `'…'`, with each `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A command line for a remote shell, built only through [`RemoteCommand::arg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    program: &'static str,
    line: String,
}

impl RemoteCommand {
    /// `program` is a fixed name from kolokasi's own code (`ovs-vsctl`, `nft`), never input.
    pub fn new(program: &'static str) -> Self {
        Self { program, line: shell_quote(program) }
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.line.push(' ');
        self.line.push_str(&shell_quote(arg.as_ref()));
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(self, args: I) -> Self {
        args.into_iter().fold(self, Self::arg)
    }

    /// The name errors give the command: the program, or the name given by [`Self::named`].
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// Names the command in errors by what it is for ("inspection script") rather than by its
    /// program (`sh`). The line sent is unchanged.
    pub fn named(mut self, name: &'static str) -> Self {
        self.program = name;
        self
    }

    /// The quoted line the remote shell receives.
    pub fn line(&self) -> &str {
        &self.line
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// What a command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// `None` when the command died by a signal (or the server sent no status).
    pub status: Option<u32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The status as text for error messages ("1", "signal").
    pub fn status_text(&self) -> String {
        self.status.map_or_else(|| "none (signal?)".to_string(), |s| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_every_argument_one_word() {
        assert_eq!(shell_quote("r1p3"), "'r1p3'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(reboot); `id` | x\ny"), "'$(reboot); `id` | x\ny'");
        let c = RemoteCommand::new("ovs-vsctl").arg("get").arg("Port").arg("r1p3 -- del-br br0");
        assert_eq!(c.line(), "'ovs-vsctl' 'get' 'Port' 'r1p3 -- del-br br0'");
    }

    /// The quoted line, run by a real shell, yields exactly the original arguments.
    #[test]
    fn a_real_shell_sees_the_original_arguments() {
        let nasty = ["x; ovs-vsctl del-br br0", "$(reboot)", "`id`", "a\nb", "a'b", "'", "\"q\"", "\\", "*"];
        let c = RemoteCommand::new("printf").arg("%s\\0").args(nasty);
        let out = std::process::Command::new("sh").arg("-c").arg(c.line()).output().unwrap();
        let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().split_terminator('\0').collect();
        assert_eq!(got, nasty);
    }
}
