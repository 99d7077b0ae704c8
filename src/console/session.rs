//! Sign-in, the session cookie and sign-out.
//!
//! The cookie `kolokasi_session` holds a random 256-bit token (the store keeps only its
//! SHA-256, see [`crate::service::Service::console_sign_in`]); it is `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and `Secure` when the console is reached over HTTPS (the
//! `console_secure_cookies` setting, or `X-Forwarded-Proto: https` from a trusted proxy,
//! `console_trust_proxy`).

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use super::form::FormData;
use super::pages::PageCtx;
use super::{Console, ConsoleError, Lang, csrf};
use crate::secrets::Secret;
use crate::service::{ConsoleSession, ServiceError};

pub const SESSION_COOKIE: &str = "kolokasi_session";
/// The sign-in form's double-submit token.
const SIGN_IN_COOKIE: &str = "kolokasi_signin";

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn is_https(console: &Console, peer: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
    let o = console.options();
    o.secure_cookies || o.trusted_proxies.forwarded_https(peer, headers)
}

fn peer_of(parts: &Parts) -> Option<std::net::IpAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool, same_site: &str) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The signed-in person on a console page. Pages that need no sign-in take [`Visitor`].
pub struct Signed {
    pub session: ConsoleSession,
    pub page: PageCtx,
}

/// Anyone, signed in or not: the language and the path.
pub struct Visitor {
    pub lang: Lang,
    pub path: String,
    pub headers: HeaderMap,
    /// The browser's address (the proxy's `X-Forwarded-For` when the proxy is trusted), for
    /// the sign-in rate limit.
    pub client: String,
    /// The TCP peer (a proxy, or the browser).
    pub peer: Option<std::net::IpAddr>,
}

fn path_of(parts: &Parts) -> String {
    parts.uri.path_and_query().map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
}

impl FromRequestParts<Console> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, ConsoleError> {
        let path = path_of(parts);
        let next = if parts.method == axum::http::Method::GET { path.clone() } else { "/".into() };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| ConsoleError::SignIn { next: next.clone() })?;
        let session = console.service().console_session(&token).await?.ok_or(ConsoleError::SignIn { next })?;
        let page = PageCtx::new(Lang::from_headers(&parts.headers), path, Some(&session));
        Ok(Self { session, page })
    }
}

impl FromRequestParts<Console> for Visitor {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, ConsoleError> {
        let peer = peer_of(parts);
        let client = match peer {
            Some(_) => console.options().trusted_proxies.client(peer, &parts.headers),
            None => "console".into(),
        };
        Ok(Self {
            peer,
            lang: Lang::from_headers(&parts.headers),
            path: path_of(parts),
            headers: parts.headers.clone(),
            client,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only paths of this site (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".into()
    }
}

fn sign_in_form(console: &Console, v: &Visitor, next: &str, username: &str, error: Option<&str>, status: StatusCode) -> Result<Response, ConsoleError> {
    let pre = hex::encode(rand::random::<[u8; 32]>());
    let page = PageCtx::new(v.lang, v.path.clone(), None);
    let ctx = context! { pre_csrf => pre.clone(), next => safe_next(next), username => username, error => error };
    let mut r = console.render("sign_in.html.j2", &page, ctx)?;
    *r.status_mut() = status;
    let c = set_cookie(SIGN_IN_COOKIE, &pre, 3600, is_https(console, v.peer, &v.headers), "Strict");
    r.headers_mut().append(header::SET_COOKIE, c.parse().expect("cookie is ASCII"));
    Ok(r)
}

/// `GET /sign-in`.
pub async fn sign_in_page(State(console): State<Console>, v: Visitor, Query(q): Query<NextQuery>) -> Result<Response, ConsoleError> {
    sign_in_form(&console, &v, q.next.as_deref().unwrap_or("/"), "", None, StatusCode::OK)
}

/// `POST /sign-in`: checks the password through the service (which rate-limits and audits
/// failures), opens a session and sets its cookie.
pub async fn sign_in(State(console): State<Console>, v: Visitor, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    let pre = cookie(&v.headers, SIGN_IN_COOKIE).unwrap_or_default();
    csrf::check(&pre, &form)?;
    let username = form.get("username").to_string();
    let password = Secret::new(form.get("password"));
    let next = safe_next(form.get("next"));
    match console
        .service()
        .console_sign_in(&username, &password, &v.client, console.options().session_ttl)
        .await
    {
        Ok(s) => {
            let secure = is_https(&console, v.peer, &v.headers);
            let max_age = console.options().session_ttl.whole_seconds();
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, s.token.expose(), max_age, secure, "Lax").parse().expect("ASCII"),
            );
            h.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0, secure, "Strict").parse().expect("ASCII"));
            Ok(r)
        }
        // Wrong credentials, a disabled account or too many attempts: one answer for all.
        Err(ServiceError::Unauthorized(_) | ServiceError::Forbidden(_) | ServiceError::Conflict(_) | ServiceError::Invalid(_)) => {
            sign_in_form(&console, &v, &next, &username, Some(v.lang.t("sign_in_failed")), StatusCode::UNAUTHORIZED)
        }
        // A directory user while the office directory is down: say so (local users still sign in).
        Err(ServiceError::DirectoryUnavailable(_)) => {
            sign_in_form(&console, &v, &next, &username, Some(v.lang.t("sign_in_directory_down")), StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /sign-out`: deletes the session and the cookie.
pub async fn sign_out(State(console): State<Console>, me: Signed, v: Visitor, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    console.service().console_sign_out(&me.session).await?;
    let mut r = Redirect::to("/sign-in").into_response();
    let c = set_cookie(SESSION_COOKIE, "", 0, is_https(&console, v.peer, &v.headers), "Lax");
    r.headers_mut().append(header::SET_COOKIE, c.parse().expect("ASCII"));
    Ok(r)
}
