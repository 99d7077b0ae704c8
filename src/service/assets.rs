//! The asset register through the service layer: a co-located server becomes an asset at
//! handover (in the handover's own transaction), is withdrawn at decommissioning and kept;
//! reviews at least once a year; exports as CSV or XLSX for the office's spreadsheets.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::domain::SavedOutput;
use crate::ipam::AddressOutput;
use super::{Service, ServiceError, access};
use crate::documents::server_table::server_row;
use crate::domain::RequestKind;
use crate::inspect::{InspectionOutput, ServerFacts};
use crate::lifecycle::{Actor, Role};
use crate::store::{AssetFilter, AssetRecord, AssetReview, AuditEntry, RequestRow, Write};

/// The SOP: the register is reviewed at least once a year.
pub const REVIEW_INTERVAL: Duration = Duration::days(365);
/// `asset list --due` shows reviews falling due within this window.
pub const DUE_WINDOW: Duration = Duration::days(30);

/// Roles that review the register: the data-center team and the Kepala Bidang.
const REVIEWERS: &[Role] = &[Role::Operator, Role::Inspector, Role::Admin, Role::Head];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            other => Err(format!("unknown export format {other:?}: use csv or xlsx")),
        }
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// Registers the servers of a handed-over co-location request, filled from the provisioning
/// run's saved outputs (hardware receipt, inspection facts, addresses). Runs inside the
/// handover's transaction; a repeated handover registers nothing twice.
pub(super) async fn register_at_handover(w: &mut Write, row: &RequestRow, actor: &Actor, now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
    if row.form.kind != RequestKind::Colocation {
        return Ok(Vec::new());
    }
    let run_id = crate::domain::RunId::new(&row.id, Service::provisioning_playbook(row.form.kind)).to_string();
    let steps = w.step_outputs(&run_id).await?;
    let address = |v6: bool| {
        steps
            .iter()
            .filter(|s| s.action == "allocate_address")
            .filter_map(|s| AddressOutput::read(&s.output)?.address)
            .find(|a| a.is_ipv6() == v6)
            .map(|a| a.to_string())
    };
    let (ipv4, ipv6) = (address(false), address(true));
    let mut created = Vec::new();
    for spec in &row.form.servers {
        let facts: Option<ServerFacts> = steps
            .iter()
            .filter(|s| s.action == "inspect_server")
            .filter_map(|s| InspectionOutput::read(&s.output))
            .find(|o| o.server.eq_ignore_ascii_case(spec.name.as_str()))
            .map(|o| o.facts);
        let placement = row.capacity.as_ref().and_then(|c| c.placements.iter().find(|p| p.server == spec.name.as_str()).or(c.placements.first()));
        let asset = AssetRecord {
            id: format!("{}-{}", row.id, spec.name),
            request_id: row.id.to_string(),
            server: spec.name.to_string(),
            serial_number: row.hardware.as_ref().map(|h| h.serial_number.to_string()),
            type_brand: row.hardware.as_ref().map(|h| h.type_brand.to_string()),
            spec: serde_json::to_value(server_row(spec, facts.as_ref())).expect("serialisable"),
            unit: row.form.unit.name.to_string(),
            official_name: row.form.official.name.to_string(),
            official_nip: row.form.official.nip.to_string(),
            noc: placement.map(|p| p.noc.clone()),
            rack: placement.map(|p| p.rack.clone()),
            from_u: placement.map(|p| i64::from(p.from_u)),
            to_u: placement.map(|p| i64::from(p.to_u)),
            ipv4: ipv4.clone(),
            ipv6: ipv6.clone(),
            domain: row.form.domain.to_string(),
            installed_at: now,
            status: "active".into(),
            withdrawn_at: None,
            last_review_at: None,
            review_due_at: now + REVIEW_INTERVAL,
        };
        if w.insert_asset(&asset).await? {
            w.audit(AuditEntry {
                actor: actor.clone(),
                request_id: Some(row.id.to_string()),
                action: "asset.register".into(),
                reason: None,
                before: None,
                after: Some(json!({ "asset": asset.id, "serial_number": asset.serial_number, "noc": asset.noc, "rack": asset.rack, "ipv4": asset.ipv4 })),
            })
            .await?;
            created.push(asset.id);
        }
    }
    Ok(created)
}

/// Marks a decommissioned request's assets withdrawn (kept in the register).
pub(super) async fn withdraw_at_decommission(w: &mut Write, row: &RequestRow, actor: &Actor, now: OffsetDateTime) -> Result<(), ServiceError> {
    let ids = w.withdraw_assets(row.id.as_str(), now).await?;
    if !ids.is_empty() {
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(row.id.to_string()),
            action: "asset.withdraw".into(),
            reason: None,
            before: Some(json!({ "status": "active" })),
            after: Some(json!({ "assets": ids, "status": "withdrawn" })),
        })
        .await?;
    }
    Ok(())
}

/// CSV cell: quoted, with a leading `'` on anything a spreadsheet would run as a formula.
fn csv_cell(v: &str) -> String {
    let guarded = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The same guard for XLSX string cells (written as text, but opened in the same programs).
fn sheet_text(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() }
}

const HEADER: [&str; 22] = [
    "Asset",
    "Request",
    "Server",
    "S/N",
    "Type & Merk",
    "Prosesor",
    "RAM",
    "Motherboard",
    "Storage",
    "PSU",
    "Unit",
    "Penanggung Jawab",
    "NIP",
    "NOC",
    "Rack",
    "U",
    "IPv4",
    "IPv6",
    "Domain",
    "Installed",
    "Status",
    "Withdrawn / last review / next review",
];

fn date(t: OffsetDateTime) -> String {
    let d = t.to_offset(crate::lifecycle::sla::WITA).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn measured(spec: &Value, field: &str) -> String {
    let cell = &spec[field];
    cell["measured"].as_str().or(cell["declared"].as_str()).unwrap_or("").to_string()
}

fn row_cells(a: &AssetRecord, last: Option<&AssetReview>) -> Vec<String> {
    let u = match (a.from_u, a.to_u) {
        (Some(f), Some(t)) if f == t => format!("U{f}"),
        (Some(f), Some(t)) => format!("U{f}-U{t}"),
        _ => String::new(),
    };
    let review = format!(
        "{} / {} / {}",
        a.withdrawn_at.map(date).unwrap_or_else(|| "-".into()),
        last.map(|r| format!("{} ({}: {})", date(r.at), r.reviewer, r.findings)).unwrap_or_else(|| "-".into()),
        date(a.review_due_at)
    );
    vec![
        a.id.clone(),
        a.request_id.clone(),
        a.server.clone(),
        a.serial_number.clone().unwrap_or_default(),
        a.type_brand.clone().unwrap_or_default(),
        measured(&a.spec, "processor"),
        measured(&a.spec, "ram"),
        measured(&a.spec, "motherboard"),
        measured(&a.spec, "storage"),
        measured(&a.spec, "psu"),
        a.unit.clone(),
        a.official_name.clone(),
        a.official_nip.clone(),
        a.noc.clone().unwrap_or_default(),
        a.rack.clone().unwrap_or_default(),
        u,
        a.ipv4.clone().unwrap_or_default(),
        a.ipv6.clone().unwrap_or_default(),
        a.domain.clone(),
        date(a.installed_at),
        a.status.clone(),
        review,
    ]
}

fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, ServiceError> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| ServiceError::Invalid(format!("cannot write the spreadsheet: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Aset Register").map_err(fail)?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(fail)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, sheet_text(v)).map_err(fail)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    sheet.autofit();
    book.save_to_buffer().map_err(fail)
}

impl Service {
    /// The register (or only the assets whose review falls due within 30 days, or is overdue).
    pub async fn assets(&self, actor: &Actor, filter: AssetFilter) -> Result<Vec<AssetRecord>, ServiceError> {
        access::require_staff_or_auditor(actor, "reading the asset register")?;
        let items = self.store.assets(filter).await?;
        self.audit_read(actor, None, "asset.list", json!({ "count": items.len() })).await?;
        Ok(items)
    }

    /// Assets whose review is due within the window (`overdue`: already past due).
    pub async fn assets_due(&self, actor: &Actor, overdue: bool) -> Result<Vec<AssetRecord>, ServiceError> {
        let now = OffsetDateTime::now_utc();
        self.assets(actor, AssetFilter::DueBefore(if overdue { now } else { now + DUE_WINDOW })).await
    }

    pub async fn asset_reviews(&self, actor: &Actor, asset_id: &str) -> Result<Vec<AssetReview>, ServiceError> {
        access::require_staff_or_auditor(actor, "reading the asset register")?;
        Ok(self.store.asset_reviews(asset_id).await?)
    }

    /// Records a review of an active asset (who, when, findings); the next one is due a year on.
    pub async fn review_asset(&self, actor: &Actor, asset_id: &str, findings: &str) -> Result<AssetReview, ServiceError> {
        access::require(actor, REVIEWERS, "reviewing the asset register")?;
        let findings = crate::domain::Text::parse(findings).map_err(|e| ServiceError::Invalid(format!("findings: {e}")))?;
        let now = OffsetDateTime::now_utc();
        let mut w = self.store.write().await?;
        let asset = w.asset_for_update(asset_id).await?;
        if asset.status != "active" {
            return Err(ServiceError::Conflict(format!("asset {asset_id} is {}; only active assets are reviewed", asset.status)));
        }
        let next = now + REVIEW_INTERVAL;
        let seq = w.add_asset_review(asset_id, actor, findings.as_str(), now, next).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(asset.request_id.clone()),
            action: "asset.review".into(),
            reason: Some(findings.to_string()),
            before: Some(json!({ "asset": asset_id, "review_due_at": date(asset.review_due_at) })),
            after: Some(json!({ "asset": asset_id, "review": seq, "review_due_at": date(next) })),
        })
        .await?;
        w.commit().await?;
        Ok(AssetReview {
            asset_id: asset_id.to_string(),
            seq,
            at: now,
            reviewer: actor.name.clone(),
            role: actor.role.as_str().into(),
            findings: findings.to_string(),
        })
    }

    /// The whole register as CSV or XLSX (names and NIPs: an audited read).
    pub async fn export_assets(&self, actor: &Actor, format: ExportFormat) -> Result<(Vec<u8>, &'static str, String), ServiceError> {
        access::require_staff_or_auditor(actor, "exporting the asset register")?;
        let (assets, latest) = tokio::try_join!(self.store.assets(AssetFilter::All), self.store.latest_reviews())?;
        let rows: Vec<Vec<String>> = assets.iter().map(|a| row_cells(a, latest.get(&a.id))).collect();
        let bytes = match format {
            ExportFormat::Csv => {
                let mut out = String::new();
                for line in std::iter::once(HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>()).chain(rows) {
                    out.push_str(&line.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
                    out.push_str("\r\n");
                }
                out.into_bytes()
            }
            ExportFormat::Xlsx => xlsx(&rows)?,
        };
        self.audit_read(actor, None, "asset.export", json!({ "format": format.extension(), "count": assets.len() })).await?;
        let filename = format!("aset-register-{}.{}", date(OffsetDateTime::now_utc()), format.extension());
        Ok((bytes, format.content_type(), filename))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("a \"quoted\", text"), "\"a \"\"quoted\"\", text\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("-1"), "\"'-1\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(sheet_text("=1+1"), "'=1+1");
    }
}
