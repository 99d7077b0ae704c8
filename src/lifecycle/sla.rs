//! The service-level clock: four working days (hari kerja) in WITA (Asia/Makassar, UTC+8).
//!
//! A working day is a Monday–Friday that is neither a national holiday nor a cuti bersama day
//! from the calendar files (`deploy/calendar/YEAR.yaml`). Time counts only on working days
//! (whole days, 00:00–24:00 WITA) and only while the data center holds the ball
//! ([`State::sla_clock_runs`]); it pauses while the unit fills its form or brings its server.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, UtcOffset, Weekday};

use super::State;
use crate::domain::iso_date;

/// WITA has no daylight saving time: a fixed offset is exact.
pub const WITA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

/// Four working days.
pub const SERVICE_TIME: Duration = Duration::days(4);

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("calendar {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("calendar {path}: date {date} is outside its year {year}")]
    WrongYear { path: String, date: Date, year: i32 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    year: i32,
    #[serde(default)]
    holidays: Vec<DayOff>,
    #[serde(default)]
    cuti_bersama: Vec<DayOff>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayOff {
    #[serde(with = "iso_date")]
    pub date: Date,
    pub name: String,
}

/// Non-working days other than weekends.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    days_off: BTreeMap<Date, String>,
    years: Vec<i32>,
}

impl Calendar {
    /// Loads every `*.yaml` file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, CalendarError> {
        let mut cal = Self::default();
        let read_err = |source| CalendarError::Read { path: dir.display().to_string(), source };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CalendarError::Read { path: path.display().to_string(), source })?;
            cal.add_yaml(&text, &path.display().to_string())?;
        }
        Ok(cal)
    }

    pub fn add_yaml(&mut self, text: &str, path: &str) -> Result<(), CalendarError> {
        let file: CalendarFile = serde_yaml_ng::from_str(text)
            .map_err(|e| CalendarError::Parse { path: path.to_string(), message: e.to_string() })?;
        for day in file.holidays.iter().chain(&file.cuti_bersama) {
            if day.date.year() != file.year {
                return Err(CalendarError::WrongYear { path: path.to_string(), date: day.date, year: file.year });
            }
            self.days_off.insert(day.date, day.name.clone());
        }
        self.years.push(file.year);
        Ok(())
    }

    /// The 2026 calendar shipped with kolokasi (for tests and as a fallback).
    pub fn builtin_2026() -> Self {
        let mut cal = Self::default();
        cal.add_yaml(include_str!("../../deploy/calendar/2026.yaml"), "deploy/calendar/2026.yaml")
            .expect("shipped calendar parses");
        cal
    }

    pub fn years(&self) -> &[i32] {
        &self.years
    }

    pub fn day_off(&self, date: Date) -> Option<&str> {
        self.days_off.get(&date).map(String::as_str)
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.days_off.contains_key(&date)
    }

    /// Working time between two instants (zero if `to` is before `from`).
    pub fn working_time_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Duration {
        let (from, to) = (from.to_offset(WITA), to.to_offset(WITA));
        if to <= from {
            return Duration::ZERO;
        }
        let mut total = Duration::ZERO;
        let mut day = from.date();
        while day <= to.date() {
            if self.is_working_day(day) {
                let start = day.midnight().assume_offset(WITA).max(from);
                let end = next_midnight(day).min(to);
                if end > start {
                    total += end - start;
                }
            }
            day = day.next_day().expect("date in range");
        }
        total
    }

    /// The instant at which `amount` of working time has passed after `from`.
    pub fn add_working_time(&self, from: OffsetDateTime, amount: Duration) -> OffsetDateTime {
        let mut at = from.to_offset(WITA);
        let mut left = amount;
        // Bounded: a calendar cannot have more than a few hundred days off in a row.
        for _ in 0..3660 {
            if left <= Duration::ZERO {
                break;
            }
            let day = at.date();
            let end = next_midnight(day);
            if self.is_working_day(day) {
                let avail = end - at;
                if left <= avail {
                    return at + left;
                }
                left -= avail;
            }
            at = end;
        }
        at
    }
}

fn next_midnight(day: Date) -> OffsetDateTime {
    day.next_day().expect("date in range").midnight().assume_offset(WITA)
}

/// Where a request stands against its service time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SlaStatus {
    /// Working time used so far, in seconds.
    pub used_seconds: i64,
    /// The service time, in seconds (4 working days).
    pub budget_seconds: i64,
    /// When the service time runs out if the clock keeps running; `None` while paused.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    pub paused: bool,
    /// The request reached Active (or a final state): the clock has stopped for good.
    pub stopped: bool,
    pub overdue: bool,
}

/// Evaluates the SLA from the state history: `(entered_at, state)` in order.
pub fn evaluate(calendar: &Calendar, history: &[(OffsetDateTime, State)], now: OffsetDateTime) -> SlaStatus {
    let mut used = Duration::ZERO;
    let mut stopped = false;
    for (i, (entered, state)) in history.iter().enumerate() {
        if matches!(state, State::Active) || state.is_final() || matches!(state, State::RevocationRequested | State::Decommissioning) {
            stopped = true;
            break;
        }
        let left = history.get(i + 1).map_or(now, |(t, _)| *t);
        if state.sla_clock_runs() {
            used += calendar.working_time_between(*entered, left);
        }
    }
    let current = history.last().map(|(_, s)| *s);
    let paused = !stopped && current.is_some_and(|s| !s.sla_clock_runs());
    let remaining = SERVICE_TIME - used;
    let due_at = (!stopped && !paused).then(|| {
        if remaining > Duration::ZERO { calendar.add_working_time(now, remaining) } else { now + remaining }
    });
    SlaStatus {
        used_seconds: used.whole_seconds(),
        budget_seconds: SERVICE_TIME.whole_seconds(),
        due_at,
        paused,
        stopped,
        overdue: used > SERVICE_TIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cal() -> Calendar {
        Calendar::builtin_2026()
    }

    #[test]
    fn the_shipped_calendar_has_17_holidays_and_8_cuti_bersama() {
        let text = include_str!("../../deploy/calendar/2026.yaml");
        let file: CalendarFile = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(file.holidays.len(), 17);
        assert_eq!(file.cuti_bersama.len(), 8);
    }

    #[test]
    fn across_a_weekend() {
        // Friday 10:00 WITA + 4 working days = Thursday 10:00 WITA.
        let from = datetime!(2026-11-27 10:00 +8);
        assert_eq!(cal().add_working_time(from, SERVICE_TIME), datetime!(2026-12-03 10:00 +8));
        assert_eq!(cal().working_time_between(from, datetime!(2026-11-30 10:00 +8)), Duration::hours(24));
    }

    #[test]
    fn across_idulfitri_2026() {
        // Submitted Tuesday 17 March 09:00. 18 Mar cuti bersama Nyepi, 19 Nyepi, 20 cuti bersama,
        // 21-22 Idulfitri (weekend), 23-24 cuti bersama. Working: rest of 17 Mar (15 h), 25, 26, 27
        // (72 h) leaves 9 h for Monday 30 March.
        let from = datetime!(2026-03-17 09:00 +8);
        let due = cal().add_working_time(from, SERVICE_TIME);
        assert_eq!(due, datetime!(2026-03-30 09:00 +8));
        assert!(!cal().is_working_day(time::macros::date!(2026 - 03 - 23)));
        assert_eq!(cal().day_off(time::macros::date!(2026 - 03 - 21)), Some("Idulfitri 1447 Hijriah"));
    }

    #[test]
    fn utc_inputs_are_read_in_wita() {
        // 2026-11-27 20:00 UTC is Saturday 04:00 WITA: no working time until Monday.
        let from = datetime!(2026-11-27 20:00 UTC);
        assert_eq!(cal().working_time_between(from, datetime!(2026-11-30 00:00 +8)), Duration::ZERO);
    }

    #[test]
    fn clock_pauses_while_the_unit_holds_the_ball() {
        let h = [
            (datetime!(2026-11-23 08:00 +8), State::Submitted),          // Monday
            (datetime!(2026-11-23 20:00 +8), State::Verified),           // +12 h
            (datetime!(2026-11-24 08:00 +8), State::CapacityConfirmed),  // +12 h, then paused
            (datetime!(2026-12-01 08:00 +8), State::FormCompleted),      // a week later
        ];
        let s = evaluate(&cal(), &h, datetime!(2026-12-01 20:00 +8));
        assert_eq!(s.used_seconds, 36 * 3600);
        assert!(!s.paused && !s.overdue);
        assert_eq!(s.due_at, Some(datetime!(2026-12-04 08:00 +8)));

        let paused = evaluate(&cal(), &h[..3], datetime!(2026-11-30 08:00 +8));
        assert!(paused.paused && paused.due_at.is_none());
    }

    #[test]
    fn overdue_and_stopped() {
        let h = [(datetime!(2026-11-02 08:00 +8), State::Submitted)];
        let s = evaluate(&cal(), &h, datetime!(2026-11-09 08:00 +8));
        assert!(s.overdue);
        let done = [(datetime!(2026-11-02 08:00 +8), State::Submitted), (datetime!(2026-11-03 08:00 +8), State::Active)];
        let s = evaluate(&cal(), &done, datetime!(2026-12-09 08:00 +8));
        assert!(s.stopped && !s.overdue && s.due_at.is_none());
    }
}
