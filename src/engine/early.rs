//! Early sessions: when a run is driven, the sessions its remaining steps will need — SSH to
//! the switch, the firewall and configured customer servers, the SMTP login for notices — are
//! opened at once, concurrently and in the background, so the first step on each device finds
//! its session ready instead of paying connect + key exchange + authentication in turn.
//!
//! Best effort by design: a session that cannot be opened early is only logged; the step then
//! opens it as it always did, and reports the error if there is one. Nothing here changes a
//! device or writes the run log.

use std::sync::Arc;

use serde_json::Value;

use super::Engine;
use super::run_log::StepStatus;

/// What a run's steps will connect to.
enum Session {
    Ssh(crate::ssh::SshTarget, Arc<crate::ssh::SshPool>),
    Smtp(Arc<crate::notify::smtp::Mailer>),
}

impl Engine {
    /// Starts opening the sessions of the run's unfinished steps; returns at once. The task
    /// ends by itself (each open has the pool's connect timeout).
    pub fn open_sessions_early(&self, run_id: &str) {
        if std::env::var("KOLOKASI_EARLY_SESSIONS").is_ok_and(|v| v == "0") {
            return;
        }
        let (engine, run_id) = (self.clone(), run_id.to_string());
        tokio::spawn(async move {
            let sessions = match engine.sessions_of(&run_id).await {
                Ok(s) => s,
                Err(e) => return tracing::debug!(run = %run_id, error = %e, "cannot tell the run's devices early"),
            };
            let opens = sessions.into_iter().map(|s| async move {
                let started = std::time::Instant::now();
                let (what, result) = match &s {
                    Session::Ssh(target, pool) => (target.name.clone(), pool.warm(target).await.map(|_| ()).map_err(|e| e.to_string())),
                    Session::Smtp(mailer) => ("smtp".to_string(), mailer.warm().await.map_err(|e| e.to_string())),
                };
                match result {
                    Ok(()) => tracing::debug!(session = %what, elapsed_ms = started.elapsed().as_millis() as u64, "session opened early"),
                    Err(e) => tracing::info!(session = %what, error = %e, "could not open the session early; the step will try itself"),
                }
            });
            futures_util::future::join_all(opens).await;
        });
    }

    /// The sessions the run's unfinished steps will use, from their parameters as far as they
    /// resolve now (a device named by an output not produced yet is left for its step).
    async fn sessions_of(&self, run_id: &str) -> Result<Vec<Session>, super::EngineError> {
        let (pb, view) = self.view(run_id).await?;
        let run = self.service().store.run(run_id).await?;
        let request_id = crate::domain::RequestId::parse(&run.request_id).map_err(|e| super::EngineError::Corrupt(e.to_string()))?;
        let request = self.service().store.request(&request_id).await?;
        let scope = self.scope(&request, &view);
        let drivers = &self.env.drivers;
        let mut out: Vec<Session> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (step, sv) in pb.steps.iter().zip(&view.steps) {
            if matches!(sv.status, StepStatus::Succeeded | StepStatus::Skipped { .. }) {
                continue;
            }
            let Some(action) = self.env.registry.get(&step.action) else { continue };
            if action.name() == "notify" && let Some(m) = &drivers.notify.mailer && seen.insert("smtp".to_string()) {
                out.push(Session::Smtp(m.clone()));
            }
            let params = match &sv.params {
                Some(p) => p.clone(),
                None => super::executor::resolve_partial(&Value::Object(step.with.clone()), &scope),
            };
            for device in action.devices(&params) {
                let ssh = if let Some(server) = device.strip_prefix("server:") {
                    drivers.servers.get(server).map(|t| (t, &drivers.ssh))
                } else {
                    drivers.switches.get(&device).and_then(|d| d.ssh_target()).or_else(|| drivers.firewalls.get(&device).and_then(|d| d.ssh_target()))
                };
                if let Some((target, pool)) = ssh && seen.insert(target.name.clone()) {
                    out.push(Session::Ssh(target.clone(), pool.clone()));
                }
            }
        }
        Ok(out)
    }
}
