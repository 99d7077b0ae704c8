//! `GET /assets`: the asset register and the assets due for their yearly review (staff and
//! the auditor; the service checks the role and audits the read).

use axum::extract::State;
use axum::response::Response;
use minijinja::context;

use super::wita;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang};
use crate::lifecycle::Role;
use crate::store::{AssetFilter, AssetRecord};

fn row(a: &AssetRecord) -> Vec<String> {
    let place = match (&a.noc, &a.rack, a.from_u, a.to_u) {
        (Some(noc), Some(rack), Some(f), Some(t)) if f == t => format!("{noc} {rack} U{f}"),
        (Some(noc), Some(rack), Some(f), Some(t)) => format!("{noc} {rack} U{f}-U{t}"),
        _ => String::new(),
    };
    vec![
        a.id.clone(),
        a.serial_number.clone().unwrap_or_default(),
        a.type_brand.clone().unwrap_or_default(),
        a.unit.clone(),
        a.domain.clone(),
        place,
        a.ipv4.clone().unwrap_or_default(),
        a.status.clone(),
        wita(a.review_due_at),
    ]
}

fn headers(lang: Lang) -> Vec<&'static str> {
    match lang {
        Lang::Id => vec!["Aset", "S/N", "Type & Merk", "Unit", "Domain", "Letak", "IP", "Status", "Tinjauan berikut"],
        Lang::En => vec!["Asset", "S/N", "Type & brand", "Unit", "Domain", "Location", "IP", "Status", "Next review"],
    }
}

pub async fn show(State(console): State<Console>, me: Signed) -> Result<Response, ConsoleError> {
    let page = &me.page;
    if page.me().role == Role::Requester {
        return Err(ConsoleError::Forbidden);
    }
    let service = console.service();
    let (all, due) = tokio::try_join!(service.assets(page.me(), AssetFilter::All), service.assets_due(page.me(), false))?;
    let assets: Vec<_> = all.iter().map(row).collect();
    let due: Vec<_> = due.iter().map(row).collect();
    console.render(
        "assets.html.j2",
        page,
        context! { available => true, headers => headers(page.lang), assets => assets, due => due },
    )
}
