//! The notices in Bahasa Indonesia. Subjects and bodies are built from typed request values
//! (request number, domain, unit name as `Text` without control characters, dates), so no form
//! field can add a header or a line the data center did not write.

use std::net::IpAddr;

use serde_json::json;
use time::Date;

use super::{Event, Notification};
use crate::domain::{ApprovalDecision, Email, RequestKind};
use crate::store::RequestRow;

const DAYS: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

/// "Senin, 2 Maret 2026".
pub fn tanggal(d: Date) -> String {
    let day = DAYS[d.weekday().number_days_from_monday() as usize];
    format!(
        "{day}, {} {} {}",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

/// What the step knows beyond the request: the addresses and names it provisioned.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub addresses: Vec<IpAddr>,
}

/// Why a notice cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("request {0} has no e-mail address (Form Pengajuan `email`)")]
    NoRecipient(String),
    #[error("request {0} has no approval recorded")]
    NotApproved(String),
    #[error("the {0} notice goes to the data center and is not composed here")]
    NotForTheUnit(&'static str),
}

fn service_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Colocation => "penempatan server (co-location)",
        RequestKind::Hosting => "hosting aplikasi",
    }
}

/// The notice for `event`, to the request's e-mail address; `head` is copied on the
/// completion report.
pub fn compose(
    request: &RequestRow,
    event: Event,
    head: Option<&Email>,
    facts: &Facts,
) -> Result<Notification, MessageError> {
    let id = request.id.as_str();
    let to = request
        .form
        .email
        .clone()
        .ok_or_else(|| MessageError::NoRecipient(id.to_string()))?;
    let form = &request.form;
    let (subject, body, cc) = match event {
        Event::Drifted => return Err(MessageError::NotForTheUnit(event.as_str())),
        Event::Approved => {
            let (subject, body) = approval_notice(request)?;
            (subject, body, Vec::new())
        }
        Event::Live => {
            let (subject, body) = completion_report(request, facts);
            (subject, body, head.cloned().into_iter().collect())
        }
    };
    Ok(Notification {
        request_id: request.id.clone(),
        event,
        to,
        cc,
        subject,
        body,
        attachments: Vec::new(),
        summary: json!({
            "kind": form.kind.as_str(),
            "unit": form.unit.name.as_str(),
            "domain": form.domain.as_str(),
            "state": request.state.as_str(),
        }),
    })
}

/// "Yth. …" to the unit's official.
fn greeting(request: &RequestRow) -> String {
    let form = &request.form;
    format!(
        "Yth. {}\nPenanggung Jawab {}\n\nDengan hormat,\n\n",
        form.official.name.as_str(),
        form.unit.name.as_str()
    )
}

const CLOSING: &str = "\n\nDemikian disampaikan. Atas perhatian dan kerja samanya kami ucapkan terima kasih.\n\n\
                       Hormat kami,\nPengelola dan Pemeriksa Data Center\nBidang TIK, Dinas Komunikasi dan Informatika Provinsi Kalimantan Timur\n\n\
                       (Pesan ini dikirim otomatis oleh kolokasi; mohon tidak membalas ke alamat ini.)\n";

/// The declared servers' names, comma-separated.
fn server_names(request: &RequestRow) -> String {
    request
        .form
        .servers
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pemberitahuan Persetujuan: the decision, its reasons, where the server goes and what next.
fn approval_notice(request: &RequestRow) -> Result<(String, String), MessageError> {
    let id = request.id.as_str();
    let form = &request.form;
    let (unit, domain) = (form.unit.name.as_str(), form.domain.as_str());
    let approval = request
        .approval
        .as_ref()
        .ok_or_else(|| MessageError::NotApproved(id.to_string()))?;
    let decision = match approval.decision {
        ApprovalDecision::Approve => "DISETUJUI",
        ApprovalDecision::Reject => "DITOLAK",
    };
    let reasons: String = approval
        .reasons
        .iter()
        .enumerate()
        .map(|(i, r)| format!("  {}. {}\n", i + 1, r.as_str()))
        .collect();
    let location = approval
        .colocation
        .as_ref()
        .map(|c| (c.noc.as_str(), c.server_location.as_str()))
        .or_else(|| approval.data_center.as_ref().map(|d| (d.noc.as_str(), d.server_location.as_str())))
        .map(|(noc, place)| format!("Letak server: {noc} {place}\n"))
        .unwrap_or_default();
    let next = match form.kind {
        RequestKind::Colocation => format!(
            "Langkah berikutnya: mohon membawa server ({}) ke Data Center beserta perlengkapannya. \
             Pada saat penyerahan, petugas mencatat nomor seri (S/N), tipe dan merek, serta port switch; \
             setelah itu server diperiksa kesesuaiannya dengan spesifikasi yang diajukan, dipasang, dan \
             diserahterimakan dengan Berita Acara Serah Terima.",
            server_names(request)
        ),
        RequestKind::Hosting => "Langkah berikutnya: tim Data Center menyiapkan sumber daya hosting; laporan penyelesaian \
                                 akan dikirim setelah aplikasi dapat diakses."
            .to_string(),
    };
    let subject = format!("Pemberitahuan Persetujuan {id} ({domain})");
    let body = format!(
        "{}Bersama ini kami beritahukan bahwa pengajuan {} nomor {id} untuk domain {domain} \
         dari {unit} telah {decision} pada {} di {}.\n\nPertimbangan:\n{reasons}{location}\n{next}{CLOSING}",
        greeting(request),
        service_name(form.kind),
        tanggal(approval.date),
        approval.place.as_str(),
    );
    Ok((subject, body))
}

/// Laporan Penyelesaian: the service is live, with the device and the addresses it was given.
fn completion_report(request: &RequestRow, facts: &Facts) -> (String, String) {
    let id = request.id.as_str();
    let form = &request.form;
    let domain = form.domain.as_str();
    let addresses: String = facts
        .addresses
        .iter()
        .map(|a| format!("  - {a}\n"))
        .collect();
    let addresses = if addresses.is_empty() {
        String::new()
    } else {
        format!("Alamat IP:\n{addresses}")
    };
    let hardware = request
        .hardware
        .as_ref()
        .map(|h| {
            format!(
                "Perangkat: {} (S/N {})\n",
                h.type_brand.as_str(),
                h.serial_number.as_str()
            )
        })
        .unwrap_or_default();
    let subject = format!("Laporan Penyelesaian {id} ({domain}): server telah aktif");
    let body = format!(
        "{}Bersama ini kami laporkan bahwa {} nomor {id} telah selesai: server {} telah \
         diperiksa sesuai spesifikasi, terpasang di Data Center, dan dapat diakses melalui domain {domain}.\n\n\
         {hardware}{addresses}Nama domain: {domain}\n\n\
         Berita Acara Serah Terima terlampir (bila tersedia). Mohon diperiksa, dan segera hubungi kami bila \
         ada ketidaksesuaian.{CLOSING}",
        greeting(request),
        service_name(form.kind),
        server_names(request),
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_dates() {
        let d = Date::from_calendar_date(2026, time::Month::March, 2).unwrap();
        assert_eq!(tanggal(d), "Senin, 2 Maret 2026");
        let d = Date::from_calendar_date(2026, time::Month::August, 17).unwrap();
        assert_eq!(tanggal(d), "Senin, 17 Agustus 2026");
    }
}
