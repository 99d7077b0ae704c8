//! A burst of 200 sign-ins at once keeps memory bounded: at most `auth_verification_slots`
//! argon2id verifications (~19 MiB each) run together; the rest wait briefly, then get 429.
//! Alone in its test binary, so that the process's peak memory is this test's.

mod common;

use common::*;
use kolokasi::secrets::Secret;
use kolokasi::service::ServiceError;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_200_sign_ins_stays_within_the_verification_slots() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await.with_verification_slots(4);
    // Warm up: one verification (the allocator keeps what it had).
    let _ = svc.authenticate_password_from("warm", &Secret::new("x"), "10.1.0.1").await;
    let before = peak_rss_kib();
    let mut all = Vec::new();
    for i in 0..200 {
        let svc = svc.clone();
        // Distinct accounts and addresses: no limit stops them before the password check.
        all.push(tokio::spawn(async move { svc.authenticate_password_from(&format!("nobody{i}"), &Secret::new("salah"), &format!("10.2.{}.{}", i / 250, i % 250)).await }));
    }
    let (mut checked, mut told_to_wait) = (0, 0);
    for t in all {
        match t.await.unwrap() {
            Err(ServiceError::Unauthorized(_)) => checked += 1,
            Err(ServiceError::RateLimited(_)) => told_to_wait += 1,
            other => panic!("{other:?}"),
        }
    }
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("200 sign-ins: {checked} checked, {told_to_wait} told to come back; peak memory +{grown_mib} MiB");
    assert_eq!(checked + told_to_wait, 200);
    assert!(checked >= 4, "the slots were used");
    // Bounded by the slots, not by the burst: measured here ~230 MiB with 1 slot, ~500 MiB
    // with 4 and ~1.1 GiB with 16 (the allocator keeps what argon2 took); without the cap the
    // 200 verifications run together (tokio's blocking pool has 512 threads) and take GiBs.
    assert!(grown_mib < 900, "peak memory grew by {grown_mib} MiB");
}
