//! CSV files: decoding the text, then splitting it into rows of text cells.
//!
//! Chinese Excel's "Save as CSV" writes GB18030 (GBK), "CSV UTF-8" writes UTF-8 with a BOM, and
//! "Unicode text" writes tab-separated UTF-16 with a BOM. Text that is valid UTF-8 is read as
//! UTF-8; anything else must be valid GB18030, or the file is refused: a wrong guess would
//! import garbled names without anyone noticing.

use crate::{
    Cell, ImportError, Table,
    table::{MAX_COLUMNS, TableBuilder},
};
use encoding_rs::{Encoding, GB18030};
use std::borrow::Cow;

pub(crate) fn read(bytes: &[u8]) -> Result<Table, ImportError> {
    let text = decode(bytes)?;
    if text.contains('\0') {
        return Err(ImportError::NotATable);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut builder = TableBuilder::default();
    let mut record = csv::StringRecord::new();
    // The csv crate counts lines; a spreadsheet counts records. They differ by the line breaks
    // inside quoted cells. Blank lines are rows in a spreadsheet, but the csv crate skips them
    // and reports a record as starting where the previous one ended, before the blank lines.
    let mut breaks_inside_cells = 0;
    while reader.read_record(&mut record).map_err(|e| ImportError::Csv(e.to_string()))? {
        let (byte, line) = record.position().map_or((0, 1), |p| (p.byte() as usize, p.line() as usize));
        let blank_lines = text.as_bytes()[byte.min(text.len())..]
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .filter(|&&b| b == b'\n')
            .count();
        let number = (line + blank_lines).saturating_sub(breaks_inside_cells);
        breaks_inside_cells += record.iter().map(|f| f.matches('\n').count()).sum::<usize>();
        // Cells past the last filled one are not even built: a line of a million commas is
        // an empty row, not a million cells.
        let width = (0..record.len()).rev().find(|&i| !record[i].trim().is_empty()).map_or(0, |i| i + 1);
        if width > MAX_COLUMNS {
            return Err(ImportError::TooManyColumns { limit: MAX_COLUMNS });
        }
        builder.push(number, record.iter().take(width).map(|f| Cell::Text(f.to_string())).collect())?;
    }
    builder.finish()
}

/// UTF-8 (BOM optional), UTF-16 with a BOM, or GB18030; refused if none of them fits exactly.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ImportError> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        return encoding.decode_without_bom_handling_and_without_replacement(body).ok_or(ImportError::Encoding);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(_) => GB18030.decode_without_bom_handling_and_without_replacement(bytes).ok_or(ImportError::Encoding),
    }
}

/// Commas, unless the header line has more tabs than commas (Excel's "Unicode text" and
/// copies from a sheet).
fn sniff_delimiter(text: &str) -> u8 {
    let first_line = text.lines().next().unwrap_or("");
    let count = |c: char| first_line.matches(c).count();
    if count('\t') > count(',') { b'\t' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_16BE, UTF_16LE};

    /// The encodings [`decode`] can meet, for tests that write files the way Excel does.
    fn encode(text: &str, encoding: &'static Encoding) -> Vec<u8> {
        if encoding == UTF_16LE || encoding == UTF_16BE {
            let units = text.encode_utf16();
            let mut out = if encoding == UTF_16LE { vec![0xFF, 0xFE] } else { vec![0xFE, 0xFF] };
            for unit in units {
                let bytes = if encoding == UTF_16LE { unit.to_le_bytes() } else { unit.to_be_bytes() };
                out.extend_from_slice(&bytes);
            }
            out
        } else {
            encoding.encode(text).0.into_owned()
        }
    }

    fn texts(table: &Table) -> Vec<(usize, Vec<String>)> {
        table.rows.iter().map(|r| (r.number, r.cells.iter().map(|c| c.display().into_owned()).collect())).collect()
    }

    #[test]
    fn decodes_every_encoding_excel_writes() {
        let text = "姓名,地址\n湴朗村张三,𠮷野家\n";
        for encoding in [GB18030, UTF_16LE, UTF_16BE] {
            let table = read(&encode(text, encoding)).unwrap();
            assert_eq!(table.headers, ["姓名", "地址"], "{}", encoding.name());
            assert_eq!(texts(&table), [(2, vec!["湴朗村张三".to_string(), "𠮷野家".to_string()])]);
        }
    }

    #[test]
    fn refuses_what_is_neither_utf8_nor_gb18030() {
        assert_eq!(read(b"name\n\xff\xff\n").unwrap_err(), ImportError::Encoding);
        // A UTF-8 BOM followed by something that is not UTF-8 is not guessed at either.
        assert_eq!(read(b"\xEF\xBB\xBFname\n\xd5\xc5\n").unwrap_err(), ImportError::Encoding);
        assert_eq!(read(b"a,b\n\0\0\0").unwrap_err(), ImportError::NotATable);
    }

    #[test]
    fn row_numbers_follow_the_spreadsheet() {
        let text = "\n姓名,备注\n张三,\"两行\n备注\"\n\n李四,x\n\n\n";
        let table = read(text.as_bytes()).unwrap();
        assert_eq!(table.header_row, 2);
        let numbers: Vec<usize> = table.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [3, 5]);
    }

    #[test]
    fn a_title_line_above_the_header_is_skipped() {
        // As Chinese offices save their registers: a merged title cell, then the header.
        let text = "圣堂镇湴朗村居民花名册,,,\n姓名,身份证号,网格\n张三,11010519491231002X,G01\n";
        let table = read(text.as_bytes()).unwrap();
        assert_eq!(table.titles, ["圣堂镇湴朗村居民花名册"]);
        assert_eq!(
            (table.header_row, table.headers.clone()),
            (2, vec!["姓名".into(), "身份证号".into(), "网格".into()])
        );
        assert_eq!(table.rows[0].number, 3);
    }

    #[test]
    fn trailing_separators_build_no_cells() {
        let mut text = "姓名\n张三".to_string();
        text.push_str(&",".repeat(5 * MAX_COLUMNS));
        let table = read(text.as_bytes()).unwrap();
        assert_eq!(table.rows[0].cells.len(), 1);
        let wide = format!("姓名{}x", ",".repeat(MAX_COLUMNS));
        assert_eq!(read(wide.as_bytes()), Err(ImportError::TooManyColumns { limit: MAX_COLUMNS }));
    }

    #[test]
    fn crlf_and_tabs() {
        let table = read("姓名\t电话\r\n张三\t13812345678\r\n".as_bytes()).unwrap();
        assert_eq!(table.headers, ["姓名", "电话"]);
        assert_eq!(texts(&table), [(2, vec!["张三".to_string(), "13812345678".to_string()])]);
    }
}
