//! National resident ID numbers (GB 11643-1999, 公民身份号码).
//!
//! 18 characters: a 6-digit address code, an 8-digit birth date, a 3-digit sequence (odd for men,
//! even for women) and an ISO 7064 MOD 11-2 check character. Input is forgiving about what people
//! and spreadsheets actually type (full-width digits, a lower-case `x`, spaces around it); the
//! stored form is always 18 ASCII characters with an upper-case `X`.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Weights of positions 1–17: 2^(18-i) mod 11.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Why a string is not a valid ID number. Messages are meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters, this one has {0}")]
    Length(usize),
    #[error(
        "looks like a number that Excel shortened to {0} significant digits (e.g. 4.40785E+17): format the column as Text and export again"
    )]
    ExcelNumber(usize),
    #[error("only digits are allowed in the first 17 characters, and a digit or X last")]
    Characters,
    #[error("the birth date {0} does not exist")]
    BirthDate(String),
    #[error("the birth date {0} is in the future")]
    FutureBirthDate(String),
    #[error("the check character should be {expected}, not {found}: a digit was probably mistyped")]
    Checksum { expected: char, found: char },
}

/// Sex as encoded in the ID number's sequence digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
    pub fn parse(s: &str) -> Option<Sex> {
        match s {
            "male" | "M" | "m" | "男" => Some(Sex::Male),
            "female" | "F" | "f" | "女" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// A valid, normalised 18-character resident ID number.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses an ID number as typed, checking length, characters, birth date and checksum.
    /// `today` rejects birth dates in the future.
    pub fn parse(input: &str, today: NaiveDate) -> Result<IdNumber, IdNumberError> {
        let id = Self::parse_ignoring_date_limit(input)?;
        let birth = id.birth_date();
        if birth > today {
            return Err(IdNumberError::FutureBirthDate(birth.to_string()));
        }
        Ok(id)
    }

    /// Like [`IdNumber::parse`] without the future-date check, for values read back from storage.
    pub fn parse_ignoring_date_limit(input: &str) -> Result<IdNumber, IdNumberError> {
        // Numbers read back from storage are already canonical: no normalising, no Excel check
        // (every list of people parses one per person).
        let b = input.as_bytes();
        let canonical =
            b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X');
        let normalised = if canonical { input.to_string() } else { normalise(input) };
        if !canonical && let Some(digits) = excel_number_digits(&normalised) {
            return Err(IdNumberError::ExcelNumber(digits));
        }
        let chars = normalised.chars().count();
        if chars != 18 {
            return Err(IdNumberError::Length(chars));
        }
        let bytes = normalised.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let date = &normalised[6..14];
        date_of_digits(date.as_bytes()).ok_or_else(|| IdNumberError::BirthDate(date.to_string()))?;
        let expected = check_char(&bytes[..17]);
        let found = bytes[17] as char;
        if expected != found {
            return Err(IdNumberError::Checksum { expected, found });
        }
        Ok(IdNumber(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit address code of household registration (GB/T 2260).
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> NaiveDate {
        date_of_digits(&self.0.as_bytes()[6..14]).expect("checked at parse time")
    }

    pub fn sex(&self) -> Sex {
        let seq_last = self.0.as_bytes()[16] - b'0';
        if seq_last % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    /// Builds a valid number from its first 17 digits by computing the check character.
    /// Used by the demo generator and tests; panics on anything but 17 ASCII digits.
    pub fn from_body(body17: &str) -> IdNumber {
        assert!(body17.len() == 17 && body17.bytes().all(|b| b.is_ascii_digit()), "17 digits expected");
        let mut s = body17.to_string();
        s.push(check_char(body17.as_bytes()));
        Self::parse_ignoring_date_limit(&s).expect("a computed check character is valid")
    }
}

/// `YYYYMMDD` as a date (what chrono's `%Y%m%d` accepts for eight digits, without its format
/// parser: this runs for every person read back).
fn date_of_digits(s: &[u8]) -> Option<NaiveDate> {
    if s.len() != 8 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    NaiveDate::from_ymd_opt(i32::try_from(n(0..4)).ok()?, n(4..6), n(6..8))
}

fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize] as char
}

/// Full-width digits and letters (as typed with a Chinese IME) become ASCII, `x` becomes `X`,
/// surrounding whitespace and Excel's leading apostrophe go.
fn normalise(input: &str) -> String {
    let trimmed = input.trim().trim_start_matches('\'');
    trimmed
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            'ｘ' | 'Ｘ' | 'x' => 'X',
            other => other,
        })
        .collect()
}

/// Recognises the scientific notation Excel shows for long numbers ("4.40785E+17") and returns
/// how many significant digits survived.
fn excel_number_digits(s: &str) -> Option<usize> {
    let upper = s.to_ascii_uppercase();
    let (mantissa, exponent) = upper.split_once("E+")?;
    if exponent.is_empty() || !exponent.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    let valid = !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    valid.then_some(digits)
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug never prints the number itself, so it cannot leak into logs by accident.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", super::mask_document(&self.0))
    }
}

impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_ignoring_date_limit(&value)
    }
}

impl From<IdNumber> for String {
    fn from(value: IdNumber) -> Self {
        value.0
    }
}

/// Age in whole years on `day`.
pub(crate) fn years_between(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 10, 6).unwrap()
    }

    #[test]
    fn shared_test_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/id_test_vectors.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        let mut seen = 0;
        for row in reader.records() {
            let row = row.unwrap();
            let (id, expect) = (&row[0], &row[1]);
            let result = IdNumber::parse(id, today());
            match expect {
                "valid" | "valid_lowercase_x" => {
                    let parsed = result.unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert_eq!(parsed.as_str(), id.to_ascii_uppercase());
                }
                "invalid_checksum" => assert!(matches!(result, Err(IdNumberError::Checksum { .. })), "{id}"),
                "invalid_date" => assert!(matches!(result, Err(IdNumberError::BirthDate(_))), "{id}"),
                "invalid_length" => assert!(matches!(result, Err(IdNumberError::Length(17))), "{id}"),
                other => panic!("unknown expectation {other}"),
            }
            seen += 1;
        }
        assert_eq!(seen, 6);
    }

    #[test]
    fn derived_fields() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(id.address_code(), "110105");
        let id = IdNumber::parse("440524188001010014", today()).unwrap();
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn full_width_and_excel_forms() {
        let id = IdNumber::parse("１１０１０５１９４９１２３１００２ｘ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(IdNumber::parse(" '11010519491231002X ", today()).unwrap().as_str(), "11010519491231002X");
        assert_eq!(IdNumber::parse("4.40785E+17", today()), Err(IdNumberError::ExcelNumber(6)));
        assert_eq!(IdNumber::parse("4.40785199001011E+17", today()), Err(IdNumberError::ExcelNumber(15)));
    }

    #[test]
    fn future_birth_date_rejected() {
        let future = IdNumber::from_body("44078520300101001");
        assert!(matches!(IdNumber::parse(future.as_str(), today()), Err(IdNumberError::FutureBirthDate(_))));
    }

    #[test]
    fn debug_masks() {
        let id = IdNumber::parse("440524188001010014", today()).unwrap();
        assert!(!format!("{id:?}").contains("188001010"));
    }

    proptest! {
        #[test]
        fn any_single_digit_error_is_caught(seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10) {
            let id = IdNumber::from_body(&format!("44078519800101{seq:03}"));
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(IdNumber::parse(&typo, today()).is_err());
        }

        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = IdNumber::parse(&s, today());
        }

        #[test]
        fn round_trips(day in 0i64..30000, seq in 0u32..1000) {
            let birth = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(day);
            let id = IdNumber::from_body(&format!("440785{}{seq:03}", birth.format("%Y%m%d")));
            let again = IdNumber::parse(id.as_str(), NaiveDate::from_ymd_opt(2100, 1, 1).unwrap()).unwrap();
            prop_assert_eq!(again.birth_date(), birth);
            prop_assert_eq!(again, id);
        }
    }
}
