//! Reading single cells as booleans, sexes and dates in the forms registers use, and showing a
//! rejected value without exposing an ID number or phone.

use crate::Cell;
use bulwark_domain::people::{Sex, mask_document, mask_phone};
use chrono::NaiveDate;

/// What a yes/no cell accepts, for error messages.
pub(crate) const BOOLEAN_FORMS: &str = "是/否, Y/N, yes/no, true/false, 1/0, √, or empty for no";

/// A yes/no cell; `None` if it is neither. Empty means no.
pub(crate) fn boolean(cell: &Cell) -> Option<bool> {
    match cell {
        Cell::Empty => Some(false),
        Cell::Bool(b) => Some(*b),
        Cell::Number(n) if *n == 1.0 => Some(true),
        Cell::Number(n) if *n == 0.0 => Some(false),
        Cell::Text(s) => match s.trim().to_lowercase().as_str() {
            "是" | "y" | "yes" | "true" | "1" | "√" | "✓" | "✔" => Some(true),
            "" | "否" | "n" | "no" | "false" | "0" | "×" | "✗" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// 男/女, M/F, male/female in any case.
pub(crate) fn sex(text: &str) -> Option<Sex> {
    Sex::parse(text).or_else(|| Sex::parse(&text.to_lowercase()))
}

/// What a date cell accepts, for error messages.
pub(crate) const DATE_FORMS: &str = "a date such as 1980-01-31, 1980/1/31, 1980.1.31, 19800131 or 1980年1月31日";

/// A date cell of the workbook, a number such as 19800131, or text in one of [`DATE_FORMS`]
/// (a time after the date is ignored).
pub(crate) fn date(cell: &Cell) -> Option<NaiveDate> {
    match cell {
        Cell::Date(d) => Some(*d),
        Cell::DateTime(t) => Some(t.date()),
        Cell::Number(n) if n.fract() == 0.0 && (10_000_101.0..=99_991_231.0).contains(n) => {
            NaiveDate::parse_from_str(&format!("{n:.0}"), "%Y%m%d").ok()
        }
        Cell::Text(s) => {
            let day = s.trim().split([' ', 'T']).next().unwrap_or("");
            ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"]
                .into_iter()
                .find_map(|format| NaiveDate::parse_from_str(day, format).ok())
        }
        _ => None,
    }
}

/// Values longer than this are cut in error reports.
const SHOWN_CHARS: usize = 40;

/// A rejected value as the error report shows it. Values of ID and phone columns are always
/// masked; a value elsewhere is masked when it has as many digits as a phone or an ID number
/// (someone typed one in the wrong column).
pub(crate) fn shown(raw: &str, is_document: bool, is_phone: bool) -> String {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    let masked = if is_document || (!is_phone && digits >= 15) {
        mask_document(raw)
    } else if is_phone || digits >= 11 {
        mask_phone(raw)
    } else {
        raw.to_string()
    };
    if masked.chars().count() > SHOWN_CHARS {
        masked.chars().take(SHOWN_CHARS).chain(['…']).collect()
    } else {
        masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    #[test]
    fn booleans() {
        for yes in ["是", "Y", "yes", "TRUE", "1", "√", " ✓ "] {
            assert_eq!(boolean(&text(yes)), Some(true), "{yes}");
        }
        for no in ["否", "n", "No", "false", "0", "", "  ", "×"] {
            assert_eq!(boolean(&text(no)), Some(false), "{no}");
        }
        assert_eq!(boolean(&Cell::Empty), Some(false));
        assert_eq!(boolean(&Cell::Bool(true)), Some(true));
        assert_eq!(boolean(&Cell::Number(1.0)), Some(true));
        assert_eq!(boolean(&Cell::Number(2.0)), None);
        assert_eq!(boolean(&text("maybe")), None);
    }

    #[test]
    fn sexes() {
        assert_eq!(sex("男"), Some(Sex::Male));
        assert_eq!(sex("Female"), Some(Sex::Female));
        assert_eq!(sex("MALE"), Some(Sex::Male));
        assert_eq!(sex("x"), None);
    }

    #[test]
    fn dates() {
        let expected = NaiveDate::from_ymd_opt(1980, 1, 31);
        for form in [
            "1980-01-31",
            "1980/1/31",
            "1980.1.31",
            "19800131",
            "1980年1月31日",
            " 1980-01-31 00:00:00",
            "1980-01-31T00:00:00",
        ] {
            assert_eq!(date(&text(form)), expected, "{form}");
        }
        assert_eq!(date(&Cell::Number(19800131.0)), expected);
        assert_eq!(date(&Cell::Date(expected.unwrap())), expected);
        assert_eq!(date(&text("1980-02-30")), None);
        assert_eq!(date(&text("31/01/1980")), None);
        assert_eq!(date(&Cell::Number(29251.0)), None);
    }

    #[test]
    fn shown_values_hide_ids_and_phones() {
        assert_eq!(shown("440785199001011234", true, false), "440785********1234");
        assert_eq!(shown("13812345678", false, true), "138****5678");
        assert_eq!(shown("440785199001011234", false, false), "440785********1234");
        assert_eq!(shown("电话13812345678", false, false), "电话1******5678");
        assert_eq!(shown("湴朗村12号", false, false), "湴朗村12号");
        let long = "长".repeat(100);
        assert_eq!(shown(&long, false, false).chars().count(), SHOWN_CHARS + 1);
    }
}
