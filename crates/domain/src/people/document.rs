//! Identity documents. Most residents have a resident ID number; visitors, foreigners and people
//! without papers are registered with another document type, or with none.

use super::{IdNumber, IdNumberError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of document a person can be registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// 居民身份证, GB 11643-1999.
    ResidentId,
    /// 护照.
    Passport,
    /// 港澳台居民居住证 / 往来通行证 and other official permits.
    Permit,
    /// Any other paper (e.g. a household register page, a birth certificate for a child).
    Other,
    /// No document at all: the person is known by name, phone and address only.
    None,
}

impl DocumentType {
    pub const ALL: [DocumentType; 5] = [Self::ResidentId, Self::Passport, Self::Permit, Self::Other, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResidentId => "resident_id",
            Self::Passport => "passport",
            Self::Permit => "permit",
            Self::Other => "other",
            Self::None => "none",
        }
    }

    /// Accepts the API names and the Chinese names used on forms and in spreadsheets.
    pub fn parse(s: &str) -> Option<DocumentType> {
        let s = s.trim();
        Self::ALL.into_iter().find(|t| t.as_str() == s).or(match s {
            "" | "身份证" | "居民身份证" | "id" => Some(Self::ResidentId),
            "护照" => Some(Self::Passport),
            "通行证" | "居住证" | "港澳台居民居住证" => Some(Self::Permit),
            "其他" => Some(Self::Other),
            "无" | "无证件" => Some(Self::None),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
    #[error("a document number is required for this document type")]
    MissingNumber,
    #[error("a document number has at most 40 characters")]
    TooLong,
    #[error("a person without a document has no document number")]
    UnexpectedNumber,
}

/// A parsed identity document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Document {
    ResidentId(IdNumber),
    Other { kind: DocumentType, number: String },
    None,
}

impl Document {
    /// Parses a document from its type and number as typed. `today` bounds birth dates.
    pub fn parse(kind: DocumentType, number: &str, today: NaiveDate) -> Result<Document, DocumentError> {
        let number = number.trim();
        match kind {
            DocumentType::ResidentId => Ok(Document::ResidentId(IdNumber::parse(number, today)?)),
            DocumentType::None if number.is_empty() => Ok(Document::None),
            DocumentType::None => Err(DocumentError::UnexpectedNumber),
            _ if number.is_empty() => Err(DocumentError::MissingNumber),
            _ if number.chars().count() > 40 => Err(DocumentError::TooLong),
            _ => Ok(Document::Other { kind, number: number.to_uppercase() }),
        }
    }

    /// Rebuilds a document from stored columns without re-checking the birth-date limit.
    pub fn from_stored(kind: DocumentType, number: Option<&str>) -> Result<Document, DocumentError> {
        match (kind, number) {
            (DocumentType::ResidentId, Some(n)) => Ok(Document::ResidentId(IdNumber::parse_ignoring_date_limit(n)?)),
            (DocumentType::None, _) => Ok(Document::None),
            (kind, Some(n)) => Ok(Document::Other { kind, number: n.to_string() }),
            (_, None) => Err(DocumentError::MissingNumber),
        }
    }

    pub fn kind(&self) -> DocumentType {
        match self {
            Document::ResidentId(_) => DocumentType::ResidentId,
            Document::Other { kind, .. } => *kind,
            Document::None => DocumentType::None,
        }
    }

    pub fn number(&self) -> Option<&str> {
        match self {
            Document::ResidentId(id) => Some(id.as_str()),
            Document::Other { number, .. } => Some(number),
            Document::None => None,
        }
    }

    pub fn id_number(&self) -> Option<&IdNumber> {
        match self {
            Document::ResidentId(id) => Some(id),
            _ => None,
        }
    }
}
