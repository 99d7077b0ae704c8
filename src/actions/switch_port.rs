//! `switch_port`: puts a switch port into the request's access VLAN, with a description;
//! undo puts the port back as it was before the request took it.
//!
//! Idempotent: the port carries the request id and its previous state in its own
//! configuration (`external_ids`), so a re-run after a crash finds its own work and keeps the
//! state saved the first time, and an undo works even if the forward output was never saved.

use serde_json::Value;

use crate::domain::SavedOutput;
use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::ipam::Vlan;
use crate::ssh::RequestTag;
use crate::switch::{PortDescription, PortMode, SwitchDriver, SwitchPortConfig, SwitchStepOutput};

pub struct SwitchPort;

const PARAMS: &[Param] = &[
    required("device", ParamKind::Text),
    required("port", ParamKind::Text),
    required("vlan", ParamKind::Integer),
    optional("description", ParamKind::Text),
];

fn switch<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a SwitchDriver, StepError> {
    let device = ctx.param_str("device")?;
    ctx.env.drivers.switches.get(device).map(|d| &**d).ok_or_else(|| StepError::invalid(format!("no switch named {device:?} is configured")))
}

fn vlan(ctx: &ActionCtx<'_>) -> Result<Vlan, StepError> {
    let v = ctx.params.get("vlan");
    let n = v.and_then(Value::as_u64).or_else(|| v.and_then(Value::as_str).and_then(|s| s.parse().ok()));
    let n = n.ok_or_else(|| StepError::invalid("parameter vlan is missing or not a number"))?;
    u32::try_from(n).ok().and_then(|n| Vlan::new(n).ok()).ok_or_else(|| StepError::invalid(format!("VLAN {n} is outside 1-4094")))
}


fn fatal(e: impl std::fmt::Display) -> StepError {
    StepError::invalid(e.to_string())
}

impl Action for SwitchPort {
    fn name(&self) -> &'static str {
        "switch_port"
    }
    fn describe(&self) -> &'static str {
        "put a switch port into an access VLAN with a description"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["device", "port", "vlan", "previous"]
    }
    fn devices(&self, params: &Value) -> Vec<String> {
        params.get("device").and_then(Value::as_str).map(|d| vec![d.to_string()]).unwrap_or_default()
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        format!(
            "set port {} on {} to access VLAN {} for {}",
            ctx.param_str("port").unwrap_or("?"),
            ctx.param_str("device").unwrap_or("?"),
            vlan(ctx).map(|v| v.to_string()).unwrap_or_else(|_| "?".into()),
            ctx.request.id
        )
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let driver = switch(ctx)?;
            let port = driver.port(ctx.param_str("port")?).map_err(fatal)?;
            let vlan = vlan(ctx)?;
            let request = RequestTag::from(&ctx.request.id);
            let description = match ctx.param_opt_str("description") {
                Some(text) => PortDescription::parse(text),
                None => PortDescription::parse(&format!("kolokasi {request}")),
            }
            .map_err(fatal)?;
            let config = SwitchPortConfig { port, mode: PortMode::Access(vlan), description, enabled: true, request };
            let applied = driver.apply(&config).await.map_err(StepError::from)?;
            let output = SwitchStepOutput { device: driver.device().to_string(), port: config.port.as_str().to_string(), vlan: vlan.get(), previous: applied.previous };
            Ok(Outcome::Done(serde_json::to_value(output).expect("serialisable")))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let driver = switch(ctx)?;
            let port = driver.port(ctx.param_str("port")?).map_err(fatal)?;
            let request = RequestTag::from(&ctx.request.id);
            let current = match driver.read(&port).await {
                Ok(c) => c,
                // A port the switch does not have was never changed (the forward step failed on it).
                Err(crate::switch::SwitchError::PortMissing { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            // Only a port this request still owns is ours to put back: it may never have been
            // changed (the forward failed early), be undone already, or belong to someone else.
            if current.request.as_ref() != Some(&request) {
                return Ok(());
            }
            let saved = output.and_then(SwitchStepOutput::read).map(|o| o.previous);
            let previous = saved.or_else(|| current.previous.as_deref().cloned()).ok_or_else(|| {
                StepError::invalid(format!("port {port} on {} carries {request} but its previous state is unknown", driver.device()))
            })?;
            driver.restore(&previous).await.map_err(StepError::from)?;
            Ok(())
        })
    }
}
