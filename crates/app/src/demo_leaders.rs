//! The demo's village leaders (领导包村): each village and community of the town is put in the
//! charge of one of the town's cadres — a cadre serving there when there is one, otherwise the
//! cadres in turn, so one cadre may lead several villages, as in the source story.

use crate::{AppError, AppResult};
use bulwark_demo::DemoTown;
use bulwark_domain::{
    Millis,
    access::UserId,
    areas::{Area, AreaCode, AreaKind},
    people::PersonId,
    workforce::{AreaLeader, Team},
};
use bulwark_store::Store;
use std::collections::HashMap;

/// The title the demo gives its village leaders.
pub const TITLE: &str = "镇领导（包村）";

/// Sets a leader for every village and community of the demo town; answers how many.
pub async fn load(
    store: &dyn Store,
    town: &DemoTown,
    areas: &HashMap<AreaCode, Area>,
    person_ids: &[PersonId],
    by: UserId,
    at: Millis,
) -> AppResult<usize> {
    let cadres: Vec<(AreaCode, PersonId)> =
        town.staff_of_team(Team::Cadre).map(|s| (s.area.clone(), person_ids[s.resident_index])).collect();
    if cadres.is_empty() {
        return Ok(0);
    }
    let mut villages: Vec<&Area> =
        areas.values().filter(|a| matches!(a.kind, AreaKind::Village | AreaKind::Community)).collect();
    villages.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    for (turn, village) in villages.iter().enumerate() {
        let person =
            cadres.iter().find(|(area, _)| *area == village.code).map_or(cadres[turn % cadres.len()].1, |(_, p)| *p);
        let leader =
            AreaLeader::new(village.id, village.kind, person, TITLE).map_err(|e| AppError::Internal(e.to_string()))?;
        store.set_leader(leader, by, at).await?;
    }
    Ok(villages.len())
}
