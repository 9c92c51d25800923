//! Masked display of ID numbers and phones (GB/T 35273 §7.2: screens show de-identified values).
//! The full value is shown only through an audited reveal.

/// `440785********1234` for an 18-character ID number: the address code and the last four stay,
/// the birth date goes. Other documents keep their first two and last two characters.
pub fn mask_document(number: &str) -> String {
    let keep = |len: usize| match len {
        18 => (6, 4),
        n if n > 6 => (2, 2),
        n if n > 2 => (1, 1),
        _ => (0, 0),
    };
    if number.is_ascii() {
        // Every list shows thousands of these: characters are bytes, no `Vec<char>` needed.
        let (head, tail) = keep(number.len());
        return mask_ascii(number, head, tail);
    }
    let chars: Vec<char> = number.chars().collect();
    let (head, tail) = keep(chars.len());
    mask(&chars, head, tail)
}

/// `138****5678` for a mobile; landlines keep the area code and the last four.
pub fn mask_phone(phone: &str) -> String {
    if phone.is_ascii() && !phone.contains('-') {
        let tail = if phone.len() >= 8 { 4 } else { phone.len() / 3 };
        return mask_ascii(phone, phone.len().min(3), tail);
    }
    let chars: Vec<char> = phone.chars().collect();
    // A character index, not a byte index: the text before the dash may be Chinese.
    if let Some(dash) = chars.iter().position(|c| *c == '-') {
        let local = chars.len() - dash - 1;
        return mask(&chars, dash + 1, local.min(4).min(chars.len() - dash - 1));
    }
    let tail = if chars.len() >= 8 { 4 } else { chars.len() / 3 };
    mask(&chars, chars.len().min(3), tail)
}

/// Free text (a reveal's reason, a note) with every run of seven or more digits masked: such a
/// run is probably a phone or an ID number someone typed in, and must not be kept in full.
pub fn mask_numbers_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if digits >= 7 {
            let masked = if matches!(run.len(), 15 | 18) { mask_document(run) } else { mask_phone(run) };
            out.push_str(&masked);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        let c = match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            other => other,
        };
        if c.is_ascii_digit() || (matches!(c, 'X' | 'x') && !run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn mask(chars: &[char], head: usize, tail: usize) -> String {
    let tail = tail.min(chars.len().saturating_sub(head));
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= chars.len() - tail { *c } else { '*' }).collect()
}

/// [`mask`] for ASCII text, where a character is a byte.
fn mask_ascii(text: &str, head: usize, tail: usize) -> String {
    let len = text.len();
    let tail = tail.min(len.saturating_sub(head));
    let head = head.min(len);
    let mut out = String::with_capacity(len);
    out.push_str(&text[..head]);
    out.extend(std::iter::repeat_n('*', len - head - tail));
    out.push_str(&text[len - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_document("440785199001011234"), "440785********1234");
        assert_eq!(mask_document("E12345678"), "E1*****78");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("0750-7381368"), "0750-***1368");
        assert_eq!(mask_phone("12"), "12");
    }

    #[test]
    fn ascii_values_are_masked_as_any_other_text() {
        let general = |text: &str, head: usize, tail: usize| mask(&text.chars().collect::<Vec<_>>(), head, tail);
        for text in ["", "1", "12", "123", "1234567", "E12345678", "440785199001011234", "13812345678", "0750-7381368"]
        {
            for head in 0..=text.len() + 1 {
                for tail in 0..=text.len() + 1 {
                    assert_eq!(mask_ascii(text, head, tail), general(text, head, tail), "{text:?} {head} {tail}");
                }
            }
        }
        assert_eq!(mask_document("12"), "**");
        assert_eq!(mask_document("ABC"), "A*C");
        assert_eq!(mask_document("护照E1234567"), "护照******67");
        assert_eq!(mask_phone("1381234"), "138**34");
        assert_eq!(mask_phone("010-12"), "010-12");
    }

    #[test]
    fn numbers_in_free_text() {
        assert_eq!(mask_numbers_in_text("回拨 13900000010 核对"), "回拨 139****0010 核对");
        assert_eq!(mask_numbers_in_text("身份证11010519491231002X确认"), "身份证110105********002X确认");
        assert_eq!(mask_numbers_in_text("第3组 2 人，１３９００００００１０"), "第3组 2 人，139****0010");
        assert_eq!(mask_numbers_in_text("入户核查"), "入户核查");
    }
}

#[cfg(test)]
mod text_before_dash {
    use super::mask_phone;

    #[test]
    fn chinese_before_a_dash_is_counted_in_characters() {
        let ascii = mask_phone("0750-7381368");
        assert!(ascii.ends_with(&mask_phone("0750-7381368")[ascii.len() - 8..]));
        let masked = mask_phone("办公室电话0750-7381368");
        assert!(
            masked.starts_with("办公室电话0750-") && masked.contains('*') && !masked.contains("7381368"),
            "{masked}"
        );
        let masked = mask_phone("电话电话电话电话-13812345678");
        assert!(masked.contains('*') && !masked.contains("13812345678"), "{masked}");
    }
}
