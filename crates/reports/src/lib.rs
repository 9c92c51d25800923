//! Report documents. A report is built once as a [`Document`] — headings, paragraphs, tables and
//! bar charts, already in the reader's language — and rendered to whichever file is asked for:
//! DOCX ([`docx::render`]) or PDF ([`pdf::render`], typeset by typst with a CJK font found on the
//! machine). The printable HTML page is rendered by the web crate from the same document, so the
//! three always say the same thing.

mod document;
pub mod docx;
pub mod fonts;
pub mod pdf;

pub use document::{Align, BarChart, Block, Column, Document, Table};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// PDF needs a font with Chinese glyphs and none was found.
    #[error(
        "no font with Chinese characters found (looked in {searched}): install one (Debian: apt-get install fonts-noto-cjk) or set BULWARK_FONT_DIR to a folder holding one"
    )]
    NoCjkFont { searched: String },
    #[error("typesetting the report failed: {0}")]
    Typeset(String),
    #[error("writing the document failed: {0}")]
    Write(String),
}
