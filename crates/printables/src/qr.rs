//! QR codes.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

use crate::PrintError;

/// Light modules around a QR code on each side, as the standard asks.
pub const QR_QUIET_ZONE: usize = 4;

/// A standalone SVG of a QR code holding `payload` (its UTF-8 bytes), at error-correction level M
/// (15 % of the symbol may be lost), with a 4-module quiet zone.
///
/// The SVG has no `width` or `height`: its `viewBox` counts modules, quiet zone included, so CSS
/// scales it (`<img src=… style="width:30mm">`, or inline in a sized box).
///
/// The caller passes an opaque token for a person's code, never an ID number.
///
/// # Errors
/// [`PrintError::QrTooLong`] when the payload does not fit the largest QR code (2,331 bytes at
/// level M).
pub fn qr_svg(payload: &str) -> Result<String, PrintError> {
    // Byte data with no version forced can only fail by being too long.
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|_| PrintError::QrTooLong { len: payload.len() })?;
    Ok(render(&code.to_colors(), code.width()))
}

/// The module matrix as one path, a sub-path for each horizontal run of dark modules.
fn render(colors: &[Color], modules: usize) -> String {
    let side = modules + 2 * QR_QUIET_ZONE;
    let mut path = String::new();
    for (y, row) in colors.chunks(modules).enumerate() {
        let mut x = 0;
        while x < row.len() {
            let run = row[x..].iter().take_while(|&&c| c == Color::Dark).count();
            if run > 0 {
                let _ = write!(path, "M{} {}h{run}v1h-{run}z", x + QR_QUIET_ZONE, y + QR_QUIET_ZONE);
                x += run;
            } else {
                x += 1;
            }
        }
    }
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">"#,
            r##"<rect x="0" y="0" width="{side}" height="{side}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{path}"/>"##,
            "</svg>"
        ),
        side = side,
        path = path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_is_sized_by_its_view_box_only() {
        let svg = qr_svg("T-3f9a1c").unwrap();
        // Version 1 is 21 modules wide; with the quiet zone, 29.
        let root = &svg[..svg.find('>').unwrap()];
        assert_eq!(
            root,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 29 29" shape-rendering="crispEdges""#
        );
        // The top-left finder pattern: a run of 7 dark modules inside the quiet zone.
        assert!(svg.contains(r#"d="M4 4h7v1h-7z"#), "{svg}");
    }

    #[test]
    fn a_payload_too_long_is_refused() {
        let long = "A".repeat(5000);
        assert_eq!(qr_svg(&long), Err(PrintError::QrTooLong { len: 5000 }));
    }
}
