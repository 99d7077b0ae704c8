//! The web console: server-rendered pages for units (OPD), admins and operators, in Bahasa
//! Indonesia by default with an English switch, served by `kolokasi serve` under `/`.
//!
//! - [`session`]: sign-in with username and password, the session cookie, sign-out.
//! - [`csrf`]: the synchronizer token every POST form carries, checked in constant time.
//! - [`form`]: `application/x-www-form-urlencoded` bodies.
//! - [`i18n`]: the translation tables (`templates/console/i18n/*.yaml`).
//! - [`svg`]: pictures: rack elevations and the SLA bar.
//! - [`pages`]: one file per page or group of forms.
//!
//! Every action goes through the service layer (and so through its role checks, unit scope and
//! audit), exactly as the REST API does; this module holds no SQL and no business rule of its
//! own. Templates and static files are compiled in (`templates/console/`), autoescaped.

pub mod csrf;
mod error;
pub mod form;
pub mod i18n;
mod pages;
pub mod session;
pub mod svg;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Environment, Value};

pub use error::ConsoleError;
pub use i18n::Lang;

use crate::engine::Engine;
use crate::service::Service;

/// How the console sets its cookies.
#[derive(Debug, Clone)]
pub struct Options {
    /// Always mark cookies `Secure` (the console is reached over HTTPS).
    pub secure_cookies: bool,
    /// The reverse proxies in front of kolokasi: only from a peer in these networks does
    /// `X-Forwarded-Proto: https` mean the browser is on HTTPS and `Forwarded` /
    /// `X-Forwarded-For` name the browser's address (the right-most hop outside them).
    pub trusted_proxies: crate::auth::TrustedProxies,
    /// How long a session lasts after sign-in.
    pub session_ttl: time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            trusted_proxies: crate::auth::TrustedProxies::default(),
            session_ttl: time::Duration::hours(8),
        }
    }
}

/// The console's shared state.
#[derive(Clone)]
pub struct Console(Arc<Inner>);

struct Inner {
    service: Service,
    /// For the operator controls (retry, skip, unwind) and the read-only device checks: the
    /// controls write the run log and the audit; the process's worker (or another replica's)
    /// carries them out. The console drives no run.
    controls: Engine,
    templates: Environment<'static>,
    options: Options,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html.j2", include_str!("../../templates/console/base.html.j2")),
    ("sign_in.html.j2", include_str!("../../templates/console/sign_in.html.j2")),
    ("dashboard.html.j2", include_str!("../../templates/console/dashboard.html.j2")),
    ("request_table.html.j2", include_str!("../../templates/console/request_table.html.j2")),
    ("requests.html.j2", include_str!("../../templates/console/requests.html.j2")),
    ("request_new.html.j2", include_str!("../../templates/console/request_new.html.j2")),
    ("request.html.j2", include_str!("../../templates/console/request.html.j2")),
    ("audit.html.j2", include_str!("../../templates/console/audit.html.j2")),
    ("racks.html.j2", include_str!("../../templates/console/racks.html.j2")),
    ("datacenter_check.html.j2", include_str!("../../templates/console/datacenter_check.html.j2")),
    ("assets.html.j2", include_str!("../../templates/console/assets.html.j2")),
];

const CSS: &str = include_str!("../../templates/console/static/console.css");
const JS: &str = include_str!("../../templates/console/static/console.js");

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Lenient: an absent optional value (a form field not filled in) prints as nothing. The
    // translation keys the templates use are checked by a test instead.
    for (name, source) in TEMPLATES {
        env.add_template(name, source).unwrap_or_else(|e| panic!("console template {name}: {e}"));
    }
    env
}

impl Console {
    pub fn new(service: Service, options: Options) -> Self {
        Self::with_engine(crate::actions::controls_engine(service), options)
    }

    /// The console around `serve`'s engine (its playbooks, and its drivers for the checks).
    pub fn with_engine(controls: Engine, options: Options) -> Self {
        let service = controls.service().clone();
        Self(Arc::new(Inner {
            service,
            controls,
            templates: environment(),
            options,
        }))
    }

    pub fn service(&self) -> &Service {
        &self.0.service
    }

    pub(crate) fn controls(&self) -> &Engine {
        &self.0.controls
    }

    pub fn options(&self) -> &Options {
        &self.0.options
    }

    /// Renders a page; `ctx` is merged over the common context (language table, signed-in person).
    pub(crate) fn render(&self, name: &str, page: &pages::PageCtx, ctx: Value) -> Result<Response, ConsoleError> {
        let template = self.0.templates.get_template(name).map_err(ConsoleError::template)?;
        let html = template
            .render(minijinja::value::merge_maps([ctx, page.value()]))
            .map_err(ConsoleError::template)?;
        Ok(html_response(html))
    }
}

pub(crate) fn html_response(html: String) -> Response {
    let mut r = Html(html).into_response();
    security_headers(r.headers_mut());
    r
}

/// Headers every console page carries: no framing, no sniffing, scripts and styles only from
/// the console itself, and no caching of personal data.
pub(crate) fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The console's routes, merged into the API's router by [`crate::api::router`].
pub fn router(console: Console) -> Router {
    Router::new()
        .route("/", get(pages::dashboard::show))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/language", get(i18n::switch))
        .route("/requests", get(pages::requests::list))
        .route("/requests/new", get(pages::new_request::show).post(pages::new_request::submit))
        .route("/requests/{id}", get(pages::request::show))
        .route("/requests/{id}/step", post(pages::steps::apply))
        .route("/requests/{id}/host-admin-key", post(pages::steps::attach_key))
        .route("/requests/{id}/allow-name", post(pages::ownership::allow_name))
        .route("/requests/{id}/adopt-record", post(pages::ownership::adopt_record))
        .route("/requests/{id}/run", post(pages::runs::control))
        .route("/requests/{id}/live", get(pages::runs::live))
        .route("/requests/{id}/audit", get(pages::audit::show))
        .route("/requests/{id}/documents/{kind}", get(pages::documents::download))
        .route("/racks", get(pages::racks::show))
        .route("/datacenter/check", get(pages::racks::check))
        .route("/assets", get(pages::assets::show))
        .route("/static/console.css", get(|| async { static_file("text/css; charset=utf-8", CSS) }))
        .route("/static/console.js", get(|| async { static_file("text/javascript; charset=utf-8", JS) }))
        .with_state(console)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_page_renders_in_both_languages() {
        let env = environment();
        for lang in [Lang::Id, Lang::En] {
            let page = pages::PageCtx::new(lang, "/sign-in".into(), None);
            let ctx = minijinja::context! { pre_csrf => "tok<en>", next => "/", username => "budi", error => None::<String> };
            let html = env
                .get_template("sign_in.html.j2")
                .unwrap()
                .render(minijinja::value::merge_maps([ctx, page.value()]))
                .unwrap();
            assert!(html.contains(r#"id="sign-in""#), "{html}");
            assert!(html.contains("tok&lt;en&gt;"), "autoescaped: {html}");
            assert!(html.contains(lang.t("sign_in")));
        }
    }

    #[test]
    fn the_request_form_renders_with_its_errors() {
        let env = environment();
        let page = pages::PageCtx::new(Lang::Id, "/requests/new".into(), None);
        let values = std::collections::BTreeMap::from([("domain".to_string(), "a<b".to_string())]);
        let errors = std::collections::BTreeMap::from([("official_nip".to_string(), "NIP salah".to_string())]);
        let ctx = minijinja::context! { values => values, errors => errors };
        let html = env
            .get_template("request_new.html.j2")
            .unwrap()
            .render(minijinja::value::merge_maps([ctx, page.value()]))
            .unwrap();
        assert!(html.contains(r#"<span class="error" id="e-official_nip">NIP salah</span>"#), "{html}");
        assert!(html.contains("a&lt;b"));
    }
}
