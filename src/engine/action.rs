//! The action interface: a forward action and its undo, declared together, plus what the
//! playbook checker needs to know (parameters, outputs) and what `run plan` prints.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

pub use super::step_error::StepError;
use super::Env;
use crate::store::RequestRow;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a step's forward action produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; the output is saved before the next step starts.
    Done(Value),
    /// A gate: the run pauses until a person records what it waits for.
    Wait(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Text,
    Integer,
    Bool,
    /// An IP address (v4 or v6).
    Address,
    /// A domain name.
    Name,
    /// A list of any of the above.
    List,
    /// Anything (objects from earlier steps).
    Any,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
}

pub const fn required(name: &'static str, kind: ParamKind) -> Param {
    Param { name, kind, required: true }
}

pub const fn optional(name: &'static str, kind: ParamKind) -> Param {
    Param { name, kind, required: false }
}

/// Everything a step may read: the request, its own resolved parameters, and the drivers.
/// (Outputs of earlier steps reach it only through parameters that reference them.)
pub struct ActionCtx<'a> {
    pub run_id: &'a str,
    pub step: &'a str,
    pub request: &'a RequestRow,
    pub params: &'a Value,
    pub env: &'a Env,
}

impl ActionCtx<'_> {
    pub fn param_str(&self, name: &str) -> Result<&str, StepError> {
        self.params.get(name).and_then(Value::as_str).ok_or_else(|| StepError::invalid(format!("parameter {name} is missing or not text")))
    }

    pub fn param_opt_str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

pub trait Action: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// One line for `playbook actions` and the console.
    fn describe(&self) -> &'static str;
    fn params(&self) -> &'static [Param];
    /// Keys of the JSON object `run` returns, for checking references at load time.
    fn outputs(&self) -> &'static [&'static str];
    /// Devices this step changes (for per-device serialisation).
    fn devices(&self, _params: &Value) -> Vec<String> {
        Vec::new()
    }
    /// What the step would do, for `run plan` (changes nothing).
    fn plan(&self, ctx: &ActionCtx<'_>) -> String;
    /// The forward action. Must be idempotent: re-run after a crash, it finds its own work.
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>>;
    /// Undoes the forward action, given its saved output (`None` if it never finished). Must
    /// be idempotent and succeed when there is nothing to undo.
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>>;
}

/// The actions the engine knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    pub fn register(&mut self, action: impl Action) -> &mut Self {
        self.actions.insert(action.name(), Arc::new(action));
        self
    }

    pub fn register_arc(&mut self, action: Arc<dyn Action>) -> &mut Self {
        self.actions.insert(action.name(), action);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &&'static str> {
        self.actions.keys()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}
