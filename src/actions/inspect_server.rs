//! `inspect_server`: SOP step 8, the inspector verifies that the server matches the declared
//! specification. Gathers the server's facts over SSH, compares them with the request's
//! declared server, and stops the run with the report when an item does not match, so the
//! operator can have the server fixed and re-run the step.
//!
//! Reads only: re-running it is harmless, and there is nothing to undo.
//!
//! Which server: a target configured by name in the drivers (the lab's customer servers), else
//! the request's own server — its `address` (the step passes the allocated one), the host key
//! the inspector recorded at the hardware gate, and the host admin login of the Form
//! Persetujuan: by the SSH key an operator attached to the request (`request attach-key`), when
//! there is one, else by the form's password (either unsealed for the login only; never printed
//! or stored elsewhere). A missing piece stops the step with a message that names it.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use crate::domain::ServerSpec;
use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Cause, Outcome, Param, ParamKind, StepError};
use crate::inspect::{self, Rules};
use crate::domain::HostAdmin;
use crate::ssh::{SshAuth, SshTarget};

pub struct InspectServer;

const PARAMS: &[Param] = &[
    required("server", ParamKind::Text),
    optional("address", ParamKind::Text),
    optional("ram_tolerance_percent", ParamKind::Integer),
];

/// The SSH target of the server named by the `server` parameter: a configured one (the name
/// only selects it; it is never sent to the server), else the request's own server.
async fn target<'a>(ctx: &'a ActionCtx<'a>) -> Result<Cow<'a, SshTarget>, StepError> {
    let server = ctx.param_str("server")?;
    if let Some(t) = ctx.env.drivers.servers.get(server) {
        return Ok(Cow::Borrowed(t));
    }
    let missing = |what: &str| StepError::invalid(format!("cannot log in to server {server} for the inspection: {what}"));
    let address: IpAddr = match ctx.params.get("address").and_then(Value::as_str) {
        Some(a) => a.parse().map_err(|_| StepError::invalid(format!("parameter address {a:?} is not an IP address")))?,
        None => return Err(missing("no SSH target is configured for it and the step has no `address`")),
    };
    let request = ctx.request;
    let host_key = request.hardware.as_ref().and_then(|h| h.host_key.clone()).ok_or_else(|| {
        missing("the hardware receipt records no SSH host key (record it at the hardware gate: `request hardware --host-key`)")
    })?;
    let admin = request.approval.as_ref().and_then(|a| a.colocation.as_ref()).and_then(|c| c.host_admin.as_ref());
    let attached = ctx.env.service.host_admin_key(&request.id).await.map_err(|e| StepError::invalid(format!("cannot open the attached host admin key: {e}")))?;
    let (user, auth) = match (admin, attached) {
        (Some(HostAdmin { user, .. }), Some(pem)) => (user, SshAuth::KeyPem(pem)),
        (Some(HostAdmin { user, password: Some(sealed) }), None) => {
            let key = ctx.env.service.key().map_err(|e| StepError::invalid(format!("cannot open the host admin password: {e}")))?;
            let password = key
                .open(sealed, &HostAdmin::seal_context(&request.id))
                .map_err(|e| StepError::invalid(format!("cannot open the host admin password: {e}")))?;
            (user, SshAuth::Password(password))
        }
        (None, _) => return Err(missing("the Form Persetujuan records no host admin user")),
        (Some(_), None) => return Err(missing("the Form Persetujuan records no host admin password and no SSH key is attached (`request attach-key`)")),
    };
    Ok(Cow::Owned(SshTarget {
        // Its own pool slot: another request's server of the same name is another machine.
        name: format!("{}/{server}", request.id),
        address: SocketAddr::new(address, 22),
        user: user.to_string(),
        auth,
        host_key,
    }))
}

/// The declared server of that name, else the request's first server.
fn declared<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a ServerSpec, StepError> {
    let server = ctx.param_str("server")?;
    let servers = &ctx.request.form.servers;
    servers
        .iter()
        .find(|s| s.name.as_str().eq_ignore_ascii_case(server))
        .or_else(|| servers.first())
        .ok_or_else(|| StepError::invalid(format!("request {} declares no server", ctx.request.id)))
}

fn rules(ctx: &ActionCtx<'_>) -> Result<Rules, StepError> {
    let Some(v) = ctx.params.get("ram_tolerance_percent").filter(|v| !v.is_null()) else {
        return Ok(Rules::default());
    };
    let percent = v.as_u64().filter(|p| *p <= 100).ok_or_else(|| StepError::invalid(format!("ram_tolerance_percent must be 0-100, not {v}")))?;
    Ok(Rules { ram_tolerance_percent: percent as u8 })
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
            let target = target(ctx).await?;
            let facts = inspect::gather(&ctx.env.drivers.ssh, &target).await;
            if let Cow::Owned(t) = &target {
                // A unit's server is inspected once: no session with its admin login stays open.
                ctx.env.drivers.ssh.forget(&t.name).await;
            }
            let facts = facts.map_err(StepError::from)?;
            let report = inspect::compare(spec, &facts, &rules);
            if !report.passed() {
                return Err(StepError::new(Cause::Mismatch, report.text_failures_first()));
            }
            let output = inspect::InspectionOutput { server: ctx.param_str("server")?.to_string(), passed: true, report, facts };
            Ok(Outcome::Done(serde_json::to_value(output).expect("serialisable")))
        })
    }
    fn undo<'a>(&'a self, _ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        // Inspection changed nothing.
        Box::pin(async { Ok(()) })
    }
}
