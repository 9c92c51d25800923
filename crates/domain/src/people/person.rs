//! A person in the resident register.

use super::{Document, Phone, Sex, id_number::years_between, mask_document, mask_phone};
use crate::{Millis, areas::AreaId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Internal, stable identifier of a person. Audit entries name people by this, never by their
/// ID number.
pub type PersonId = i64;

/// Age from which a person counts as elderly (老年人, 60+ in the census and the green-channel
/// rules of 2022).
pub const ELDERLY_AGE: u32 = 60;

/// Needs that change how a person is sampled or transferred. "Elderly" is not stored: it is
/// derived from the birth date on the day asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialNeeds {
    /// 行动不便: cannot walk to a sampling site.
    pub cannot_walk: bool,
    /// 卧床: bedridden.
    pub bedridden: bool,
    /// Anything else the grid worker needs to know (e.g. "blind", "pregnant").
    pub other: Option<String>,
}

impl SpecialNeeds {
    /// Whether a home visit is needed instead of a trip to the site.
    pub fn needs_home_visit(&self) -> bool {
        self.cannot_walk || self.bedridden
    }
}

/// Age in whole years on `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    years_between(birth, day)
}

/// A person about to be registered: every field already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    pub name: String,
    pub document: Document,
    /// Derived from the ID number when there is one, otherwise as given.
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    /// The area the person lives in: a household, or a grid when the household is unknown.
    pub area: AreaId,
    pub needs: SpecialNeeds,
    /// Generated demo data, never a real person.
    pub synthetic: bool,
}

impl NewPerson {
    /// A person with the given name and document living in `area`; sex and birth date are taken
    /// from the ID number when there is one.
    pub fn new(name: impl Into<String>, document: Document, area: AreaId) -> NewPerson {
        let (sex, birth_date) = match document.id_number() {
            Some(id) => (Some(id.sex()), Some(id.birth_date())),
            None => (None, None),
        };
        NewPerson {
            name: name.into(),
            document,
            sex,
            birth_date,
            phone: None,
            address: None,
            area,
            needs: SpecialNeeds::default(),
            synthetic: false,
        }
    }
}

/// A registered person as stored, with where they live resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub document: Document,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub area: AreaId,
    /// The grid the person belongs to (the area itself or its grid ancestor), if any.
    pub grid: Option<AreaId>,
    /// Materialised path of the person's area, used for scope checks.
    pub area_path: String,
    pub needs: SpecialNeeds,
    pub synthetic: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Person {
    pub fn age_on(&self, day: NaiveDate) -> Option<u32> {
        self.birth_date.map(|b| age_on(b, day))
    }

    pub fn is_elderly_on(&self, day: NaiveDate) -> bool {
        self.age_on(day).is_some_and(|a| a >= ELDERLY_AGE)
    }

    pub fn masked_document(&self) -> Option<String> {
        self.document.number().map(mask_document)
    }

    pub fn masked_phone(&self) -> Option<String> {
        self.phone.as_ref().map(|p| mask_phone(p.as_str()))
    }
}
