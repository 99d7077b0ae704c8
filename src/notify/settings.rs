//! The `notifications:` section of the configuration and its `KOLOKASI_SMTP_*`,
//! `KOLOKASI_WEBHOOK_*` and `KOLOKASI_NOTIFY_*` environment variables.
//!
//! ```yaml
//! notifications:
//!   from: datacenter@kaltimprov.go.id
//!   head_email: kabid.tik@kaltimprov.go.id   # Cc of the completion report (SOP step 9)
//!   smtp:
//!     host: smtp.kaltimprov.go.id
//!     port: 587
//!     starttls: required                     # required | opportunistic | none
//!     username: kolokasi
//!     password_secret: smtp-password         # name in the sealed secret store (preferred)
//!     ca_file: /etc/kolokasi/smtp-ca.pem      # extra trusted CA (internal servers)
//!   webhook:
//!     url: https://chat.example.go.id/hooks/kolokasi
//!     secret_name: webhook-hmac              # HMAC key, name in the sealed secret store
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use super::NotifyError;
use crate::domain::Email;
use crate::secrets::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The sender of every notice.
    pub from: Option<Email>,
    /// The Kepala Bidang, copied on the completion report.
    pub head_email: Option<Email>,
    pub smtp: Option<SmtpSettings>,
    pub webhook: Option<WebhookSettings>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// Refuse to send unless the server upgrades the connection (the default).
    #[default]
    Required,
    /// Upgrade when offered; a man in the middle can strip the offer.
    Opportunistic,
    /// Plain text (a relay on the same host only).
    None,
}

impl StartTls {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "required" => Some(Self::Required),
            "opportunistic" => Some(Self::Opportunistic),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub starttls: StartTls,
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the password in the sealed secret store (`kolokasi secret set NAME --kind password`).
    #[serde(default)]
    pub password_secret: Option<String>,
    /// The password itself (prefer `password_secret`, or `KOLOKASI_SMTP_PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A CA certificate (PEM) to trust besides the system's, for an internal mail server.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds per SMTP command.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_port() -> u16 {
    587
}
fn default_timeout() -> u64 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// Name of the HMAC key in the sealed secret store.
    #[serde(default)]
    pub secret_name: Option<String>,
    /// The HMAC key itself (prefer `secret_name`, or `KOLOKASI_WEBHOOK_SECRET`).
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// A bad environment variable: (name, message).
pub type EnvError = (String, String);

fn bad(key: &str, message: String) -> EnvError {
    (key.to_string(), message)
}

impl NotifySettings {
    /// Applies `KOLOKASI_SMTP_HOST`, `_PORT`, `_STARTTLS`, `_USERNAME`, `_PASSWORD_SECRET`,
    /// `_PASSWORD`, `_CA_FILE`; `KOLOKASI_NOTIFY_FROM`, `KOLOKASI_NOTIFY_HEAD_EMAIL`;
    /// `KOLOKASI_WEBHOOK_URL`, `_SECRET_NAME`, `_SECRET`. A host or URL from the environment
    /// creates the section; the other variables need one (from the file or the environment).
    pub fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), EnvError> {
        let email = |k: &str, v: String| Email::parse(&v).map_err(|e| bad(k, format!("{v:?}: {e}")));
        if let Some(v) = env("KOLOKASI_NOTIFY_FROM") {
            self.from = Some(email("KOLOKASI_NOTIFY_FROM", v)?);
        }
        if let Some(v) = env("KOLOKASI_NOTIFY_HEAD_EMAIL") {
            self.head_email = Some(email("KOLOKASI_NOTIFY_HEAD_EMAIL", v)?);
        }
        self.apply_smtp_env(env)?;
        self.apply_webhook_env(env)
    }

    fn apply_smtp_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), EnvError> {
        if let Some(host) = env("KOLOKASI_SMTP_HOST") {
            match &mut self.smtp {
                Some(s) => s.host = host,
                None => {
                    self.smtp = Some(SmtpSettings {
                        host,
                        port: default_port(),
                        starttls: StartTls::default(),
                        username: None,
                        password_secret: None,
                        password: None,
                        ca_file: None,
                        timeout_seconds: default_timeout(),
                    })
                }
            }
        }
        for var in ["PORT", "STARTTLS", "USERNAME", "PASSWORD_SECRET", "PASSWORD", "CA_FILE"] {
            let key = format!("KOLOKASI_SMTP_{var}");
            let Some(v) = env(&key) else { continue };
            let s = self
                .smtp
                .as_mut()
                .ok_or_else(|| bad(&key, "set KOLOKASI_SMTP_HOST (or notifications.smtp.host) too".into()))?;
            match var {
                "PORT" => s.port = v.parse().map_err(|_| bad(&key, format!("{v:?} is not a port")))?,
                "STARTTLS" => {
                    s.starttls = StartTls::parse(&v).ok_or_else(|| bad(&key, format!("{v:?}: say required, opportunistic or none")))?
                }
                "USERNAME" => s.username = Some(v),
                "PASSWORD_SECRET" => s.password_secret = Some(v),
                "PASSWORD" => s.password = Some(Secret::new(v)),
                _ => s.ca_file = Some(v.into()),
            }
        }
        Ok(())
    }

    fn apply_webhook_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), EnvError> {
        if let Some(url) = env("KOLOKASI_WEBHOOK_URL") {
            match &mut self.webhook {
                Some(w) => w.url = url,
                None => self.webhook = Some(WebhookSettings { url, secret_name: None, secret: None }),
            }
        }
        for var in ["SECRET_NAME", "SECRET"] {
            let key = format!("KOLOKASI_WEBHOOK_{var}");
            let Some(v) = env(&key) else { continue };
            let w = self
                .webhook
                .as_mut()
                .ok_or_else(|| bad(&key, "set KOLOKASI_WEBHOOK_URL (or notifications.webhook.url) too".into()))?;
            match var {
                "SECRET_NAME" => w.secret_name = Some(v),
                _ => w.secret = Some(Secret::new(v)),
            }
        }
        Ok(())
    }

    /// The lab's SMTP sink (password read separately from its file).
    pub fn from_lab(sink: &crate::lab::SmtpSink) -> Result<Self, NotifyError> {
        let invalid = |m: String| NotifyError::Config(format!("lab.json smtp: {m}"));
        let (host, port) = sink
            .server
            .rsplit_once(':')
            .ok_or_else(|| invalid(format!("{:?} is not host:port", sink.server)))?;
        let port = port
            .parse()
            .map_err(|_| invalid(format!("{:?} is not host:port", sink.server)))?;
        let starttls = match sink.starttls.as_deref() {
            Some(s) => StartTls::parse(s).ok_or_else(|| invalid(format!("starttls {s:?}")))?,
            None => StartTls::None,
        };
        let email = |v: &Option<String>| {
            v.as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|e| invalid(e.to_string()))
        };
        Ok(Self {
            from: email(&sink.from)?,
            head_email: email(&sink.head_email)?,
            smtp: Some(SmtpSettings {
                host: host.to_string(),
                port,
                starttls,
                username: sink.username.clone(),
                password_secret: None,
                password: None,
                ca_file: sink.ca_file.clone(),
                timeout_seconds: 5,
            }),
            webhook: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_builds_the_sections_and_never_prints_secrets() {
        let vars = [
            ("KOLOKASI_SMTP_HOST", "smtp.example.go.id"),
            ("KOLOKASI_SMTP_STARTTLS", "opportunistic"),
            ("KOLOKASI_SMTP_PASSWORD", "p4ss-CANARY"),
            ("KOLOKASI_NOTIFY_HEAD_EMAIL", "kabid@example.go.id"),
            ("KOLOKASI_WEBHOOK_URL", "https://hooks.example.go.id/x"),
            ("KOLOKASI_WEBHOOK_SECRET", "hmac-CANARY"),
        ];
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let mut s = NotifySettings::default();
        s.apply_env(&env).unwrap();
        let smtp = s.smtp.as_ref().unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.starttls),
            ("smtp.example.go.id", 587, StartTls::Opportunistic)
        );
        assert_eq!(
            s.head_email.as_ref().unwrap().as_str(),
            "kabid@example.go.id"
        );
        assert!(!format!("{s:?}").contains("CANARY"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = |k: &str| match k {
            "KOLOKASI_SMTP_HOST" => Some("h".to_string()),
            "KOLOKASI_SMTP_STARTTLS" => Some("maybe".to_string()),
            _ => None,
        };
        let (var, _) = NotifySettings::default().apply_env(&env).unwrap_err();
        assert_eq!(var, "KOLOKASI_SMTP_STARTTLS");
        let env = |k: &str| (k == "KOLOKASI_SMTP_PORT").then(|| "25".to_string());
        assert_eq!(
            NotifySettings::default().apply_env(&env).unwrap_err().0,
            "KOLOKASI_SMTP_PORT"
        );
    }
}
