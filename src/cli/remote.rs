//! The CLI against a remote `kolokasi serve`: `--server URL` with a token from `--token-file`
//! or `KOLOKASI_TOKEN` (never an argument: arguments show in `ps` and shell history). A thin
//! reqwest client over the REST API; the server checks the token's role and scope.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::secrets::Secret;
use crate::service::Command;

/// A remote kolokasi and the token to call it with.
pub struct Remote {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl Remote {
    /// From `--server` and the token file or `KOLOKASI_TOKEN`.
    pub fn new(server: &str, token_file: Option<&Path>) -> anyhow::Result<Self> {
        let token = match token_file {
            Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read the token file {}", p.display()))?,
            None => std::env::var("KOLOKASI_TOKEN").context("--server needs a token: --token-file FILE or KOLOKASI_TOKEN")?,
        };
        let token = Secret::new(token.trim());
        if !crate::auth::tokens::looks_like_token(token.expose()) {
            bail!("the token is not a kolokasi API token (klk_ followed by 64 hex digits)");
        }
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server must be an http:// or https:// URL");
        }
        Ok(Self { base, token, http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()? })
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let r = r.bearer_auth(self.token.expose()).send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            bail!("{} answered {}: {message}", self.base, status.as_u16());
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }
}

/// A command as the API takes it (`{"event": …}`). The host admin password is the one value
/// sent in clear, over the connection to the server that seals it.
pub fn command_json(command: &Command) -> Value {
    let reason = |event: &str, reason: &Option<String>| json!({ "event": event, "reason": reason });
    match command {
        Command::Verify { reason: r } => reason("verify", r),
        Command::CheckCapacity { reason: r } => reason("check_capacity", r),
        Command::CompleteForm { form, reason } => json!({ "event": "complete_form", "form": form, "reason": reason }),
        Command::Approve(a) => json!({
            "event": "approve",
            "place": a.place,
            "reasons": a.reasons,
            "signed_by": a.signed_by,
            "host_admin_user": a.host_admin_user,
            "host_admin_password": a.host_admin_password.as_ref().map(|p| p.expose().to_string()),
        }),
        Command::Reject(r) => json!({ "event": "reject", "place": r.place, "reasons": r.reasons, "signed_by": r.signed_by }),
        Command::StartProvisioning { reason: r } => reason("start_provisioning", r),
        Command::HardwareReceived { receipt, reason } => json!({ "event": "hardware_received", "receipt": receipt, "reason": reason }),
        Command::HandOver { reason: r } => reason("hand_over", r),
        Command::ReportLive { reason: r } => reason("report_live", r),
        Command::RequestRevocation { revocation } => json!({ "event": "request_revocation", "revocation": revocation }),
        Command::ApproveRevocation { approved_by, reason } => json!({ "event": "approve_revocation", "approved_by": approved_by, "reason": reason }),
        Command::Decommissioned { reason: r } => reason("decommissioned", r),
        Command::Withdraw { reason } => json!({ "event": "withdraw", "reason": reason }),
        Command::WithdrawalDone { reason: r } => reason("withdrawal_done", r),
        Command::ProvisioningUnwound { reason: r } => reason("provisioning_unwound", r),
    }
}
