//! Whatever is uploaded, reading and parsing end in a table, rows and errors, or a file error:
//! never a panic. Three generators: raw bytes, CSV-like text built from the tokens registers are
//! made of, and workbooks whose XML parts are damaged.

use crate::support::{assert_totals, today, workbook_parts, zip_parts};
use bulwark_importer::{parse_residents, read_table};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn read_and_parse(bytes: &[u8]) {
    let result = read_table(bytes);
    // A panic inside calamine (one is known, see `xlsx::reversed_dimension_is_caught`) is caught
    // and reported as a malformed workbook; any other panic fails the test.
    if let Ok(table) = result
        && let Ok(parsed) = parse_residents(&table, today())
    {
        assert_totals(&parsed);
    }
}

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

const TOKENS: &[&str] = &[
    "姓名",
    "身份证号",
    "证件类型",
    "证件号码",
    "电话",
    "网格",
    "户号",
    "行动不便",
    "性别",
    "出生日期",
    "备注",
    "护照",
    "无",
    "是",
    "√",
    "男",
    "女",
    "测试",
    "湴",
    "𠮷",
    "440785198001010017",
    "4.40785E+17",
    "13812345678",
    "0750-7381368",
    "1980-01-01",
    "G01",
    "=1+1",
    ",",
    ",",
    ",",
    "\n",
    "\n",
    "\r\n",
    "\"",
    "\t",
    " ",
    "\u{feff}",
    "#N/A",
    "x",
];

#[test]
fn the_undamaged_workbook_reads() {
    let table = read_table(&zip_parts(workbook_parts())).unwrap();
    assert_eq!(table.rows.len(), 1);
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_and_parse(&bytes);
    }

    #[test]
    fn csv_made_of_register_tokens(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..200)) {
        read_and_parse(tokens.concat().as_bytes());
    }

    #[test]
    fn workbooks_with_a_damaged_part(
        part in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let mut parts = workbook_parts().clone();
        let target = part.index(parts.len());
        let (_, content) = &mut parts[target];
        for (at, byte) in edits {
            if !content.is_empty() {
                let i = at.index(content.len());
                content[i] = byte;
            }
        }
        if let Some(cut) = cut {
            content.truncate(cut.index(content.len() + 1));
        }
        read_and_parse(&zip_parts(&parts));
    }
}
