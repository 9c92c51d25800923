//! DOCX, for the office that edits the report before sending it up (Word or WPS). Charts become
//! tables with a bar drawn in block characters: no image, so nothing depends on fonts here.

use crate::{Align, BarChart, Block, Document, RenderError, Table};
use docx_rs::{AlignmentType, Docx, Footer, Paragraph, Run, RunFonts, TableCell, TableRow, WidthType};

/// Sizes in half-points.
const BODY: usize = 24; // 小四 (12 pt)
const TITLE: usize = 36; // 小二 (18 pt)
const HEADING: usize = 28; // 四号 (14 pt)
const SMALL: usize = 20;
/// The longest bar of a chart, in characters.
const BAR: u64 = 24;
/// A4 content width in twentieths of a point (21 cm minus two 2.54 cm margins).
const WIDTH: usize = 9026;

pub fn render(doc: &Document) -> Result<Vec<u8>, RenderError> {
    // SimSun (宋体) is the government-document face on Chinese desktops; Word falls back to
    // whatever East Asian font it has.
    let fonts = RunFonts::new().east_asia("宋体").ascii("Times New Roman").hi_ansi("Times New Roman");
    let mut docx = Docx::new()
        .page_size(11906, 16838)
        .default_fonts(fonts)
        .default_size(BODY)
        .add_paragraph(
            Paragraph::new().align(AlignmentType::Center).add_run(Run::new().add_text(&doc.title).bold().size(TITLE)),
        )
        .add_paragraph(
            Paragraph::new().align(AlignmentType::Center).add_run(Run::new().add_text(&doc.subtitle).size(BODY)),
        )
        .footer(Footer::new().add_paragraph(
            Paragraph::new().align(AlignmentType::Center).add_run(Run::new().add_text(&doc.footer).size(SMALL)),
        ));
    for block in &doc.blocks {
        docx = match block {
            Block::Heading { text } => {
                docx.add_paragraph(Paragraph::new().add_run(Run::new().add_text(text).bold().size(HEADING)))
            }
            Block::Paragraph { text } => docx.add_paragraph(Paragraph::new().add_run(Run::new().add_text(text))),
            Block::Lead { text } => docx.add_paragraph(Paragraph::new().add_run(Run::new().add_text(text).bold())),
            Block::Table(t) => docx.add_table(table(t)).add_paragraph(Paragraph::new()),
            Block::Chart(c) => docx.add_table(chart(c)).add_paragraph(Paragraph::new()),
        };
    }
    let mut out = std::io::Cursor::new(Vec::new());
    docx.build().pack(&mut out).map_err(|e| RenderError::Write(e.to_string()))?;
    Ok(out.into_inner())
}

fn cell(text: &str, align: Align, bold: bool) -> TableCell {
    let run = Run::new().add_text(text).size(SMALL);
    let run = if bold { run.bold() } else { run };
    let align = match align {
        Align::Left => AlignmentType::Left,
        Align::Right => AlignmentType::Right,
    };
    TableCell::new().add_paragraph(Paragraph::new().align(align).add_run(run))
}

fn row(values: &[String], t: &Table, bold: bool) -> TableRow {
    TableRow::new(t.columns.iter().zip(values).map(|(c, v)| cell(v, c.align, bold)).collect())
}

fn table(t: &Table) -> docx_rs::Table {
    let header: Vec<String> = t.columns.iter().map(|c| c.title.clone()).collect();
    let mut rows = vec![row(&header, t, true)];
    rows.extend(t.rows.iter().map(|r| row(r, t, false)));
    rows.extend(t.total.iter().map(|r| row(r, t, true)));
    docx_rs::Table::new(rows).width(WIDTH, WidthType::Dxa)
}

fn chart(c: &BarChart) -> docx_rs::Table {
    let max = c.max().max(1);
    let mut rows = vec![TableRow::new(vec![cell(&c.title, Align::Left, true).grid_span(3)])];
    for (label, &value) in c.labels.iter().zip(&c.values) {
        let bar = "█".repeat((value * BAR).div_ceil(max) as usize);
        rows.push(TableRow::new(vec![
            cell(label, Align::Left, false),
            cell(&value.to_string(), Align::Right, false),
            cell(&bar, Align::Left, false),
        ]));
    }
    docx_rs::Table::new(rows).width(WIDTH, WidthType::Dxa)
}
