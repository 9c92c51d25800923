//! What the API returns and the pages show of domain objects: masked by default.

use bulwark_domain::{
    areas::{Area, AreaId},
    people::Person,
};
use bulwark_store::Store;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct AreaView {
    pub code: String,
    pub name: String,
    /// county, town, community, village, grid or household.
    pub kind: String,
    /// The parent's code.
    pub parent: Option<String>,
}

impl AreaView {
    /// The view of `area`, finding its parent's code among `known`.
    pub(crate) fn of(area: &Area, known: &[Area]) -> AreaView {
        AreaView {
            code: area.code.as_str().to_string(),
            name: area.name.clone(),
            kind: area.kind.as_str().to_string(),
            parent: area.parent.and_then(|p| known.iter().find(|a| a.id == p)).map(|a| a.code.as_str().to_string()),
        }
    }

    pub(crate) fn list(areas: &[Area]) -> Vec<AreaView> {
        let codes: HashMap<AreaId, &str> = areas.iter().map(|a| (a.id, a.code.as_str())).collect();
        areas
            .iter()
            .map(|a| AreaView {
                code: a.code.as_str().to_string(),
                name: a.name.clone(),
                kind: a.kind.as_str().to_string(),
                parent: a.parent.and_then(|p| codes.get(&p)).map(|c| c.to_string()),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NeedsView {
    pub elderly: bool,
    pub cannot_walk: bool,
    pub bedridden: bool,
    pub other: Option<String>,
}

/// A person as shown: ID number and phone masked (`440785********1234`, `138****5678`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PersonView {
    pub id: i64,
    pub name: String,
    pub document_type: String,
    pub document_number_masked: Option<String>,
    pub sex: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub age: Option<u32>,
    pub phone_masked: Option<String>,
    pub address: Option<String>,
    /// Code of the household or grid the person lives in.
    pub area: String,
    pub area_name: String,
    pub grid: Option<String>,
    pub grid_name: Option<String>,
    pub needs: NeedsView,
    /// Generated demo data, not a real person.
    pub synthetic: bool,
}

impl PersonView {
    pub(crate) fn of(p: &Person, areas: &HashMap<AreaId, Area>, today: NaiveDate) -> PersonView {
        let area = areas.get(&p.area);
        let grid = p.grid.and_then(|g| areas.get(&g));
        PersonView {
            id: p.id,
            name: p.name.clone(),
            document_type: p.document.kind().as_str().to_string(),
            document_number_masked: p.masked_document(),
            sex: p.sex.map(|s| s.as_str().to_string()),
            birth_date: p.birth_date,
            age: p.age_on(today),
            phone_masked: p.masked_phone(),
            address: p.address.clone(),
            area: area.map(|a| a.code.as_str().to_string()).unwrap_or_default(),
            area_name: area.map(|a| a.name.clone()).unwrap_or_default(),
            grid: grid.map(|g| g.code.as_str().to_string()),
            grid_name: grid.map(|g| g.name.clone()),
            needs: NeedsView {
                elderly: p.is_elderly_on(today),
                cannot_walk: p.needs.cannot_walk,
                bedridden: p.needs.bedridden,
                other: p.needs.other.clone(),
            },
            synthetic: p.synthetic,
        }
    }

    /// Views of `people`, looking up each distinct area once.
    pub(crate) async fn many(
        store: &dyn Store,
        people: &[Person],
        today: NaiveDate,
    ) -> Result<Vec<PersonView>, bulwark_store::StoreError> {
        let mut ids: Vec<AreaId> = Vec::with_capacity(people.len() * 2);
        for p in people {
            ids.push(p.area);
            ids.extend(p.grid);
        }
        ids.sort_unstable();
        ids.dedup();
        let mut areas = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = store.area(id).await? {
                areas.insert(id, a);
            }
        }
        Ok(people.iter().map(|p| PersonView::of(p, &areas, today)).collect())
    }
}

/// Names and codes of areas, each looked up once (a list of people names their grids).
#[derive(Default)]
pub(crate) struct AreaNames(HashMap<AreaId, Option<(String, String)>>);

impl AreaNames {
    /// (code, name) of an area.
    pub(crate) async fn get(
        &mut self,
        store: &dyn Store,
        id: AreaId,
    ) -> Result<Option<(String, String)>, bulwark_store::StoreError> {
        if let Some(known) = self.0.get(&id) {
            return Ok(known.clone());
        }
        let found = store.area(id).await?.map(|a| (a.code.as_str().to_string(), a.name));
        self.0.insert(id, found.clone());
        Ok(found)
    }

    /// The name of an area, empty when there is none.
    pub(crate) async fn name(
        &mut self,
        store: &dyn Store,
        id: Option<AreaId>,
    ) -> Result<String, bulwark_store::StoreError> {
        Ok(match id {
            Some(id) => self.get(store, id).await?.map(|(_, name)| name).unwrap_or_default(),
            None => String::new(),
        })
    }
}
