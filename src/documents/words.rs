//! Dates and numbers in words, as Indonesian official letters write them ("Pada hari ini,
//! Senin tanggal dua puluh delapan bulan November tahun dua ribu dua puluh enam"), and the
//! plain long dates of both languages.

use time::{Date, Month, Weekday};

use super::Lang;

pub fn day_name(date: Date, lang: Lang) -> &'static str {
    let (id, en) = match date.weekday() {
        Weekday::Monday => ("Senin", "Monday"),
        Weekday::Tuesday => ("Selasa", "Tuesday"),
        Weekday::Wednesday => ("Rabu", "Wednesday"),
        Weekday::Thursday => ("Kamis", "Thursday"),
        Weekday::Friday => ("Jumat", "Friday"),
        Weekday::Saturday => ("Sabtu", "Saturday"),
        Weekday::Sunday => ("Minggu", "Sunday"),
    };
    if lang == Lang::Id { id } else { en }
}

pub fn month_name(month: Month, lang: Lang) -> &'static str {
    const ID: [&str; 12] = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"];
    const EN: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let i = u8::from(month) as usize - 1;
    if lang == Lang::Id { ID[i] } else { EN[i] }
}

/// "28 November 2026" (both languages write the day first on these forms).
pub fn long_date(date: Date, lang: Lang) -> String {
    format!("{} {} {}", date.day(), month_name(date.month(), lang), date.year())
}

/// A whole number in Indonesian words ("terbilang"): 28 → "dua puluh delapan",
/// 2026 → "dua ribu dua puluh enam".
pub fn terbilang(n: u64) -> String {
    const ONES: [&str; 12] = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan", "sepuluh", "sebelas"];
    fn words(n: u64) -> String {
        match n {
            0..=11 => ONES[n as usize].to_string(),
            12..=19 => format!("{} belas", ONES[(n - 10) as usize]),
            20..=99 => join(format!("{} puluh", ONES[(n / 10) as usize]), n % 10),
            100..=199 => join("seratus".into(), n - 100),
            200..=999 => join(format!("{} ratus", ONES[(n / 100) as usize]), n % 100),
            1000..=1999 => join("seribu".into(), n - 1000),
            2000..=999_999 => join(format!("{} ribu", words(n / 1000)), n % 1000),
            1_000_000..=999_999_999 => join(format!("{} juta", words(n / 1_000_000)), n % 1_000_000),
            _ => join(format!("{} miliar", words(n / 1_000_000_000)), n % 1_000_000_000),
        }
    }
    fn join(head: String, rest: u64) -> String {
        if rest == 0 { head } else { format!("{head} {}", words(rest)) }
    }
    words(n)
}

/// An English ordinal in words for a day of the month: 28 → "twenty-eighth".
fn ordinal_en(n: u8) -> String {
    const ORD: [&str; 20] = [
        "",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    match n {
        1..=19 => ORD[n as usize].into(),
        20 => "twentieth".into(),
        21..=29 => format!("twenty-{}", ORD[(n - 20) as usize]),
        30 => "thirtieth".into(),
        _ => format!("thirty-{}", ORD[(n - 30) as usize]),
    }
}

/// The opening of a berita acara: "Pada hari ini, Senin tanggal dua puluh delapan bulan
/// November tahun dua ribu dua puluh enam (28-11-2026)".
pub fn opening(date: Date, lang: Lang) -> String {
    let numeric = format!("{:02}-{:02}-{}", date.day(), u8::from(date.month()), date.year());
    match lang {
        Lang::Id => format!(
            "Pada hari ini, {} tanggal {} bulan {} tahun {} ({numeric})",
            day_name(date, lang),
            terbilang(u64::from(date.day())),
            month_name(date.month(), lang),
            terbilang(date.year().unsigned_abs().into())
        ),
        Lang::En => format!(
            "On this day, {} the {} of {} in the year {} ({numeric})",
            day_name(date, lang),
            ordinal_en(date.day()),
            month_name(date.month(), lang),
            date.year()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn indonesian_numbers_in_words() {
        let cases = [
            (0, "nol"),
            (1, "satu"),
            (10, "sepuluh"),
            (11, "sebelas"),
            (12, "dua belas"),
            (19, "sembilan belas"),
            (20, "dua puluh"),
            (28, "dua puluh delapan"),
            (31, "tiga puluh satu"),
            (100, "seratus"),
            (115, "seratus lima belas"),
            (250, "dua ratus lima puluh"),
            (1000, "seribu"),
            (1999, "seribu sembilan ratus sembilan puluh sembilan"),
            (2026, "dua ribu dua puluh enam"),
            (11000, "sebelas ribu"),
            (1_000_000, "satu juta"),
        ];
        for (n, w) in cases {
            assert_eq!(terbilang(n), w, "{n}");
        }
    }

    #[test]
    fn the_opening_of_a_berita_acara() {
        assert_eq!(
            opening(date!(2026 - 11 - 30), Lang::Id),
            "Pada hari ini, Senin tanggal tiga puluh bulan November tahun dua ribu dua puluh enam (30-11-2026)"
        );
        assert_eq!(opening(date!(2026 - 12 - 21), Lang::En), "On this day, Monday the twenty-first of December in the year 2026 (21-12-2026)");
        assert_eq!(long_date(date!(2026 - 08 - 17), Lang::Id), "17 Agustus 2026");
        assert_eq!(day_name(date!(2026 - 11 - 28), Lang::Id), "Sabtu");
    }
}
