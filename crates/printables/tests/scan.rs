//! The symbols really scan: each SVG is rasterised with resvg, exactly as written, and the pixels
//! are decoded with rxing (a port of ZXing, the reader most phones and our browser scanner use).

use bulwark_printables::{TubeSeries, code128_svg, qr_svg};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use resvg::{tiny_skia, usvg};
use rxing::{BarcodeFormat, helpers::detect_in_luma};

/// The SVG as a grey-scale bitmap, `scale` pixels a module, composited over white paper.
fn raster(svg: &str, scale: f32) -> (Vec<u8>, u32, u32) {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("the SVG parses");
    let size = tree.size().to_int_size().scale_by(scale).expect("a non-empty picture");
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let luma = pixmap
        .pixels()
        .iter()
        .map(|p| {
            // Premultiplied: over white, each channel gains what alpha leaves uncovered.
            let white = 255 - u32::from(p.alpha());
            let (r, g, b) = (u32::from(p.red()) + white, u32::from(p.green()) + white, u32::from(p.blue()) + white);
            u8::try_from((r * 299 + g * 587 + b * 114) / 1000).expect("a luma byte")
        })
        .collect();
    (luma, size.width(), size.height())
}

fn scan(svg: &str, scale: f32, format: BarcodeFormat) -> String {
    // resvg forgives a missing namespace; a browser showing the file through `<img>` does not.
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "not a standalone SVG: {svg}");
    let (luma, width, height) = raster(svg, scale);
    let result = detect_in_luma(luma, width, height, Some(format))
        .unwrap_or_else(|e| panic!("no {format:?} found at scale {scale}: {e}\n{svg}"));
    assert_eq!(*result.getBarcodeFormat(), format);
    result.getText().to_string()
}

#[test]
fn a_qr_code_scans_back_to_its_token() {
    let token = "t1_Qm9vbGVhbkZhbHNlLXJhbmRvbQ";
    let svg = qr_svg(token).unwrap();
    for scale in [3.0, 4.5, 8.0] {
        assert_eq!(scan(&svg, scale, BarcodeFormat::QR_CODE), token);
    }
}

#[test]
fn a_chinese_payload_round_trips_through_the_qr_code() {
    // Byte mode, UTF-8, no ECI header: readers guess the encoding, so short payloads count too.
    for payload in ["湴朗村核酸检测点·第3轮 https://例子.中国/q/7Kx9", "张三", "健康码绿码"] {
        let svg = qr_svg(payload).unwrap();
        assert_eq!(scan(&svg, 4.0, BarcodeFormat::QR_CODE), payload);
    }
}

#[test]
fn a_long_payload_scans_too() {
    let payload: String = (0..600).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let svg = qr_svg(&payload).unwrap();
    assert_eq!(scan(&svg, 3.0, BarcodeFormat::QR_CODE), payload);
}

#[test]
fn fifty_random_tube_codes_scan_back() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
    let mut rng = ChaCha8Rng::seed_from_u64(20_221_008);
    for _ in 0..50 {
        let len = rng.random_range(6..=24);
        let code: String = (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
        let svg = code128_svg(&code).unwrap();
        assert_eq!(scan(&svg, 2.0, BarcodeFormat::CODE_128), code, "{svg}");
    }
}

#[test]
fn a_sheet_of_series_codes_scans_back_at_several_sizes() {
    let sheet = TubeSeries { prefix: "EP2022".into(), start: 9_998, count: 4, width: 6 }.codes().unwrap();
    for code in &sheet {
        let svg = code128_svg(code.as_str()).unwrap();
        for scale in [1.0, 2.5, 3.0] {
            assert_eq!(scan(&svg, scale, BarcodeFormat::CODE_128), code.as_str());
        }
    }
}

#[test]
fn all_of_printable_ascii_scans_back() {
    let all: String = (' '..='~').collect();
    for chunk in all.as_bytes().chunks(24) {
        let text = std::str::from_utf8(chunk).unwrap();
        let svg = code128_svg(text).unwrap();
        assert_eq!(scan(&svg, 2.0, BarcodeFormat::CODE_128), text, "{svg}");
    }
}
