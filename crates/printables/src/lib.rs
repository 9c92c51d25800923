//! Printables: what Bulwark puts on paper, as standalone SVG.
//!
//! - [`qr_svg`]: a QR code (error correction M, 4-module quiet zone). Personal QR codes carry an
//!   opaque random token chosen by the caller, never an ID number or a name.
//! - [`code128_svg`]: a Code 128 tube label (charset B, 10-module quiet zones, the code in text
//!   under the bars).
//! - [`TubeSeries`]: the codes of one sheet of tube labels (`EP2022000001`, `EP2022000002`, …),
//!   each a valid [`TubeCode`] of the default [`TubeFormat`].
//!
//! Every SVG carries `xmlns` (so it works as a file behind `<img>` as well as inline) and is sized
//! only by its `viewBox`, in modules: the page's CSS decides how large it prints.
//!
//! Pure rendering: no HTTP, no SQL, no clock.

mod code128;
mod qr;
mod series;

pub use code128::{CODE128_MAX_LEN, CODE128_QUIET_ZONE, code128_svg};
pub use qr::{QR_QUIET_ZONE, qr_svg};
pub use series::{MAX_LABELS_PER_SHEET, TubeSeries};

#[doc(no_inline)]
pub use bulwark_domain::testing::{TubeCode, TubeCodeError, TubeFormat};

/// Why something could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("this payload ({len} bytes) is too long for a QR code")]
    QrTooLong { len: usize },
    #[error("a Code 128 label holds 1 to {max} characters; this one has {len}")]
    Code128Length { len: usize, max: usize },
    #[error("a Code 128 label holds printable ASCII only; {0:?} is not")]
    Code128Character(char),
    #[error("a sheet holds 1 to {max} labels; {count} were asked for")]
    SheetSize { count: u32, max: u32 },
    #[error("a tube-code prefix holds only A–Z, 0–9 and '-'")]
    SeriesPrefix,
    #[error("numbers from {start} for {count} labels do not fit in {width} digits")]
    SeriesWidth { start: u64, count: u32, width: usize },
    #[error("the series makes codes that are not tube codes: {0}")]
    SeriesCode(#[from] TubeCodeError),
}

/// Escapes text for an SVG text node or attribute value.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
