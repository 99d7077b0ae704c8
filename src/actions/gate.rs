//! `gate`: pauses the run until a person records what it waits for. Today one gate exists,
//! `hardware_received` (SOP step 7: the unit delivered its server — S/N, type & brand, port).
//! The SLA clock is paused meanwhile by the lifecycle (AwaitingHardware).

use serde_json::{Value, json};

use crate::engine::action::required;
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};

pub struct Gate;

const PARAMS: &[Param] = &[required("gate", ParamKind::Text)];

impl Action for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn describe(&self) -> &'static str {
        "wait for a person to record the hardware delivery"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["serial_number", "type_brand", "switch_port"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        match &ctx.request.hardware {
            Some(h) => format!("hardware already recorded: S/N {}", h.serial_number),
            None => "wait until the unit delivers its server (kolokasi request hardware …)".into(),
        }
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            match ctx.param_str("gate")? {
                "hardware_received" => Ok(match &ctx.request.hardware {
                    Some(h) => Outcome::Done(json!({
                        "serial_number": h.serial_number,
                        "type_brand": h.type_brand,
                        "switch_port": h.switch_port,
                    })),
                    None => Outcome::Wait(format!("menunggu perangkat dari OPD: record it with `kolokasi request hardware {} --serial … --type-brand … --port …`", ctx.request.id)),
                }),
                other => Err(StepError::invalid(format!("unknown gate {other:?}"))),
            }
        })
    }
    fn undo<'a>(&'a self, _ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        // A gate changes nothing outside kolokasi; the receipt stays as evidence.
        Box::pin(async { Ok(()) })
    }
}
