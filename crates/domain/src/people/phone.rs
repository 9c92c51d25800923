//! Phone numbers: mainland mobiles (11 digits starting with 1) and landlines with an area code.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number is a mobile of 11 digits starting with 1, or a landline such as 0750-7381368")]
    Format,
}

/// A normalised phone number: digits only, an optional leading `+86` removed, a landline keeps one
/// dash after its area code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        // A mobile as stored: nothing to clean (every list of people parses one per person).
        if input.len() == 11 && input.starts_with('1') && input.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Phone(input.to_string()));
        }
        let cleaned: String = input
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                other => other,
            })
            .filter(|c| !matches!(c, ' ' | '(' | ')' | '（' | '）'))
            .collect();
        let cleaned = cleaned.strip_prefix("+86").or(cleaned.strip_prefix("0086")).unwrap_or(&cleaned);
        let cleaned = cleaned.trim_start_matches('-');
        if cleaned.len() == 11 && cleaned.starts_with('1') && cleaned.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Phone(cleaned.to_string()));
        }
        let (area, local) = match cleaned.split_once('-') {
            Some((a, l)) => (a.to_string(), l.replace('-', "")),
            None => return Err(PhoneError::Format),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if area.starts_with('0')
            && (3..=4).contains(&area.len())
            && (7..=8).contains(&local.len())
            && digits(&area)
            && digits(&local)
        {
            Ok(Phone(format!("{area}-{local}")))
        } else {
            Err(PhoneError::Format)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(Phone::parse("138 1234 5678").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("+8613812345678").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("１３８１２３４５６７８").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("0750-7381368").unwrap().as_str(), "0750-7381368");
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("1381234567x").is_err());
    }
}
