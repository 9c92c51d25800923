//! Renders a Chinese report to DOCX and PDF and reads each back with a real reader: the DOCX's
//! XML out of its zip, the PDF's text through poppler's `pdftotext` (Debian: poppler-utils).

use bulwark_reports::{Align, BarChart, Block, Column, Document, Table, docx, pdf};
use std::io::Read;

fn sample() -> Document {
    Document {
        lang: "zh-CN".into(),
        title: "圣堂镇疫情防控工作日报".into(),
        subtitle: "2022年10月8日 · 截至15时".into(),
        blocks: vec![
            Block::Lead { text: "截至10月8日15时，全镇共完成28369人核酸检测采样工作。".into() },
            Block::Heading { text: "一、核酸检测".into() },
            Block::Table(Table {
                columns: vec![
                    Column { title: "村居".into(), align: Align::Left },
                    Column { title: "应检".into(), align: Align::Right },
                    Column { title: "已采".into(), align: Align::Right },
                ],
                rows: vec![vec!["圣堂村".into(), "3120".into(), "3051".into()]],
                total: Some(vec!["合计".into(), "3120".into(), "3051".into()]),
            }),
            Block::Chart(BarChart {
                title: "每小时采样数".into(),
                labels: (7..=15).map(|h| format!("{h}时")).collect(),
                values: vec![120, 900, 1500, 1320, 800, 300, 640, 700, 0],
            }),
            Block::Paragraph { text: "ID 440785********1234 不应出现完整号码。".into() },
        ],
        footer: "内部资料 注意保密 · Bulwark 生成于 2022-10-08 15:00".into(),
    }
}

#[test]
fn docx_holds_the_text_and_tables() {
    let bytes = docx::render(&sample()).expect("render docx");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    zip.by_name("word/document.xml").expect("word/document.xml").read_to_string(&mut xml).unwrap();
    for text in [
        "圣堂镇疫情防控工作日报",
        "截至10月8日15时，全镇共完成28369人核酸检测采样工作。",
        "圣堂村",
        "3051",
        "每小时采样数",
        "15时",
    ] {
        assert!(xml.contains(text), "document.xml lacks {text}");
    }
    assert_eq!(xml.matches("<w:tbl>").count(), 2, "the table and the chart as a table");
    assert!(xml.contains("████████████████████████"), "the longest bar is drawn at full length");
    let mut footer = String::new();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let name = names.into_iter().find(|n| n.contains("footer"));
    zip.by_name(&name.expect("a footer part")).unwrap().read_to_string(&mut footer).unwrap();
    assert!(footer.contains("内部资料 注意保密"));
}

#[test]
fn pdf_is_set_in_a_chinese_font_and_reads_back() {
    let family = pdf::font_family().expect("a CJK font on this machine (apt-get install fonts-noto-cjk)");
    let bytes = pdf::render(&sample()).expect("render pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (Debian: apt-get install poppler-utils)");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let squeezed: String = text.split_whitespace().collect();
    for t in [
        "圣堂镇疫情防控工作日报",
        "截至10月8日15时，全镇共完成28369人核酸检测采样工作。",
        "圣堂村",
        "3051",
        "每小时采样数",
        "1/1",
    ] {
        assert!(squeezed.contains(t), "the PDF's text lacks {t} (font {family}):\n{text}");
    }
}

#[test]
fn no_cjk_font_is_a_clear_error() {
    let none = bulwark_reports::fonts::find_cjk(&[std::path::PathBuf::from("/nonexistent")]);
    assert!(none.is_none());
    let err = bulwark_reports::RenderError::NoCjkFont { searched: "/nonexistent".into() };
    assert!(err.to_string().contains("fonts-noto-cjk"));
}
