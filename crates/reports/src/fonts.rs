//! Finding a font with Chinese glyphs on the machine, for the PDF. A CJK font is 5–20 MB, so it
//! is not built into the binary: the server uses the one the system has (Debian: fonts-noto-cjk or
//! fonts-wqy-microhei), or the folder or file `BULWARK_FONT_DIR` names.

use std::path::{Path, PathBuf};
use typst::text::Font;

/// Where fonts are looked for, in order.
pub fn search_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(dir) = std::env::var_os("BULWARK_FONT_DIR") {
        paths.push(PathBuf::from(dir));
    }
    paths.extend(["/usr/share/fonts", "/usr/local/share/fonts"].map(PathBuf::from));
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(Path::new(&home).join(".local/share/fonts"));
    }
    paths.extend(["/System/Library/Fonts", "/Library/Fonts", "C:\\Windows\\Fonts"].map(PathBuf::from));
    paths
}

/// A CJK font found: its faces and the family to ask typst for.
pub struct CjkFont {
    pub family: String,
    pub faces: Vec<Font>,
    pub path: PathBuf,
}

/// Names that mark a CJK font file; tried first so that finding one reads a single file.
const HINTS: [&str; 10] = [
    "notosanscjk",
    "notoserifcjk",
    "sourcehansans",
    "wqy",
    "droidsansfallback",
    "simsun",
    "simhei",
    "msyh",
    "pingfang",
    "notosanssc",
];

/// The first font on the search paths that draws Chinese, preferring files named like CJK fonts
/// and, inside a collection, the Simplified Chinese face.
pub fn find_cjk(paths: &[PathBuf]) -> Option<CjkFont> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, 0, &mut files);
    }
    let hinted = |f: &PathBuf| {
        let name =
            f.file_name().map(|n| n.to_string_lossy().to_lowercase().replace(['-', '_', ' '], "")).unwrap_or_default();
        HINTS.iter().position(|h| name.contains(h))
    };
    files.sort_by_key(|f| (hinted(f).unwrap_or(usize::MAX), !is_regular(f)));
    let (preferred, others): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| hinted(f).is_some());
    preferred.into_iter().chain(others).find_map(|f| load(&f))
}

fn is_regular(f: &Path) -> bool {
    let name = f.to_string_lossy().to_lowercase();
    name.contains("regular") || !(name.contains("bold") || name.contains("light") || name.contains("thin"))
}

fn collect(p: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if matches!(ext.as_str(), "ttf" | "otf" | "ttc" | "otc") {
            out.push(p.to_owned());
        }
        return;
    }
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(p) else { return };
    for e in entries.flatten() {
        collect(&e.path(), depth + 1, out);
    }
}

fn load(path: &Path) -> Option<CjkFont> {
    let bytes = std::fs::read(path).ok()?;
    let faces: Vec<Font> = Font::iter(typst::foundations::Bytes::new(bytes)).collect();
    let draws_chinese = |f: &Font| f.info().coverage.contains('中' as u32) && f.info().coverage.contains('测' as u32);
    let face = faces
        .iter()
        .filter(|f| draws_chinese(f))
        .min_by_key(|f| (!f.info().family.contains(" SC"), f.info().variant.weight.to_number().abs_diff(400)))?;
    Some(CjkFont { family: face.info().family.clone(), faces, path: path.to_owned() })
}
