//! Server inspection as it works in the field, against the lab's real sshd hosts: output and
//! time caps on a server that streams endlessly or hangs.
//! Needs the lab (`bash deploy/lab/lab.sh up`); without it every test fails and says so.

use std::time::{Duration, Instant};

use kolokasi::inspect::{self, InspectError};
use kolokasi::lab::Lab;
use kolokasi::ssh::{ExecLimits, RemoteCommand, SshError, SshPool, SshSettings, SshTarget};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn lab_target(host: &str, name: &str) -> SshTarget {
    SshTarget::from_lab(&lab(), host, name).unwrap_or_else(|e| panic!("{e}"))
}

/// `yes` on a real sshd streams endlessly: the cap stops it with a clear error, quickly, and the
/// next command on the pool works (the flooded connection was dropped, not reused).
#[tokio::test]
async fn an_endless_stream_hits_the_output_cap() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let started = Instant::now();
    let err = pool.exec(&target, &RemoteCommand::new("yes")).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("endless `yes` stopped after {took:?}: {err}");
    assert!(matches!(&err, SshError::OutputTooLarge { limit, .. } if *limit == 1 << 20), "{err:?}");
    assert_eq!(err.to_string(), "output too large from srv-sipd, `yes`: more than 1048576 bytes");
    assert!(!err.is_retryable());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let out = pool.exec_ok(&target, &RemoteCommand::new("hostname"), None).await.unwrap();
    assert_eq!(out.stdout.trim(), "srv-sipd");
    assert_eq!(pool.connections_opened(), 2, "the flooded connection is not reused");
}

/// stderr counts against the same cap.
#[tokio::test]
async fn an_endless_stderr_hits_the_cap_too() {
    let pool = SshPool::new(SshSettings { max_output_bytes: 64 << 10, ..SshSettings::default() });
    let target = lab_target("srv1", "srv-sipd");
    let command = RemoteCommand::new("sh").arg("-c").arg("yes >&2").named("yes to stderr");
    let err = pool.exec(&target, &command).await.unwrap_err();
    assert_eq!(err.to_string(), "output too large from srv-sipd, `yes to stderr`: more than 65536 bytes");
}

/// A command that never ends (and prints nothing) gets the time cap, and the pool recovers.
#[tokio::test]
async fn a_hanging_command_hits_the_time_cap() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let limits = ExecLimits { timeout: Duration::from_millis(500), max_output_bytes: 1 << 20 };
    let started = Instant::now();
    let err = pool.exec_limited(&target, &RemoteCommand::new("sleep").arg("600"), None, limits).await.unwrap_err();
    assert!(matches!(&err, SshError::CommandTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.to_string(), "`sleep` on srv-sipd did not finish within 500ms");
    let out = pool.exec_ok(&target, &RemoteCommand::new("true"), None).await;
    assert!(out.is_ok(), "{out:?}");
}

/// The inspection's own command is capped: with a cap below what the script prints, the
/// inspection fails naming the server and the command, not with a parse error or a panic.
#[tokio::test]
async fn the_inspection_script_is_capped() {
    let pool = SshPool::new(SshSettings::default());
    let target = lab_target("srv1", "srv-sipd");
    let limits = ExecLimits { max_output_bytes: 4 << 10, ..inspect::facts::LIMITS };
    let err = inspect::gather_limited(&pool, &target, limits).await.unwrap_err();
    assert!(matches!(&err, InspectError::Ssh(SshError::OutputTooLarge { .. })), "{err:?}");
    assert_eq!(err.to_string(), "output too large from srv-sipd, `inspection script`: more than 4096 bytes");
    assert!(!err.is_retryable(), "retrying a flood floods again");
    // The default cap holds the real output with room to spare.
    let facts = inspect::gather(&pool, &target).await.unwrap();
    assert!(facts.packages.is_available());
}
