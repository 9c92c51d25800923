//! The resident register: people, their documents, phones and special needs.

mod document;
mod id_number;
mod masking;
mod person;
mod phone;

pub use document::{Document, DocumentError, DocumentType};
pub use id_number::{IdNumber, IdNumberError, Sex};
pub use masking::{mask_document, mask_numbers_in_text, mask_phone};
pub use person::{ELDERLY_AGE, NewPerson, Person, PersonId, SpecialNeeds, age_on};
pub use phone::{Phone, PhoneError};
