//! Tube-code series: the codes of one sheet of labels.

use bulwark_domain::testing::{TubeCode, TubeFormat};

use crate::PrintError;

/// The most labels one sheet (one request) prints.
pub const MAX_LABELS_PER_SHEET: u32 = 10_000;

/// Consecutive tube codes: `prefix` then the number zero-padded to `width` digits, for `count`
/// numbers from `start`. `{ prefix: "EP2022", start: 1, count: 3, width: 6 }` gives
/// `EP2022000001`, `EP2022000002`, `EP2022000003`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TubeSeries {
    /// Upper-case letters, digits and '-' only; may be empty.
    pub prefix: String,
    pub start: u64,
    pub count: u32,
    /// Digits of the number, at least 1; every number of the series must fit in them.
    pub width: usize,
}

impl TubeSeries {
    /// The series' codes, in order, each a [`TubeCode`] of the default [`TubeFormat`] (6 to 24
    /// characters from A–Z, 0–9 and '-') and all of the same length.
    ///
    /// # Errors
    /// [`PrintError::SheetSize`] for no labels or more than [`MAX_LABELS_PER_SHEET`];
    /// [`PrintError::SeriesPrefix`] for a prefix with anything but A–Z, 0–9 and '-' (lower case
    /// included: the label must show the code as stored); [`PrintError::SeriesWidth`] when the
    /// last number needs more than `width` digits (or passes `u64::MAX`);
    /// [`PrintError::SeriesCode`] when the codes would be shorter or longer than a tube code.
    pub fn codes(&self) -> Result<Vec<TubeCode>, PrintError> {
        if self.count == 0 || self.count > MAX_LABELS_PER_SHEET {
            return Err(PrintError::SheetSize { count: self.count, max: MAX_LABELS_PER_SHEET });
        }
        if !self.prefix.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-') {
            return Err(PrintError::SeriesPrefix);
        }
        let too_wide = PrintError::SeriesWidth { start: self.start, count: self.count, width: self.width };
        let last = self.start.checked_add(u64::from(self.count) - 1).ok_or_else(|| too_wide.clone())?;
        if self.width == 0 || digits(last) > self.width {
            return Err(too_wide);
        }
        // Every code has the same length, so checking the first against the format checks the
        // length of all; each is still parsed, which is what makes it a `TubeCode`.
        let format = TubeFormat::default();
        (self.start..=last)
            .map(|n| {
                let raw = format!("{}{:0width$}", self.prefix, n, width = self.width);
                let code = TubeCode::parse(&raw, &format)?;
                debug_assert_eq!(code.as_str(), raw);
                Ok(code)
            })
            .collect()
    }
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use bulwark_domain::testing::TubeCodeError;

    use super::*;

    fn series(prefix: &str, start: u64, count: u32, width: usize) -> TubeSeries {
        TubeSeries { prefix: prefix.into(), start, count, width }
    }

    fn strings(codes: &[TubeCode]) -> Vec<&str> {
        codes.iter().map(TubeCode::as_str).collect()
    }

    #[test]
    fn codes_are_the_prefix_and_the_padded_number() {
        let codes = series("EP2022", 1, 3, 6).codes().unwrap();
        assert_eq!(strings(&codes), ["EP2022000001", "EP2022000002", "EP2022000003"]);
        let codes = series("", 999_998, 2, 6).codes().unwrap();
        assert_eq!(strings(&codes), ["999998", "999999"]);
        let codes = series("S-", 0, 1, 4).codes().unwrap();
        assert_eq!(strings(&codes), ["S-0000"]);
    }

    #[test]
    fn a_sheet_holds_one_to_ten_thousand_labels() {
        assert_eq!(series("EP", 1, 10_000, 8).codes().unwrap().len(), 10_000);
        assert_eq!(series("EP", 1, 10_001, 8).codes(), Err(PrintError::SheetSize { count: 10_001, max: 10_000 }));
        assert_eq!(series("EP", 1, 0, 8).codes(), Err(PrintError::SheetSize { count: 0, max: 10_000 }));
    }

    #[test]
    fn numbers_must_fit_their_width() {
        assert!(series("EP", 999_999, 1, 6).codes().is_ok());
        assert_eq!(
            series("EP", 999_999, 2, 6).codes(),
            Err(PrintError::SeriesWidth { start: 999_999, count: 2, width: 6 })
        );
        assert!(matches!(series("EP", 1, 1, 0).codes(), Err(PrintError::SeriesWidth { .. })));
        assert!(matches!(series("EP", u64::MAX, 2, 24).codes(), Err(PrintError::SeriesWidth { .. })));
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(u64::MAX), 20);
    }

    #[test]
    fn only_tube_codes_come_out() {
        for bad in ["ep", "E P", "EP_", "管", "EP\n"] {
            assert_eq!(series(bad, 1, 1, 6).codes(), Err(PrintError::SeriesPrefix), "{bad:?}");
        }
        assert!(matches!(
            series("E", 1, 1, 4).codes(),
            Err(PrintError::SeriesCode(TubeCodeError::Length { len: 5, min: 6, max: 24 }))
        ));
        assert!(matches!(
            series("EP2022-", 1, 1, 18).codes(),
            Err(PrintError::SeriesCode(TubeCodeError::Length { len: 25, .. }))
        ));
        assert_eq!(series("EP2022-", 1, 1, 17).codes().unwrap()[0].as_str().len(), 24);
    }
}
