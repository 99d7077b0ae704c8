//! Output helpers: plain tables for people, JSON for scripts.

use serde::Serialize;

pub fn print_json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
}

/// Prints rows as an aligned table with a header line.
/// `s` with control characters (ESC of a terminal escape sequence, CR, …) and invisible or
/// direction-changing ones shown as `\u{1b}`: text from the store (reasons, names written
/// before they were checked) cannot move the cursor, recolour or rewrite an operator's screen.
pub fn terminal_safe(s: &str) -> String {
    if crate::domain::text::check_visible(s).is_ok() {
        return s.to_string();
    }
    s.chars()
        .map(|c| if crate::domain::text::check_visible(c.encode_utf8(&mut [0; 4])).is_ok() { c.to_string() } else { format!("\\u{{{:x}}}", c as u32) })
        .collect()
}

/// Prints a table with aligned columns; every cell made [`terminal_safe`].
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| terminal_safe(c)).collect()).collect();
    let rows = &rows;
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = width[i])).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(width.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

pub fn wita(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] WITA");
    t.to_offset(crate::lifecycle::sla::WITA).format(&fmt).expect("formats")
}

#[cfg(test)]
mod tests {
    #[test]
    fn terminal_escapes_and_bidi_are_shown_not_obeyed() {
        assert_eq!(super::terminal_safe("baik"), "baik");
        assert_eq!(super::terminal_safe("x\u{1b}[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(super::terminal_safe("a\u{202E}b\rc"), "a\\u{202e}b\\u{d}c");
    }
}
