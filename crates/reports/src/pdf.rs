//! PDF, typeset by typst from `report.typ` with a CJK font found on the machine. The engine (and
//! the font, 5–20 MB) is loaded on first use and kept; a machine without a CJK font gets
//! [`RenderError::NoCjkFont`] each time it asks, until one is installed.

use crate::{Document, RenderError, fonts};
use std::sync::{Arc, Mutex};
use typst::foundations::{Dict, IntoValue};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};

const TEMPLATE: &str = include_str!("report.typ");

struct Engine {
    typst: TypstEngine<TypstTemplateMainFile>,
    family: String,
}

static ENGINE: Mutex<Option<Arc<Engine>>> = Mutex::new(None);

fn engine() -> Result<Arc<Engine>, RenderError> {
    let mut slot = ENGINE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(e) = slot.as_ref() {
        return Ok(e.clone());
    }
    let paths = fonts::search_paths();
    let font = fonts::find_cjk(&paths).ok_or_else(|| RenderError::NoCjkFont {
        searched: paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
    })?;
    let typst = TypstEngine::builder().main_file(TEMPLATE).fonts(font.faces).build();
    let e = Arc::new(Engine { typst, family: font.family });
    *slot = Some(e.clone());
    Ok(e)
}

/// The family name of the CJK font the PDF is set in (for logs and tests).
pub fn font_family() -> Result<String, RenderError> {
    Ok(engine()?.family.clone())
}

pub fn render(doc: &Document) -> Result<Vec<u8>, RenderError> {
    let engine = engine()?;
    let json = serde_json::to_string(doc).map_err(|e| RenderError::Typeset(e.to_string()))?;
    let mut inputs = Dict::new();
    inputs.insert("data".into(), json.into_value());
    inputs.insert("font".into(), engine.family.clone().into_value());
    let compiled = engine.typst.compile_with_input::<_, typst_layout::PagedDocument>(inputs);
    let paged = compiled.output.map_err(|e| RenderError::Typeset(format!("{e:?}")))?;
    typst_pdf::pdf(&paged, &typst_pdf::PdfOptions::default()).map_err(|e| RenderError::Typeset(format!("{e:?}")))
}
