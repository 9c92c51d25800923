//! Code 128 tube labels.

use std::fmt::Write;

use barcoders::sym::code128::Code128;

use crate::{PrintError, xml_escape};

/// The longest text a label takes: 48 characters are already 563 modules wide, more than a
/// tube label can hold at a scannable module width.
pub const CODE128_MAX_LEN: usize = 48;

/// Light modules on each side of the bars (the standard asks for at least 10).
pub const CODE128_QUIET_ZONE: u32 = 10;

/// Bar height in modules, at least (longer codes get taller bars: 15 % of the symbol's width).
const MIN_BAR_HEIGHT: u32 = 40;
/// Space under the bars for the human-readable text, in modules.
const TEXT_BAND: u32 = 14;
const FONT_SIZE: u32 = 11;

/// A standalone SVG of `code` as Code 128 (charset B), with quiet zones left and right and the
/// code in text under the bars.
///
/// The SVG has no `width` or `height`: its `viewBox` counts modules, so CSS sizes it on the label.
///
/// # Errors
/// [`PrintError::Code128Length`] for an empty code or one over [`CODE128_MAX_LEN`];
/// [`PrintError::Code128Character`] for anything but printable ASCII (space to `~`).
pub fn code128_svg(code: &str) -> Result<String, PrintError> {
    let len = code.chars().count();
    if len == 0 || len > CODE128_MAX_LEN {
        return Err(PrintError::Code128Length { len, max: CODE128_MAX_LEN });
    }
    if let Some(bad) = code.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(PrintError::Code128Character(bad));
    }
    // Printable ASCII is all in charset B, so barcoders cannot refuse it; map its error anyway.
    let modules = Code128::new(format!("\u{0181}{code}"))
        .map_err(|_| PrintError::Code128Character(code.chars().next().unwrap_or(' ')))?
        .encode();
    Ok(render(&modules, code))
}

fn render(modules: &[u8], text: &str) -> String {
    let bars_width = u32::try_from(modules.len()).unwrap_or(u32::MAX);
    let width = bars_width + 2 * CODE128_QUIET_ZONE;
    let bar_height = MIN_BAR_HEIGHT.max(width * 15 / 100);
    let height = bar_height + TEXT_BAND;

    let mut bars = String::new();
    let mut x = 0usize;
    while x < modules.len() {
        if modules[x] == 1 {
            let run = modules[x..].iter().take_while(|&&m| m == 1).count();
            let left = CODE128_QUIET_ZONE as usize + x;
            let _ = write!(bars, "M{left} 0h{run}v{bar_height}h-{run}z");
            x += run;
        } else {
            x += 1;
        }
    }

    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 {width} {height}">"#,
            r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>"##,
            r##"<path shape-rendering="crispEdges" fill="#000" d="{bars}"/>"##,
            r##"<text x="{center}" y="{baseline}" text-anchor="middle" font-family="ui-monospace, 'DejaVu Sans Mono', monospace" font-size="{font}" fill="#000">{text}</text>"##,
            "</svg>"
        ),
        width = width,
        height = height,
        bars = bars,
        center = width / 2,
        baseline = bar_height + TEXT_BAND - 3,
        font = FONT_SIZE,
        text = xml_escape(text),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_is_standalone_with_quiet_zones_and_text() {
        let svg = code128_svg("EP2022000001").unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "{svg}");
        // Start B, 12 characters, check character: 14 × 11 modules, stop: 13; quiet zones: 20.
        let width = 14 * 11 + 13 + 20;
        assert!(svg.contains(&format!(r#"viewBox="0 0 {width} 54""#)), "{svg}");
        // The first bar starts after the quiet zone; the text is there to read.
        assert!(svg.contains(r#"d="M10 0h2v40h-2z"#), "{svg}");
        assert!(svg.contains(">EP2022000001</text>"), "{svg}");
    }

    #[test]
    fn text_is_escaped() {
        let svg = code128_svg("A<&>\"'").unwrap();
        assert!(svg.contains(">A&lt;&amp;&gt;&quot;&#39;</text>"), "{svg}");
    }

    #[test]
    fn what_charset_b_cannot_hold_is_refused() {
        assert_eq!(code128_svg(""), Err(PrintError::Code128Length { len: 0, max: CODE128_MAX_LEN }));
        assert_eq!(code128_svg(&"1".repeat(49)), Err(PrintError::Code128Length { len: 49, max: CODE128_MAX_LEN }));
        assert_eq!(code128_svg("管12345678"), Err(PrintError::Code128Character('管')));
        assert_eq!(code128_svg("AB\nCD"), Err(PrintError::Code128Character('\n')));
        // Barcoders' charset switches are not let through as data.
        assert_eq!(code128_svg("\u{0106}1234"), Err(PrintError::Code128Character('\u{0106}')));
    }
}
