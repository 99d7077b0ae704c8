//! `inspect_server`: SOP step 8, the inspector verifies that the server matches the declared
//! specification. Gathers the server's facts over SSH, compares them with the request's
//! declared server, and stops the run with the report when an item does not match, so the
//! operator can have the server fixed and re-run the step.
//!
//! Reads only: re-running it is harmless, and there is nothing to undo.

use serde_json::{Value, json};

use crate::domain::ServerSpec;
use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::inspect::{self, InspectError, Rules};
use crate::ssh::SshTarget;

pub struct InspectServer;

const PARAMS: &[Param] = &[required("server", ParamKind::Text), optional("ram_tolerance_percent", ParamKind::Integer)];

/// The SSH target of the server named by the `server` parameter. The name only selects a
/// configured target; it is never sent to the server.
///
/// TODO(design): in production the target comes from the request itself: the address from the
/// hardware receipt (SOP step 7) and the login from the Form Persetujuan's host admin
/// credentials (sealed), with the host key pinned on first contact by the inspector. The lab
/// configures targets by name in `Drivers::servers`.
fn target<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a SshTarget, StepError> {
    let server = ctx.param_str("server")?;
    ctx.env.drivers.servers.get(server).ok_or_else(|| StepError::Fatal(format!("no SSH target is configured for server {server:?}")))
}

/// The declared server of that name, else the request's first server.
fn declared<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a ServerSpec, StepError> {
    let server = ctx.param_str("server")?;
    let servers = &ctx.request.form.servers;
    servers
        .iter()
        .find(|s| s.name.as_str().eq_ignore_ascii_case(server))
        .or_else(|| servers.first())
        .ok_or_else(|| StepError::Fatal(format!("request {} declares no server", ctx.request.id)))
}

fn rules(ctx: &ActionCtx<'_>) -> Result<Rules, StepError> {
    let Some(v) = ctx.params.get("ram_tolerance_percent").filter(|v| !v.is_null()) else {
        return Ok(Rules::default());
    };
    let percent = v.as_u64().filter(|p| *p <= 100).ok_or_else(|| StepError::Fatal(format!("ram_tolerance_percent must be 0-100, not {v}")))?;
    Ok(Rules { ram_tolerance_percent: percent as u8 })
}

fn step_error(e: InspectError) -> StepError {
    let text = match std::error::Error::source(&e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    };
    if e.is_retryable() { StepError::Retryable(text) } else { StepError::Fatal(text) }
}

impl Action for InspectServer {
    fn name(&self) -> &'static str {
        "inspect_server"
    }
    fn describe(&self) -> &'static str {
        "inspect a server over SSH and compare it with the declared specification (SOP step 8)"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["server", "passed", "report", "facts"]
    }
    fn devices(&self, params: &Value) -> Vec<String> {
        params.get("server").and_then(Value::as_str).map(|s| vec![format!("server:{s}")]).unwrap_or_default()
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        let server = ctx.param_str("server").unwrap_or("?");
        let tolerance = rules(ctx).map(|r| r.ram_tolerance_percent.to_string()).unwrap_or_else(|_| "?".into());
        format!(
            "inspect server {server} over SSH (read only) and check against the declared spec: OS name and version, \
             CPU count, RAM (within {tolerance}%), total disk, each application and version, each service listening; \
             processor, motherboard and PSU for information; stop the run if an item does not match"
        )
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let spec = declared(ctx)?;
            let rules = rules(ctx)?;
            let target = target(ctx)?;
            let facts = inspect::gather(&ctx.env.drivers.ssh, target).await.map_err(step_error)?;
            let report = inspect::compare(spec, &facts, &rules);
            if !report.passed() {
                return Err(StepError::Fatal(report.text_failures_first()));
            }
            Ok(Outcome::Done(json!({
                "server": ctx.param_str("server")?,
                "passed": true,
                "report": report,
                "facts": facts,
            })))
        })
    }
    fn undo<'a>(&'a self, _ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        // Inspection changed nothing.
        Box::pin(async { Ok(()) })
    }
}
