//! The SSH transport against the lab's real sshd hosts: commands, connection reuse, pinned
//! host keys, unreachable devices, timeouts, a connection dropped by the device.
//! Needs the lab (`bash deploy/lab/lab.sh up`); without it every test fails and says so.

use std::time::{Duration, Instant};

use kolokasi::lab::Lab;
use kolokasi::secrets::Secret;
use kolokasi::ssh::{HostKey, RemoteCommand, SshAuth, SshError, SshPool, SshSettings, SshTarget};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn target(host: &str, name: &str) -> SshTarget {
    SshTarget::from_lab(&lab(), host, name).unwrap_or_else(|e| panic!("{e}"))
}

fn quick_pool() -> SshPool {
    SshPool::new(SshSettings { connect_timeout: Duration::from_secs(2), command_timeout: Duration::from_secs(10), ..SshSettings::default() })
}

#[tokio::test]
async fn hostname_on_a_server_and_the_switch() {
    let pool = quick_pool();
    let srv1 = pool.exec_ok(&target("srv1", "srv1"), &RemoteCommand::new("hostname"), None).await.unwrap();
    assert_eq!(srv1.stdout.trim(), lab().host("srv1").unwrap().hostname.as_deref().unwrap());
    let sw = pool.exec_ok(&target("sw", "sw-r01"), &RemoteCommand::new("hostname"), None).await.unwrap();
    assert_eq!(sw.stdout.trim(), "klk-sw");
    assert_eq!(pool.connections_opened(), 2);
    // stderr and the exit status come back separately.
    let out = pool.exec(&target("srv1", "srv1"), &RemoteCommand::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])).await.unwrap();
    assert_eq!((out.status, out.stdout.as_str(), out.stderr.as_str()), (Some(3), "out\n", "err\n"));
}

#[tokio::test]
async fn twenty_commands_share_one_connection() {
    let pool = quick_pool();
    let t = target("srv1", "srv1");
    let started = Instant::now();
    for i in 0..20 {
        let out = pool.exec_ok(&t, &RemoteCommand::new("echo").arg(i.to_string()), None).await.unwrap();
        assert_eq!(out.stdout.trim(), i.to_string());
    }
    assert_eq!(pool.connections_opened(), 1, "every command must reuse the first connection");
    assert_eq!(pool.live_connections().await, 1);
    eprintln!("20 commands on one connection: {:?}", started.elapsed());
}

#[tokio::test]
async fn commands_from_concurrent_tasks_are_serialised_per_device() {
    let pool = std::sync::Arc::new(quick_pool());
    let t = target("srv2", "srv2");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (pool, t) = (pool.clone(), t.clone());
            tokio::spawn(async move { pool.exec_ok(&t, &RemoteCommand::new("true"), None).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(pool.connections_opened(), 1);
}

#[tokio::test]
async fn a_changed_host_key_is_a_hard_error_naming_the_device() {
    let pool = quick_pool();
    let mut t = target("srv1", "srv1-pinned-wrong");
    let real = t.host_key.clone();
    t.host_key = HostKey::parse(&lab().host("srv2").unwrap().host_key).unwrap();
    let err = pool.exec(&t, &RemoteCommand::new("true")).await.unwrap_err();
    assert!(matches!(err, SshError::HostKeyChanged { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("host key of srv1-pinned-wrong changed"), "{text}");
    assert!(text.contains(t.host_key.as_str()) && text.contains(real.as_str()), "{text}");
    assert_eq!(pool.connections_opened(), 0);
}

#[tokio::test]
async fn an_unreachable_address_is_retryable_and_quick() {
    let pool = SshPool::new(SshSettings { connect_timeout: Duration::from_secs(1), command_timeout: Duration::from_secs(5), ..SshSettings::default() });
    let mut t = target("srv1", "ghost");
    t.address = "198.51.100.77:22".parse().unwrap();
    let started = Instant::now();
    let err = pool.exec(&t, &RemoteCommand::new("true")).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.is_retryable(), "{err:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let text = err.to_string();
    assert!(text.contains("ghost") && text.contains("198.51.100.77:22"), "{text}");

    // Nothing listening (connection refused) is retryable too.
    t.address = "198.51.100.11:2".parse().unwrap();
    let err = pool.exec(&t, &RemoteCommand::new("true")).await.unwrap_err();
    assert!(matches!(err, SshError::Unreachable { .. }) && err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_command_timeout_fires_and_the_connection_stays_usable() {
    let pool = quick_pool();
    let t = target("srv2", "srv2-timeout");
    let started = Instant::now();
    let err = pool.exec_with(&t, &RemoteCommand::new("sleep").arg("5"), None, Duration::from_millis(500)).await.unwrap_err();
    assert!(matches!(err, SshError::CommandTimeout { .. }) && err.is_retryable(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("srv2-timeout"));
    pool.exec_ok(&t, &RemoteCommand::new("true"), None).await.unwrap();
    assert_eq!(pool.connections_opened(), 1);
}

#[tokio::test]
async fn a_connection_the_device_dropped_is_reopened_once() {
    let pool = quick_pool();
    let t = target("srv1", "srv1-dropped");
    pool.exec_ok(&t, &RemoteCommand::new("true"), None).await.unwrap();
    // Kill this connection's own sshd process (`sshd: root@notty`, the parent of `sh -c` or of
    // the pool's persistent shell running it), never the listener.
    let kill = "p=$PPID; while :; do a=$(ps -o args= -p $p); case \"$a\" in *listener*|'') exit 99;; sshd:*) break;; esac; \
                p=$(ps -o ppid= -p $p | tr -d ' '); done; kill -9 $p";
    let out = pool.exec(&t, &RemoteCommand::new("sh").args(["-c", kill])).await;
    assert!(!matches!(out, Ok(ref o) if o.status == Some(99)), "sh's parent is the sshd listener: {out:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = pool.exec_ok(&t, &RemoteCommand::new("hostname"), None).await.unwrap();
    assert_eq!(out.stdout.trim(), "srv-sipd");
    assert_eq!(pool.connections_opened(), 2);
}

/// The pool's persistent shell dying — under a command or while idle — costs that command at
/// most (a retryable error); the next one gets a new shell on the same connection.
#[tokio::test]
async fn a_dead_persistent_shell_is_replaced_on_the_same_connection() {
    let pool = quick_pool();
    let t = target("srv1", "srv1-shell-killed");
    pool.exec_ok(&t, &RemoteCommand::new("true"), None).await.unwrap();
    let err = pool.exec(&t, &RemoteCommand::new("sh").args(["-c", "kill -9 $PPID; sleep 1"])).await.unwrap_err();
    assert!(matches!(err, SshError::ShellEnded { .. }) && err.is_retryable(), "{err:?}");
    assert_eq!(pool.exec_ok(&t, &RemoteCommand::new("hostname"), None).await.unwrap().stdout.trim(), "srv-sipd");
    // Killed while idle, after the command that arranged it returned.
    pool.exec_ok(&t, &RemoteCommand::new("sh").args(["-c", "p=$PPID; (sleep 0.2; kill -9 $p) >/dev/null 2>&1 &"]), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pool.exec_ok(&t, &RemoteCommand::new("hostname"), None).await.unwrap().stdout.trim(), "srv-sipd");
    assert_eq!(pool.connections_opened(), 1);
}

#[tokio::test]
async fn key_from_memory_works_and_a_refused_password_is_fatal() {
    let pool = quick_pool();
    let lab = lab();
    let mut t = target("srv1", "srv1-pem");
    t.auth = SshAuth::KeyPem(Secret::new(std::fs::read_to_string(&lab.ssh.private_key_file).unwrap()));
    pool.exec_ok(&t, &RemoteCommand::new("true"), None).await.unwrap();

    // The lab's sshd allows keys only.
    let mut t = target("srv1", "srv1-password");
    t.auth = SshAuth::Password(Secret::new("canary-not-the-password"));
    let err = pool.exec(&t, &RemoteCommand::new("true")).await.unwrap_err();
    assert!(matches!(err, SshError::LoginRefused { .. }) && !err.is_retryable(), "{err:?}");
    assert!(!format!("{err:?} {t:?}").contains("canary"));
}
