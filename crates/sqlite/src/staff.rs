//! Staff assignments on SQLite.

use crate::{SqliteStore, areas::area_by_id, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    access::Scope,
    notify::Email,
    workforce::{StaffMember, Team},
};
use bulwark_store::{StaffStore, StoreError, StoreResult};
use rusqlite::params;

#[async_trait]
impl StaffStore for SqliteStore {
    async fn add_staff(&self, staff: Vec<StaffMember>) -> StoreResult<()> {
        self.write(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "INSERT INTO staff (person_id, team, area_id, area_path, email) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (person_id, team, area_id) DO UPDATE SET email = COALESCE(excluded.email, staff.email)",
                )
                .map_err(error::map)?;
            for s in &staff {
                let area = area_by_id(c, s.area)?
                    .ok_or_else(|| StoreError::Invalid(format!("area {} does not exist", s.area)))?;
                stmt.execute(params![s.person, s.team.as_str(), s.area, area.path, s.email.as_ref().map(Email::as_str)]).map_err(error::map)?;
            }
            Ok(())
        })
        .await
    }

    async fn staff(&self, scope: &Scope, team: Option<Team>) -> StoreResult<Vec<StaffMember>> {
        let (low, high) = scope.path_range();
        let team = team.map(Team::as_str);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT person_id, team, area_id, email FROM staff WHERE area_path >= ?1 AND area_path < ?2 AND (?3 IS NULL OR team = ?3)
                     ORDER BY team, area_id, person_id",
                )
                .map_err(error::map)?;
            let rows = stmt
                .query_map(params![low, high, team], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<String>>(3)?))
                })
                .map_err(error::map)?;
            rows.map(|r| {
                let (person, team, area, email) = r.map_err(error::map)?;
                let team = Team::parse(&team).ok_or_else(|| corrupt("team", &team))?;
                let email = email.map(|e| Email::parse(&e).map_err(|_| corrupt("e-mail address", "not an address")));
                Ok(StaffMember { person, team, area, email: email.transpose()? })
            })
            .collect()
        })
        .await
    }
}
