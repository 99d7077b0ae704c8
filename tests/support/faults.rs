//! Fault injection around the real actions: every builtin action wrapped so a test can fail a
//! named step after its forward work (the harshest point: work done, success not recorded), or
//! fail every undo.

use std::sync::{Arc, Mutex};

use kolokasi::engine::{Action, ActionCtx, BoxFuture, Cause, Outcome, Param, Registry, StepError};
use serde_json::Value;

/// The switches a test flips; shared by every wrapped action.
#[derive(Clone, Default)]
pub struct Faults {
    fail_step: Arc<Mutex<Option<String>>>,
    fail_undo: Arc<Mutex<bool>>,
}

impl Faults {
    /// Fails the step named `step` (after its work) from now on; `None` stops failing.
    pub fn fail_step(&self, step: Option<&str>) {
        *self.fail_step.lock().unwrap() = step.map(str::to_string);
    }

    /// Makes every undo fail (or succeed again).
    #[allow(dead_code)] // hosting.rs never fails an undo
    pub fn fail_undo(&self, fail: bool) {
        *self.fail_undo.lock().unwrap() = fail;
    }

    /// A registry of every builtin action, each wrapped by these faults.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        for a in kolokasi::actions::builtin().all() {
            registry.register(Injector { inner: a.clone(), faults: self.clone() });
        }
        registry
    }
}

struct Injector {
    inner: Arc<dyn Action>,
    faults: Faults,
}

impl Action for Injector {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn describe(&self) -> &'static str {
        self.inner.describe()
    }
    fn params(&self) -> &'static [Param] {
        self.inner.params()
    }
    fn outputs(&self) -> &'static [&'static str] {
        self.inner.outputs()
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        self.inner.plan(ctx)
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let out = self.inner.run(ctx).await?;
            if self.faults.fail_step.lock().unwrap().as_deref() == Some(ctx.step) {
                return Err(StepError::new(Cause::Refused, format!("injected failure at {}", ctx.step)));
            }
            Ok(out)
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            if *self.faults.fail_undo.lock().unwrap() {
                return Err(StepError::new(Cause::Refused, "injected undo failure"));
            }
            self.inner.undo(ctx, output).await
        })
    }
}
