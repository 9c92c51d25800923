//! Masked display of ID numbers and phones (GB/T 35273 §7.2: screens show de-identified values).
//! The full value is shown only through an audited reveal.

/// `440785********1234` for an 18-character ID number: the address code and the last four stay,
/// the birth date goes. Other documents keep their first two and last two characters.
pub fn mask_document(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let (head, tail) = match chars.len() {
        18 => (6, 4),
        n if n > 6 => (2, 2),
        n if n > 2 => (1, 1),
        _ => (0, 0),
    };
    mask(&chars, head, tail)
}

/// `138****5678` for a mobile; landlines keep the area code and the last four.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if let Some(dash) = phone.find('-') {
        let local = chars.len() - dash - 1;
        return mask(&chars, dash + 1, local.min(4).min(chars.len() - dash - 1));
    }
    let tail = if chars.len() >= 8 { 4 } else { chars.len() / 3 };
    mask(&chars, chars.len().min(3), tail)
}

fn mask(chars: &[char], head: usize, tail: usize) -> String {
    let tail = tail.min(chars.len().saturating_sub(head));
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= chars.len() - tail { *c } else { '*' }).collect()
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
}
