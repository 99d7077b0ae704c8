//! `GET/POST /requests/new`: the Form Pengajuan with the server specification as a web form.
//!
//! Each field is parsed with the domain's own parser (`Nip::parse`, `Fqdn::parse`, …); a
//! field that does not parse gets its message, in the page's language, next to it, and the
//! form comes back filled in (never the password fields). Only a fully typed [`RequestForm`]
//! reaches the service layer.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::{PageCtx, user_message};
use crate::console::form::FormData;
use crate::console::session::Signed;
use crate::console::{Console, ConsoleError, Lang, csrf};
use crate::domain::{
    ApplicationSpec, Email, Fqdn, Hostname, Nip, Official, OsSpec, PackageName, Phone, RequestForm, RequestKind, ServerSpec, ServicePort, Text, Unit, Validity,
    VersionConstraint, parse_date,
};

/// The most servers one Form Pengajuan lists.
const MAX_SERVERS: usize = 10;

/// How many server blocks the form has (its hidden `servers` field), within 1..=MAX_SERVERS.
fn server_count(form: &FormData) -> usize {
    form.get("servers").parse::<usize>().unwrap_or(1).clamp(1, MAX_SERVERS)
}

/// The field-name suffix of server block `i`: none for the first (`server_name`), `_2`, `_3`, …
/// after it.
fn suffix(i: usize) -> String {
    if i == 0 { String::new() } else { format!("_{}", i + 1) }
}

pub async fn show(State(console): State<Console>, me: Signed) -> Result<Response, ConsoleError> {
    let values = BTreeMap::from([
        ("kind".to_string(), "colocation".to_string()),
        ("rack_units".to_string(), "1".to_string()),
        ("servers".to_string(), "1".to_string()),
    ]);
    render(&console, &me.page, &values, &BTreeMap::new(), StatusCode::OK)
}

fn render(
    console: &Console,
    page: &PageCtx,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let mut r = console.render("request_new.html.j2", page, context! { values => values, errors => errors })?;
    *r.status_mut() = status;
    Ok(r)
}

pub async fn submit(State(console): State<Console>, me: Signed, body: Bytes) -> Result<Response, ConsoleError> {
    let form = FormData::parse(&body)?;
    csrf::check(&me.session.csrf_token, &form)?;
    let page = &me.page;
    let mut errors = Fields {
        lang: page.lang,
        errors: BTreeMap::new(),
    };
    let mut values = form.values();
    values.insert("servers".into(), server_count(&form).to_string());
    // "Tambah server" / "Hapus server" only reshape the form; nothing is submitted.
    let reshape = match (form.opt("add_server"), form.opt("remove_server")) {
        (Some(_), _) => Some((server_count(&form) + 1).min(MAX_SERVERS)),
        (None, Some(_)) => Some(server_count(&form).saturating_sub(1).max(1)),
        (None, None) => None,
    };
    if let Some(n) = reshape {
        values.insert("servers".into(), n.to_string());
        return render(&console, page, &values, &BTreeMap::new(), StatusCode::OK);
    }
    let parsed = parse(&form, &mut errors);
    let parsed = match parsed {
        Some(f) if errors.errors.is_empty() => f,
        _ => return render(&console, page, &values, &errors.errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    if let Err(e) = parsed.validate() {
        errors.errors.insert("_form".into(), e.to_string());
        return render(&console, page, &values, &errors.errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    match console.service().submit(page.me(), parsed).await {
        Ok(id) => Ok(Redirect::to(&format!("/requests/{id}?done=submitted")).into_response()),
        Err(e) => match user_message(page.lang, &e) {
            Some(m) => {
                let page = page.clone().with_flash("error", m);
                render(&console, &page, &values, &BTreeMap::new(), StatusCode::BAD_REQUEST)
            }
            None => Err(e.into()),
        },
    }
}

/// Field errors, by input name.
struct Fields {
    lang: Lang,
    errors: BTreeMap<String, String>,
}

impl Fields {
    fn fail<T>(&mut self, name: &str, key: &str) -> Option<T> {
        self.errors.entry(name.to_string()).or_insert_with(|| self.lang.t(key).to_string());
        None
    }

    fn required<'a>(&mut self, form: &'a FormData, name: &str) -> Option<&'a str> {
        match form.opt(name) {
            Some(v) => Some(v),
            None => self.fail(name, "err_required"),
        }
    }

    fn text(&mut self, form: &FormData, name: &str) -> Option<Text> {
        let v = self.required(form, name)?;
        Text::parse(v).ok().or_else(|| self.fail(name, "err_text"))
    }

    fn opt_text(&mut self, form: &FormData, name: &str) -> Option<Option<Text>> {
        match form.opt(name) {
            None => Some(None),
            Some(v) => Text::parse(v).ok().map(Some).or_else(|| self.fail(name, "err_text")),
        }
    }

    fn parsed<T, E>(&mut self, form: &FormData, name: &str, key: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Option<T> {
        let v = self.required(form, name)?;
        parse(v).ok().or_else(|| self.fail(name, key))
    }

    /// A whole number within `range` (shown in the message when it is not).
    fn number<T: TryFrom<u64>>(&mut self, form: &FormData, name: &str, range: std::ops::RangeInclusive<u64>) -> Option<T> {
        let v = self.required(form, name)?;
        let Ok(n) = v.parse::<u64>() else { return self.fail(name, "err_number") };
        if !range.contains(&n) {
            let msg = self.lang.tf("err_range", &format!("{}–{}", range.start(), range.end()));
            self.errors.insert(name.to_string(), msg);
            return None;
        }
        T::try_from(n).ok()
    }
}

fn parse(form: &FormData, f: &mut Fields) -> Option<RequestForm> {
    let kind = RequestKind::parse(form.get("kind")).unwrap_or(RequestKind::Colocation);
    let colocation = kind == RequestKind::Colocation;
    let unit = (f.text(form, "unit_name"), f.text(form, "unit_address"));
    let official = (
        f.text(form, "official_name"),
        f.parsed(form, "official_nip", "err_nip", Nip::parse),
        f.opt_text(form, "official_position"),
    );
    let contact = f.parsed(form, "contact", "err_phone", Phone::parse);
    let email = match form.opt("email") {
        None => Some(None),
        Some(v) => Email::parse(v).ok().map(Some).or_else(|| f.fail("email", "err_email")),
    };
    let domain = f.parsed(form, "domain", "err_domain", Fqdn::parse);
    let active_from = f.parsed(form, "domain_active_from", "err_date", parse_date);
    let validity = if form.get("validity") == "until" {
        f.parsed(form, "validity_until", "err_date", parse_date).and_then(|until| match active_from {
            Some(from) if until <= from => f.fail("validity_until", "err_date_order"),
            _ => Some(Validity::Until(until)),
        })
    } else {
        Some(Validity::Permanent)
    };
    let servers: Vec<Option<ServerSpec>> = (0..server_count(form)).map(|i| parse_server(form, f, colocation, &suffix(i))).collect();
    let approved_by = match form.opt("approved_by_name") {
        None => Some(None),
        Some(_) => match (
            f.text(form, "approved_by_name"),
            f.parsed(form, "approved_by_nip", "err_nip", Nip::parse),
            f.opt_text(form, "approved_by_position"),
        ) {
            (Some(name), Some(nip), Some(position)) => Some(Some(Official { name, nip, position })),
            _ => None,
        },
    };
    let notes = f.opt_text(form, "notes");

    let ((Some(uname), Some(address)), (Some(oname), Some(nip), Some(position))) = (unit, official) else {
        return None;
    };
    Some(RequestForm {
        kind,
        unit: Unit { name: uname, address },
        official: Official { name: oname, nip, position },
        contact: contact?,
        email: email?,
        domain: domain?,
        domain_active_from: active_from?,
        validity: validity?,
        servers: servers.into_iter().collect::<Option<Vec<_>>>()?,
        approved_by: approved_by?,
        notes: notes?,
    })
}

fn parse_server(form: &FormData, f: &mut Fields, colocation: bool, sfx: &str) -> Option<ServerSpec> {
    let n = |base: &str| format!("{base}{sfx}");
    let name = f.parsed(form, &n("server_name"), "err_hostname", Hostname::parse);
    let processor = f.text(form, &n("processor"));
    let cpu_cores = f.number::<u16>(form, &n("cpu_cores"), 1..=1024);
    let ram_gb = f.number::<u32>(form, &n("ram_gb"), 1..=65_536);
    let motherboard = f.text(form, &n("motherboard"));
    let storage_gb = f.number::<u32>(form, &n("storage_gb"), 1..=10_000_000);
    let storage = f.opt_text(form, &n("storage"));
    // Hosting uses no rack space and no PSU of its own: blank means 0 there.
    let (psu_watts, rack_units) = if colocation {
        (f.number::<u32>(form, &n("psu_watts"), 1..=10_000), f.number::<u8>(form, &n("rack_units"), 1..=10))
    } else {
        let psu = if form.opt(&n("psu_watts")).is_none() {
            Some(0)
        } else {
            f.number::<u32>(form, &n("psu_watts"), 0..=10_000)
        };
        let ru = match form.opt(&n("rack_units")) {
            None | Some("0") => Some(0),
            Some(_) => f.fail(&n("rack_units"), "err_rack_units_hosting"),
        };
        (psu, ru)
    };
    let os = (f.text(form, &n("os_name")), f.text(form, &n("os_version")));
    let bandwidth = f.number::<u32>(form, &n("bandwidth_mbps"), 1..=100_000);
    let services = form
        .get(&n("services"))
        .split([',', ' ', ';'])
        .filter(|s| !s.trim().is_empty())
        .map(ServicePort::from_str)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .and_then(|v| {
            let mut seen = std::collections::BTreeSet::new();
            v.iter().all(|s| seen.insert(s.to_string())).then_some(v)
        })
        .or_else(|| f.fail(&n("services"), "err_services"));
    let applications = form
        .get(&n("applications"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, version) = line.split_once(char::is_whitespace).unwrap_or((line, "*"));
            Some(ApplicationSpec {
                name: PackageName::parse(name).ok()?,
                version: VersionConstraint::from_str(version.trim()).ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .or_else(|| f.fail(&n("applications"), "err_applications"));
    let (Some(os_name), Some(os_version)) = os else { return None };
    Some(ServerSpec {
        name: name?,
        processor: processor?,
        cpu_cores: cpu_cores?,
        ram_gb: ram_gb?,
        motherboard: motherboard?,
        storage_gb: storage_gb?,
        storage: storage?,
        psu_watts: psu_watts?,
        rack_units: rack_units?,
        os: OsSpec {
            name: os_name,
            version: os_version,
        },
        applications: applications?,
        bandwidth_mbps: bandwidth?,
        services: services?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> FormData {
        FormData::parse(&Bytes::from(body.to_string())).unwrap()
    }

    const GOOD: &str = "kind=colocation&unit_name=Dinas+Pendidikan&unit_address=Jl.+Basuki+Rahmat+1&official_name=Budi&official_nip=198503152010011002\
        &contact=0541-741234&domain=sipd.kaltimprov.go.id&domain_active_from=2026-12-01&validity=permanent&server_name=srv-sipd&processor=Xeon\
        &cpu_cores=2&ram_gb=8&motherboard=X12&storage_gb=20&psu_watts=500&rack_units=1&os_name=Ubuntu&os_version=22.04&bandwidth_mbps=100\
        &services=tcp%2F80%2C+tcp%2F443&applications=nginx+%3E%3D+1.18%0D%0Aphp8.1-fpm";

    #[test]
    fn a_complete_form_parses_into_the_domain_types() {
        let mut f = Fields {
            lang: Lang::Id,
            errors: BTreeMap::new(),
        };
        let parsed = parse(&form(GOOD), &mut f).expect("parses");
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        parsed.validate().unwrap();
        assert_eq!(parsed.servers[0].services.len(), 2);
        assert_eq!(parsed.servers[0].applications[0].version.to_string(), ">= 1.18");
    }

    #[test]
    fn a_form_lists_several_servers_each_checked_on_its_own() {
        let second = "&servers=2&server_name_2=srv-sipd-db&processor_2=Xeon&cpu_cores_2=4&ram_gb_2=16&motherboard_2=X12&storage_gb_2=40\
            &psu_watts_2=550&rack_units_2=2&os_name_2=Debian&os_version_2=12&bandwidth_mbps_2=50&services_2=tcp%2F5432&applications_2=postgresql+%3E%3D+15";
        let mut f = Fields {
            lang: Lang::Id,
            errors: BTreeMap::new(),
        };
        let parsed = parse(&form(&format!("{GOOD}{second}")), &mut f).expect("parses");
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        parsed.validate().unwrap();
        let names: Vec<&str> = parsed.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["srv-sipd", "srv-sipd-db"]);
        assert_eq!(parsed.servers[1].rack_units, 2);

        // An error in the second block is reported on the second block's field only.
        let mut f = Fields {
            lang: Lang::Id,
            errors: BTreeMap::new(),
        };
        assert!(parse(&form(&format!("{GOOD}{}", second.replace("ram_gb_2=16", "ram_gb_2=lots"))), &mut f).is_none());
        assert_eq!(f.errors.keys().collect::<Vec<_>>(), ["ram_gb_2"]);
        // The hidden count is clamped; a block that was never shown is not required.
        assert_eq!(server_count(&form("servers=999")), MAX_SERVERS);
        assert_eq!(server_count(&form("servers=0")), 1);
        let mut f = Fields {
            lang: Lang::Id,
            errors: BTreeMap::new(),
        };
        assert_eq!(parse(&form(GOOD), &mut f).unwrap().servers.len(), 1);
    }

    #[test]
    fn each_bad_field_gets_its_own_indonesian_message() {
        let bad = GOOD
            .replace("198503152010011002", "12345")
            .replace("sipd.kaltimprov.go.id", "sipd;reboot")
            .replace("0541-741234", "12")
            .replace("cpu_cores=2", "cpu_cores=0")
            .replace("tcp%2F80", "http")
            .replace("domain_active_from=2026-12-01", "domain_active_from=1+Desember");
        let mut f = Fields {
            lang: Lang::Id,
            errors: BTreeMap::new(),
        };
        assert!(parse(&form(&bad), &mut f).is_none());
        for field in ["official_nip", "domain", "contact", "cpu_cores", "services", "domain_active_from"] {
            assert!(f.errors.contains_key(field), "{field}: {:?}", f.errors);
        }
        assert!(f.errors["official_nip"].contains("NIP harus 18 digit"));
        assert!(f.errors["cpu_cores"].contains("di luar batas"), "{}", f.errors["cpu_cores"]);
        assert_eq!(f.errors.len(), 6, "{:?}", f.errors);
    }
}
