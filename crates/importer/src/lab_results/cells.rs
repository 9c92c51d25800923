//! Reading a lab file's times and Ct values. Times are China Standard Time (UTC+8, no daylight
//! saving since 1991) unless they carry their own offset; they are parsed by hand, because a
//! lab file has millions of them and trying chrono formats one after the other costs seconds.

use crate::Cell;
use bulwark_domain::Millis;
use chrono::{NaiveDate, NaiveTime};
use std::borrow::Cow;

/// China Standard Time, UTC+8, in milliseconds.
pub const CHINA_OFFSET_MILLIS: i64 = 8 * 3_600_000;

/// The forms a time cell accepts, for error messages.
pub(crate) const TIME_FORMS: &str = "a date and time such as 2022-10-06 15:30, 2022-10-06 15:30:00, 2022/10/6 15:30, \
     2022年10月6日 15:30 or 20221006153000 (China time unless an offset such as +08:00 or Z follows)";

/// The lowest and highest Ct accepted: a PCR run has at most 45 to 50 cycles.
pub(crate) const CT_RANGE: (f32, f32) = (0.0, 50.0);

/// What a Ct cell writes for "no value", for error messages.
pub(crate) const CT_NONE_FORMS: &str = "empty, —, -, / or 未检出";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeError {
    /// Not a time in any known form.
    Format,
    /// A date without a time of day.
    DateOnly,
}

/// A time cell: text in one of [`TIME_FORMS`], a workbook date-and-time cell (China time), a
/// workbook number holding an Excel serial date and time (1900 date system) or the digits of one
/// (`20221006153000`). A workbook cell holding a whole day is refused as [`TimeError::DateOnly`].
pub(crate) fn time(cell: &Cell) -> Result<Millis, TimeError> {
    match cell {
        Cell::Text(text) => parse_time(text),
        Cell::Number(n) if n.fract() == 0.0 && *n >= 1e7 && *n < 1e15 => parse_time(&format!("{n:.0}")),
        Cell::Number(n) => excel_serial(*n).ok_or(TimeError::Format),
        Cell::DateTime(t) => Ok(t.and_utc().timestamp_millis() - CHINA_OFFSET_MILLIS),
        Cell::Date(_) => Err(TimeError::DateOnly),
        Cell::Empty | Cell::Bool(_) | Cell::Error(_) => Err(TimeError::Format),
    }
}

/// An Excel serial date and time in the 1900 date system (days since 30 December 1899, with
/// Excel's phantom 29 February 1900 before serial 61) as China time. Serials below 1 are times
/// of day without a date.
fn excel_serial(serial: f64) -> Option<Millis> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch =
        if serial >= 61.0 { NaiveDate::from_ymd_opt(1899, 12, 30)? } else { NaiveDate::from_ymd_opt(1899, 12, 31)? };
    let epoch_millis = epoch.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
    // Whole milliseconds: 15:30 is stored as 0.645833…, a hair below the exact value.
    let millis = (serial * 86_400_000.0).round() as i64;
    Some(epoch_millis + millis - CHINA_OFFSET_MILLIS)
}

/// A time as text: see [`TIME_FORMS`]. Also accepted: `.` between the date's parts, `T` between
/// date and time, fractions of a second, `时`/`分`/`秒`, and full-width digits and colons.
pub(crate) fn parse_time(text: &str) -> Result<Millis, TimeError> {
    let text = text.trim();
    let folded: Cow<'_, str> = if text.is_ascii() { Cow::Borrowed(text) } else { Cow::Owned(fold_width(text)) };
    let mut s = Scanner(&folded);
    let (year, month, day, compact_time) = s.date().ok_or(TimeError::Format)?;
    let after_date = s.0;
    let (hour, minute, second, milli) = match compact_time {
        Some(time) => time,
        None => {
            let had_space = s.skip_spaces();
            if s.0.is_empty() {
                // A valid date with nothing after it.
                NaiveDate::from_ymd_opt(year, month, day).ok_or(TimeError::Format)?;
                return Err(TimeError::DateOnly);
            }
            // The time follows a space, a `T`, or directly a `日`.
            if !had_space && !s.eat("T") && !after_date_ends_with_day(&folded, after_date) {
                return Err(TimeError::Format);
            }
            s.time().ok_or(TimeError::Format)?
        }
    };
    s.skip_spaces();
    let offset = s.offset().ok_or(TimeError::Format)?;
    if !s.0.is_empty() {
        return Err(TimeError::Format);
    }
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(TimeError::Format)?;
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, milli).ok_or(TimeError::Format)?;
    Ok(date.and_time(time).and_utc().timestamp_millis() - offset)
}

/// Whether the date part (all of `whole` before `rest`) ends with `日`, after which a time may
/// follow without a space (`2022年10月6日15:30`).
fn after_date_ends_with_day(whole: &str, rest: &str) -> bool {
    whole[..whole.len() - rest.len()].ends_with('日')
}

/// Full-width digits, letters and punctuation (`１５：３０`) to ASCII, the ideographic space to a
/// space.
fn fold_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

type Clock = (u32, u32, u32, u32);

/// A cursor over the rest of a time being parsed.
struct Scanner<'a>(&'a str);

impl Scanner<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.0.strip_prefix(prefix) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    /// Whether any space was skipped.
    fn skip_spaces(&mut self) -> bool {
        let rest = self.0.trim_start();
        let skipped = rest.len() != self.0.len();
        self.0 = rest;
        skipped
    }

    /// The number of leading ASCII digits.
    fn digit_count(&self) -> usize {
        self.0.bytes().take_while(u8::is_ascii_digit).count()
    }

    /// A number of `min` to `max` digits, followed by no further digit.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let count = self.digit_count();
        if count < min || count > max {
            return None;
        }
        let value = self.0[..count].bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'));
        self.0 = &self.0[count..];
        Some(value)
    }

    /// `2022-10-06`, `2022/10/6`, `2022.10.6`, `2022年10月6日`, or the digits `20221006`
    /// (possibly running on into `1530` or `153000`).
    fn date(&mut self) -> Option<(i32, u32, u32, Option<Clock>)> {
        let count = self.digit_count();
        if matches!(count, 8 | 12 | 14) {
            let digits = &self.0[..count];
            self.0 = &self.0[count..];
            let part = |range: std::ops::Range<usize>| digits.get(range).and_then(|d| d.parse::<u32>().ok());
            let (year, month, day) = (part(0..4)?, part(4..6)?, part(6..8)?);
            let time = match count {
                8 => None,
                _ => Some((part(8..10)?, part(10..12)?, part(12..14).unwrap_or(0), 0)),
            };
            return Some((year as i32, month, day, time));
        }
        let year = self.number(4, 4)?;
        let separator = ["-", "/", ".", "年"].into_iter().find(|sep| self.eat(sep))?;
        let month = self.number(1, 2)?;
        let chinese = separator == "年";
        if !self.eat(if chinese { "月" } else { separator }) {
            return None;
        }
        let day = self.number(1, 2)?;
        if chinese {
            self.eat("日");
        }
        Some((year as i32, month, day, None))
    }

    /// `15:30`, `15:30:00`, `15:30:00.123`, `15时30分`, `15时30分20秒`.
    fn time(&mut self) -> Option<Clock> {
        let hour = self.number(1, 2)?;
        if self.eat("时") || self.eat("点") {
            let minute = self.number(1, 2)?;
            self.eat("分").then_some(())?;
            let second = match self.digit_count() {
                0 => 0,
                _ => {
                    let second = self.number(1, 2)?;
                    self.eat("秒").then_some(second)?
                }
            };
            return Some((hour, minute, second, 0));
        }
        self.eat(":").then_some(())?;
        let minute = self.number(2, 2)?;
        if !self.eat(":") {
            return Some((hour, minute, 0, 0));
        }
        let second = self.number(2, 2)?;
        let milli = if self.eat(".") {
            let count = self.digit_count();
            if count == 0 || count > 9 {
                return None;
            }
            let fraction = &self.0[..count];
            self.0 = &self.0[count..];
            fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |n, b| n * 10 + u32::from(b - b'0'))
        } else {
            0
        };
        Some((hour, minute, second, milli))
    }

    /// Nothing (China time), `Z`, or `+08:00`, `+0800`, `+08`, `-05:00`: the offset from UTC in
    /// milliseconds.
    fn offset(&mut self) -> Option<i64> {
        if self.0.is_empty() {
            return Some(CHINA_OFFSET_MILLIS);
        }
        if self.eat("Z") || self.eat("z") {
            return Some(0);
        }
        let sign = if self.eat("+") {
            1
        } else if self.eat("-") {
            -1
        } else {
            return None;
        };
        let (hours, minutes) = match self.digit_count() {
            4 => {
                let both = self.number(4, 4)?;
                (both / 100, both % 100)
            }
            2 => {
                let hours = self.number(2, 2)?;
                let minutes = if self.eat(":") { self.number(2, 2)? } else { 0 };
                (hours, minutes)
            }
            _ => return None,
        };
        if hours > 14 || minutes > 59 {
            return None;
        }
        Some(sign * (i64::from(hours) * 3_600_000 + i64::from(minutes) * 60_000))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtError {
    /// Not a number.
    Format,
    /// A number outside [`CT_RANGE`].
    Range,
}

/// A Ct value: a number in [`CT_RANGE`], or `None` for a cell in one of [`CT_NONE_FORMS`] (and
/// `N/A`, `No Ct`, `Undetermined`, as PCR software writes them).
pub(crate) fn ct(cell: &Cell) -> Result<Option<f32>, CtError> {
    let value = match cell {
        Cell::Empty => return Ok(None),
        Cell::Number(n) => *n,
        Cell::Text(text) => {
            let text = text.trim();
            if is_no_ct(text) {
                return Ok(None);
            }
            let folded: Cow<'_, str> = if text.is_ascii() { Cow::Borrowed(text) } else { Cow::Owned(fold_width(text)) };
            // Rust's float syntax also takes `inf`, `NaN` and `1e1`: only digits and one point.
            let plain =
                folded.bytes().all(|b| b.is_ascii_digit() || b == b'.') && folded.bytes().any(|b| b.is_ascii_digit());
            if !plain {
                return Err(CtError::Format);
            }
            folded.parse::<f64>().map_err(|_| CtError::Format)?
        }
        Cell::Bool(_) | Cell::Date(_) | Cell::DateTime(_) | Cell::Error(_) => return Err(CtError::Format),
    };
    if !value.is_finite() {
        return Err(CtError::Format);
    }
    let (low, high) = CT_RANGE;
    if value < f64::from(low) || value > f64::from(high) {
        return Err(CtError::Range);
    }
    Ok(Some(value as f32))
}

fn is_no_ct(text: &str) -> bool {
    match text {
        "" | "-" | "--" | "—" | "——" | "–" | "－" | "/" | "／" | "无" | "未检出" => true,
        _ => {
            text.len() <= 12
                && matches!(
                    text.to_ascii_lowercase().as_str(),
                    "n/a" | "na" | "no ct" | "noct" | "undetermined" | "undet"
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn china(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Millis {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, s).unwrap().timestamp_millis()
    }

    #[test]
    fn times_in_the_forms_labs_write() {
        let at_1530 = china(2022, 10, 6, 15, 30, 0);
        for form in [
            "2022-10-06 15:30",
            "2022-10-06 15:30:00",
            " 2022-10-06  15:30:00 ",
            "2022/10/6 15:30",
            "2022/10/06 15:30:00",
            "2022.10.6 15:30",
            "2022年10月6日 15:30",
            "2022年10月6日15:30",
            "2022年10月06日 15时30分",
            "2022年10月6日 15时30分00秒",
            "2022-10-06T15:30:00",
            "2022-10-06T15:30:00.000",
            "2022-10-06T07:30:00Z",
            "2022-10-06T15:30:00+08:00",
            "2022-10-06 09:30:00 +0200",
            "202210061530",
            "20221006153000",
            "20221006 15:30",
            "２０２２－１０－０６　１５：３０",
        ] {
            assert_eq!(parse_time(form), Ok(at_1530), "{form}");
        }
        assert_eq!(parse_time("2022-10-06 15:30:20.5"), Ok(china(2022, 10, 6, 15, 30, 20) + 500));
        assert_eq!(parse_time("2022-10-06 0:05"), Ok(china(2022, 10, 6, 0, 5, 0)));
        // 00:30 China time is the evening before in UTC.
        assert_eq!(parse_time("2022-10-07 00:30"), Ok(china(2022, 10, 6, 16, 30, 0) + 8 * 3_600_000));
    }

    #[test]
    fn dates_alone_and_nonsense_are_refused() {
        for date_only in ["2022-10-06", "2022/10/6", "2022年10月6日", "20221006"] {
            assert_eq!(parse_time(date_only), Err(TimeError::DateOnly), "{date_only}");
        }
        for bad in [
            "",
            "15:30",
            "2022-10-06 25:00",
            "2022-10-06 15:60",
            "2022-02-30 15:30",
            "2022-10-06 15",
            "2022-10-06 15:3",
            "2022-10/06 15:30",
            "2022-10-0615:30",
            "2022年10月6日 下午3:30",
            "06/10/2022 15:30",
            "2022-10-06 15:30:00 CST",
            "2022-10-06 15:30:00+99:00",
            "2022-10-06 15:30:00.1234567890",
            "2022-10-06 15:30 x",
            "2022-10-06x15:30",
            "2022113006",
            "阴性",
        ] {
            assert_eq!(parse_time(bad), Err(TimeError::Format), "{bad}");
        }
    }

    #[test]
    fn workbook_cells() {
        // 2022-10-06 15:30 is serial 44840.645833…; the importer sees date cells as days only.
        assert_eq!(time(&Cell::Number(44840.0 + 15.5 / 24.0)), Ok(china(2022, 10, 6, 15, 30, 0)));
        assert_eq!(time(&Cell::Number(44840.645833333336)), Ok(china(2022, 10, 6, 15, 30, 0)));
        assert_eq!(time(&Cell::Number(20221006153000.0)), Ok(china(2022, 10, 6, 15, 30, 0)));
        assert_eq!(time(&Cell::Number(20221006.0)), Err(TimeError::DateOnly));
        assert_eq!(time(&Cell::Number(0.5)), Err(TimeError::Format));
        assert_eq!(time(&Cell::Number(f64::NAN)), Err(TimeError::Format));
        assert_eq!(time(&Cell::Number(-1e300)), Err(TimeError::Format));
        assert_eq!(time(&Cell::Date(NaiveDate::from_ymd_opt(2022, 10, 6).unwrap())), Err(TimeError::DateOnly));
        assert_eq!(time(&Cell::Bool(true)), Err(TimeError::Format));
    }

    #[test]
    fn ct_values() {
        assert_eq!(ct(&Cell::Text("35.2".into())), Ok(Some(35.2)));
        assert_eq!(ct(&Cell::Text(" 28 ".into())), Ok(Some(28.0)));
        assert_eq!(ct(&Cell::Text("３２.５".into())), Ok(Some(32.5)));
        assert_eq!(ct(&Cell::Number(40.0)), Ok(Some(40.0)));
        assert_eq!(ct(&Cell::Text("0".into())), Ok(Some(0.0)));
        assert_eq!(ct(&Cell::Text("50".into())), Ok(Some(50.0)));
        for none in ["", " ", "—", "-", "/", "——", "－", "未检出", "N/A", "Undetermined", "No Ct"] {
            assert_eq!(ct(&Cell::Text(none.into())), Ok(None), "{none}");
        }
        assert_eq!(ct(&Cell::Empty), Ok(None));
        for bad in ["abc", "inf", "NaN", "1e1", "35.2.1", ".", "35,2", "<40", "-3"] {
            assert_eq!(ct(&Cell::Text(bad.into())), Err(CtError::Format), "{bad}");
        }
        assert_eq!(ct(&Cell::Text("50.01".into())), Err(CtError::Range));
        assert_eq!(ct(&Cell::Number(-1.0)), Err(CtError::Range));
        assert_eq!(ct(&Cell::Number(f64::INFINITY)), Err(CtError::Format));
        assert_eq!(ct(&Cell::Bool(false)), Err(CtError::Format));
    }
}
