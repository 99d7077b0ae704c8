//! `kolokasi user …` and `kolokasi token …`: accounts and API tokens. Passwords come from a
//! terminal prompt (echo off) or standard input (`--password-stdin`), never from a flag; a new
//! token is printed once and never again.

use std::io::{BufRead, IsTerminal, Write as _};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table, wita};
use crate::lifecycle::Role;
use crate::secrets::Secret;
use crate::service::NewUser;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account (admin only). The first admin is created by the local CLI on the
    /// store's machine: `kolokasi user add NAME --new-role admin --actor root --role admin`.
    Add {
        username: String,
        /// The account's role: requester, admin, supervisor, operator, inspector, head, auditor.
        #[arg(long = "new-role")]
        new_role: Role,
        /// Full name as documents print it (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// The unit (OPD) of a requester, exactly as their requests name it.
        #[arg(long = "new-unit")]
        new_unit: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long, conflicts_with = "no_password")]
        password_stdin: bool,
        /// No password: the account signs in with API tokens only.
        #[arg(long)]
        no_password: bool,
    },
    /// All accounts (admin, auditor).
    List,
    /// Disable an account: its password and tokens stop working at once.
    Disable {
        username: String,
        /// Enable it again instead.
        #[arg(long)]
        enable: bool,
    },
    /// Clear the failed sign-ins counted against an account (admin): for an account an
    /// attacker keeps locked by guessing.
    Unlock { username: String },
    /// Set an account's password (an admin for anyone, anyone for themselves).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token; it is printed once.
    Create {
        /// Whose token (defaults to the acting user).
        #[arg(long)]
        user: Option<String>,
        /// The token may only read (GET).
        #[arg(long)]
        read_only: bool,
        /// Days until it expires (1-366).
        #[arg(long, default_value_t = 90)]
        ttl_days: i64,
    },
    /// Tokens (never the token itself).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

/// Reads a password: one line of standard input, or a prompt with echo off on a terminal.
pub(crate) fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
        return Ok(Secret::new(line.trim_end_matches(['\r', '\n'])));
    }
    let first = prompt_hidden("Password: ")?;
    if confirm {
        let again = prompt_hidden("Again: ")?;
        anyhow::ensure!(first.expose() == again.expose(), "the two passwords differ");
    }
    Ok(first)
}

/// Prompts on the terminal with echo turned off, restoring it afterwards.
fn prompt_hidden(prompt: &str) -> anyhow::Result<Secret> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd, checked below.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let is_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if is_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: same fd, a termios copied from the one tcgetattr returned.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if is_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read.context("cannot read the password")?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

pub async fn run_user(ctx: &Ctx, cmd: UserCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        UserCmd::Add { username, new_role, display_name, new_unit, password_stdin, no_password } => {
            let password = if no_password || (!password_stdin && !std::io::stdin().is_terminal()) {
                None
            } else {
                Some(read_password(password_stdin, true)?)
            };
            let input = NewUser { display_name: display_name.unwrap_or_else(|| username.clone()), username, role: new_role, unit: new_unit, password };
            let user = service.create_user(ctx.actor()?, input).await?;
            if ctx.json {
                print_json(&user);
            } else {
                println!("user {} ({}) created{}", user.username, user.role, if user.has_password { "" } else { " without a password (tokens only)" });
            }
        }
        UserCmd::List => {
            let users = service.list_users(&ctx.reader()?).await?;
            if ctx.json {
                print_json(&users);
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.display_name.clone(),
                            u.role.to_string(),
                            u.unit.clone().unwrap_or_else(|| "-".into()),
                            if u.disabled { "disabled" } else { "active" }.into(),
                            if u.has_password { "yes" } else { "no" }.into(),
                        ]
                    })
                    .collect();
                print_table(&["USER", "NAME", "ROLE", "UNIT", "STATUS", "PASSWORD"], &rows);
            }
        }
        UserCmd::Disable { username, enable } => {
            service.disable_user(ctx.actor()?, &username, !enable).await?;
            println!("user {username} {}", if enable { "enabled" } else { "disabled" });
        }
        UserCmd::Unlock { username } => {
            let cleared = service.unlock_user(ctx.actor()?, &username).await?;
            println!("user {username} {}", if cleared { "unlocked" } else { "was not locked" });
        }
        UserCmd::Passwd { username, password_stdin } => {
            let password = read_password(password_stdin, true)?;
            service.set_password(ctx.actor()?, &username, &password).await?;
            println!("password of {username} set");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_token(ctx: &Ctx, cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        TokenCmd::Create { user, read_only, ttl_days } => {
            let actor = ctx.actor()?;
            let user = user.unwrap_or_else(|| actor.name.clone());
            let (view, token) = service.create_token(actor, &user, read_only, time::Duration::days(ttl_days)).await?;
            if ctx.json {
                // The one place a token is printed: it is shown once, on purpose.
                print_json(&serde_json::json!({ "token": token.expose(), "id": view.id, "username": view.username, "read_only": view.read_only, "expires_at": view.expires_at.unix_timestamp() }));
            } else {
                println!("{}", token.expose());
                eprintln!("token {} for {} ({}), expires {}; it is shown only now", view.id, view.username, if view.read_only { "read-only" } else { "read-write" }, wita(view.expires_at));
            }
        }
        TokenCmd::List { user } => {
            let tokens = service.list_tokens(&ctx.reader()?, user.as_deref()).await?;
            if ctx.json {
                print_json(&tokens);
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.username.clone(),
                            if t.read_only { "read-only" } else { "read-write" }.into(),
                            wita(t.expires_at),
                            t.revoked_at.map(wita).unwrap_or_else(|| "-".into()),
                            t.last_used_at.map(wita).unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(&["TOKEN", "USER", "ACCESS", "EXPIRES", "REVOKED", "LAST USED"], &rows);
            }
        }
        TokenCmd::Revoke { id } => {
            service.revoke_token(ctx.actor()?, &id).await?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
