//! Playbooks: ordered steps in YAML (`playbooks/*.yaml`), each naming an action and its
//! parameters. Loading checks everything a run would trip over later — unknown actions,
//! unknown or missing parameters, literal values of the wrong type, and references to
//! request fields or to outputs of steps that do not come earlier — and names the file, the
//! line and the step.
//!
//! References: a parameter value `${steps.address-v4.address}` is replaced by that value
//! (keeping its JSON type when it is the whole value, interpolated into text otherwise).
//! Roots: `request.*` (the request's fields), `steps.NAME.OUTPUT`, `hardware.*` (the gate's
//! receipt), `placement.*` (the reserved rack position).
//!
//! Order: a step runs after the step before it, unless it says `after: [step, …]` — then it
//! runs as soon as those have finished, concurrently with any other step that is ready. `after`
//! may only name steps that come earlier in the file (so a playbook cannot have a cycle), and a
//! step may only read outputs of steps it waits for, directly or through others.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::{ParamKind, Registry};
use crate::domain::RequestKind;
use crate::lifecycle::EventKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RequestKind>,
    #[serde(default)]
    pub description: String,
    /// Lifecycle events the engine applies when the run succeeds.
    #[serde(default)]
    pub on_success: Vec<EventKind>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub action: String,
    #[serde(default)]
    pub with: Map<String, Value>,
    /// The steps this one waits for; absent: the step before it (a plain list runs in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaybookError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}:{line}: step {step:?}: {message}")]
    Step { file: String, line: usize, step: String, message: String },
}

/// Fields of the request a playbook may reference (first segment after `request.`).
pub const REQUEST_FIELDS: &[&str] = &["id", "kind", "domain", "unit", "official", "contact", "email", "server", "servers"];
pub const HARDWARE_FIELDS: &[&str] = &["serial_number", "type_brand", "switch_port"];
pub const PLACEMENT_FIELDS: &[&str] = &["noc", "rack", "from_u", "to_u", "location", "switch", "firewall"];

impl Playbook {
    pub fn load(path: &Path, registry: &Registry) -> Result<Self, PlaybookError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlaybookError::Read { file: file.clone(), message: e.to_string() })?;
        Self::parse(&text, &file, registry)
    }

    pub fn parse(text: &str, file: &str, registry: &Registry) -> Result<Self, PlaybookError> {
        let pb: Self = serde_yaml_ng::from_str(text).map_err(|e| PlaybookError::Syntax { file: file.into(), message: e.to_string() })?;
        pb.check(text, file, registry)?;
        Ok(pb)
    }

    fn check(&self, text: &str, file: &str, registry: &Registry) -> Result<(), PlaybookError> {
        if self.steps.is_empty() {
            return Err(PlaybookError::Syntax { file: file.into(), message: "a playbook needs at least one step".into() });
        }
        if !crate::domain::RunId::valid_playbook(&self.name) {
            return Err(PlaybookError::Syntax { file: file.into(), message: format!("the playbook name {:?} must be 1-64 of a-z 0-9 - _ (it names the playbook's runs)", self.name) });
        }
        let mut earlier: Vec<(&str, &[&str])> = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            let err = |message: String| PlaybookError::Step { file: file.into(), line: step_line(text, &step.name), step: step.name.clone(), message };
            let name_ok = !step.name.is_empty() && step.name.len() <= 40 && step.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok {
                return Err(err("step names are 1-40 of a-z 0-9 -".into()));
            }
            if earlier.iter().any(|(n, _)| *n == step.name) {
                return Err(err("the step name is used twice".into()));
            }
            self.check_after(index).map_err(err)?;
            let ancestors = self.ancestors(index);
            let waited_for: Vec<(&str, &[&str])> = earlier.iter().enumerate().filter(|(i, _)| ancestors.contains(i)).map(|(_, e)| *e).collect();
            let Some(action) = registry.get(&step.action) else {
                let known: Vec<_> = registry.names().copied().collect();
                return Err(err(format!("unknown action {:?} (known: {})", step.action, known.join(", "))));
            };
            for (key, value) in &step.with {
                let Some(param) = action.params().iter().find(|p| p.name == key) else {
                    let known: Vec<_> = action.params().iter().map(|p| p.name).collect();
                    return Err(err(format!("action {} has no parameter {key:?} (parameters: {})", step.action, known.join(", "))));
                };
                check_references(value, &waited_for).map_err(|m| err(format!("parameter {key}: {m}")))?;
                check_literal(value, param.kind).map_err(|m| err(format!("parameter {key}: {m}")))?;
            }
            for p in action.params().iter().filter(|p| p.required) {
                if !step.with.contains_key(p.name) {
                    return Err(err(format!("action {} needs the parameter {}", step.action, p.name)));
                }
            }
            earlier.push((&step.name, action.outputs()));
        }
        Ok(())
    }

    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// `after` of step `index` names earlier steps only, each once.
    fn check_after(&self, index: usize) -> Result<(), String> {
        let Some(after) = &self.steps[index].after else { return Ok(()) };
        for (i, name) in after.iter().enumerate() {
            match self.step_index(name) {
                None => return Err(format!("after: no step is named {name:?}")),
                Some(j) if j == index => return Err("after: a step cannot wait for itself".into()),
                Some(j) if j > index => {
                    return Err(format!("after: {name:?} comes later in the playbook; a step waits only for earlier ones (so the order can have no cycle) — move it up"));
                }
                Some(_) if after[..i].contains(name) => return Err(format!("after: {name:?} is named twice")),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The steps step `index` waits for directly (indices, all earlier).
    pub fn deps(&self, index: usize) -> Vec<usize> {
        match &self.steps[index].after {
            None => index.checked_sub(1).into_iter().collect(),
            Some(names) => names.iter().filter_map(|n| self.step_index(n)).filter(|&j| j < index).collect(),
        }
    }

    /// Every step that must have finished before step `index` starts.
    pub fn ancestors(&self, index: usize) -> std::collections::BTreeSet<usize> {
        let mut out = std::collections::BTreeSet::new();
        let mut todo = self.deps(index);
        while let Some(j) = todo.pop() {
            if out.insert(j) {
                todo.extend(self.deps(j));
            }
        }
        out
    }

    /// The names of the steps step `index` waits for directly, for `run plan` and `run show`.
    pub fn after_names(&self, index: usize) -> Vec<String> {
        self.deps(index).into_iter().map(|j| self.steps[j].name.clone()).collect()
    }
}

/// The line of `- name: STEP` in the file (1-based), for messages.
fn step_line(text: &str, step: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches('-').trim_start();
            t.strip_prefix("name:").is_some_and(|v| v.trim().trim_matches(['"', '\'']) == step)
        })
        .map_or(0, |i| i + 1)
}

/// Every `${…}` in a value (strings, nested lists and maps).
pub fn references(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_strings(value, &mut |s| {
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            match rest[start..].find('}') {
                Some(end) => {
                    out.push(rest[start + 2..start + end].trim().to_string());
                    rest = &rest[start + end + 1..];
                }
                None => {
                    out.push(rest[start + 2..].to_string() + "\u{0}");
                    break;
                }
            }
        }
    });
    out
}

fn walk_strings(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|v| walk_strings(v, f)),
        Value::Object(m) => m.values().for_each(|v| walk_strings(v, f)),
        _ => {}
    }
}

fn check_references(value: &Value, earlier: &[(&str, &[&str])]) -> Result<(), String> {
    for r in references(value) {
        if r.ends_with('\u{0}') {
            return Err(format!("unterminated reference ${{{}", r.trim_end_matches('\u{0}')));
        }
        let parts: Vec<&str> = r.split('.').collect();
        let ok = match parts.as_slice() {
            ["request", field, ..] => REQUEST_FIELDS.contains(field),
            ["hardware", field] => HARDWARE_FIELDS.contains(field),
            ["placement", field] => PLACEMENT_FIELDS.contains(field),
            ["steps", step, output, ..] => match earlier.iter().find(|(n, _)| n == step) {
                None => return Err(format!("${{{r}}} refers to step {step:?}, which does not come earlier or which this step does not wait for (`after`, directly or through the steps named there)")),
                Some((_, outputs)) if !outputs.contains(output) => {
                    return Err(format!("${{{r}}}: step {step} has no output {output:?} (outputs: {})", outputs.join(", ")));
                }
                Some(_) => true,
            },
            _ => false,
        };
        if !ok {
            return Err(format!("unknown reference ${{{r}}} (roots: request.{{{}}}, steps.STEP.OUTPUT, hardware.*, placement.*)", REQUEST_FIELDS.join(",")));
        }
    }
    Ok(())
}

/// Checks literal (reference-free) values against the parameter's kind.
fn check_literal(value: &Value, kind: ParamKind) -> Result<(), String> {
    if let Value::String(s) = value
        && s.contains("${") {
            return Ok(()); // checked when resolved
        }
    let ok = match kind {
        ParamKind::Any => true,
        ParamKind::Text => value.is_string(),
        ParamKind::Integer => value.is_i64() || value.is_u64(),
        ParamKind::Bool => value.is_boolean(),
        ParamKind::List => value.is_array(),
        ParamKind::Address => value.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        ParamKind::Name => value.as_str().is_some_and(|s| crate::domain::Fqdn::parse(s).is_ok()),
    };
    if ok { Ok(()) } else { Err(format!("expected {kind:?}, got {value}")) }
}

/// Resolves references in `value` against `scope` (a JSON object with the roots).
pub fn resolve(value: &Value, scope: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) => {
            let trimmed = s.trim();
            if trimmed.starts_with("${") && trimmed.ends_with('}') && trimmed.matches("${").count() == 1 {
                return lookup(scope, &trimmed[2..trimmed.len() - 1]);
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}').ok_or("unterminated reference")? + start;
                let v = lookup(scope, &rest[start + 2..end])?;
                match v {
                    Value::String(t) => out.push_str(&t),
                    Value::Null => return Err(format!("${{{}}} has no value", &rest[start + 2..end])),
                    other => out.push_str(&other.to_string()),
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Ok(Value::String(out))
        }
        Value::Array(a) => a.iter().map(|v| resolve(v, scope)).collect::<Result<Vec<_>, _>>().map(Value::Array),
        Value::Object(m) => m.iter().map(|(k, v)| Ok((k.clone(), resolve(v, scope)?))).collect::<Result<Map<_, _>, String>>().map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn lookup(scope: &Value, path: &str) -> Result<Value, String> {
    let mut v = scope;
    for part in path.trim().split('.') {
        v = match v {
            Value::Object(m) => m.get(part),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("${{{path}}} has no value yet"))?;
    }
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_resolve_keeping_types() {
        let scope = json!({"request": {"domain": "sipd.kaltimprov.go.id", "server": {"services": ["tcp/80"]}}, "steps": {"ip": {"address": "198.51.100.140"}}});
        assert_eq!(resolve(&json!("${steps.ip.address}"), &scope).unwrap(), json!("198.51.100.140"));
        assert_eq!(resolve(&json!("${request.server.services}"), &scope).unwrap(), json!(["tcp/80"]));
        assert_eq!(resolve(&json!("www.${request.domain}"), &scope).unwrap(), json!("www.sipd.kaltimprov.go.id"));
        assert!(resolve(&json!("${steps.dns.x}"), &scope).unwrap_err().contains("no value"));
    }

    #[test]
    fn step_lines_are_found() {
        let text = "name: x\nsteps:\n  - name: first\n    action: a\n  - name: second\n";
        assert_eq!(step_line(text, "second"), 5);
    }
}
