//! Loading the Shengtang demo town into storage, idempotently.
//!
//! Areas are created level by level, a few thousand per transaction; the 45,000 residents go in one all-or-nothing transaction, so a load that
//! is interrupted leaves either all of them or none; staff assignments are idempotent; the demo
//! accounts come last and get their passwords (re)set on every start.

use crate::{AppError, AppResult, accounts::hash_password, accounts::new_token};
use bulwark_demo::DemoTown;
use bulwark_domain::{
    Millis,
    access::{NewAccount, Operation, Role, Scope, Username},
    areas::{Area, AreaCode, AreaKind, NewArea},
    audit::AuditStamp,
    people::NewPerson,
    workforce::StaffMember,
};
use bulwark_store::Store;
use std::collections::HashMap;

pub use bulwark_demo::{DEFAULT_SEED, outbreak_day};

/// What a demo load did.
pub struct DemoSummary {
    /// False when the town was there already.
    pub created_residents: bool,
    pub areas: usize,
    pub residents: u64,
    pub staff: usize,
    /// Username, role and password of each demo account.
    pub accounts: Vec<(String, String, String)>,
}

/// Loads the demo town generated from `seed` as of `today`. Passwords are `password` when given,
/// otherwise new random ones (returned once, in the summary).
pub async fn load(
    store: &dyn Store,
    seed: u64,
    today: chrono::NaiveDate,
    password: Option<String>,
    now: Millis,
) -> AppResult<DemoSummary> {
    let town = tokio::task::spawn_blocking(move || bulwark_demo::generate(seed, today))
        .await
        .map_err(|e| AppError::Internal(format!("demo generation: {e}")))?;
    let town_code = AreaCode::parse(bulwark_demo::TOWN.0).map_err(|e| AppError::Internal(e.to_string()))?;
    let loaded = match store.area_by_code(&town_code).await? {
        Some(t) => store.count_people(&Scope::of(&t)).await? > 0,
        None => false,
    };
    // Residents go in last of the data, all at once: if they are there, so is the tree.
    let areas = if loaded { account_scopes(store, &town).await? } else { create_areas(store, &town).await? };
    let town_area = areas.get(&town_code).ok_or_else(|| AppError::Internal("the demo town has no town area".into()))?;
    let person_ids = if loaded { Vec::new() } else { insert_residents(store, &town, &areas, now).await? };
    let staff = if person_ids.is_empty() {
        0
    } else {
        let staff: Vec<StaffMember> = town
            .staff
            .iter()
            .map(|s| StaffMember {
                email: s.email.clone(),
                ..StaffMember::new(person_ids[s.resident_index], s.team, areas[&s.area].id)
            })
            .collect();
        let n = staff.len();
        store.add_staff(staff).await?;
        n
    };
    let accounts = upsert_accounts(store, &town, &areas, password, now).await?;
    if !person_ids.is_empty() {
        let id_of = async |username: &str| -> AppResult<i64> {
            let name = Username::parse(username).map_err(|e| AppError::Internal(e.to_string()))?;
            let (account, _) = store
                .account_by_username(&name)
                .await?
                .ok_or_else(|| AppError::Internal(format!("demo account {username} is missing")))?;
            Ok(account.id)
        };
        let (sampler, lab, grid_worker) = (id_of("sampler").await?, id_of("lab").await?, id_of("gridworker").await?);
        crate::demo_testing::load(store, &town, &areas, &person_ids, sampler, lab, grid_worker).await?;
        crate::demo_command::load(store, town_area, id_of("commander").await?).await?;
        crate::demo_rosters::load(store, &town, &areas, &person_ids, id_of("commander").await?).await?;
        crate::demo_leaders::load(store, &town, &areas, &person_ids, id_of("commander").await?, now).await?;
    }
    Ok(DemoSummary {
        created_residents: !person_ids.is_empty(),
        areas: town.areas.len(),
        residents: store.count_people(&Scope::of(town_area)).await?,
        staff,
        accounts,
    })
}

/// The town and the scope areas of the demo accounts, when the tree exists already.
async fn account_scopes(store: &dyn Store, town: &DemoTown) -> AppResult<HashMap<AreaCode, Area>> {
    let mut known = HashMap::new();
    let town_code = AreaCode::parse(bulwark_demo::TOWN.0).map_err(|e| AppError::Internal(e.to_string()))?;
    for code in town.accounts.iter().map(|a| &a.scope).chain([&town_code]) {
        if !known.contains_key(code) {
            let area = store
                .area_by_code(code)
                .await?
                .ok_or_else(|| AppError::Internal(format!("demo area {code} is missing")))?;
            known.insert(code.clone(), area);
        }
    }
    Ok(known)
}

/// Creates the areas that do not exist yet, one level at a time; returns all of them by code.
async fn create_areas(store: &dyn Store, town: &DemoTown) -> AppResult<HashMap<AreaCode, Area>> {
    // What exists already (after an interrupted load), in one query under the county.
    let mut known: HashMap<AreaCode, Area> = HashMap::with_capacity(town.areas.len());
    let county = AreaCode::parse(bulwark_demo::COUNTY.0).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(county) = store.area_by_code(&county).await? {
        for area in store.areas_within(&Scope::of(&county), true).await? {
            known.insert(area.code.clone(), area);
        }
    }
    for level in
        [AreaKind::County, AreaKind::Town, AreaKind::Community, AreaKind::Village, AreaKind::Grid, AreaKind::Household]
    {
        let missing: Vec<NewArea> = town
            .areas
            .iter()
            .filter(|a| a.kind == level && !known.contains_key(&a.code))
            .map(|a| NewArea {
                code: a.code.clone(),
                name: a.name.clone(),
                kind: a.kind,
                parent: a.parent.as_ref().map(|p| known[p].id),
            })
            .collect();
        for chunk in missing.chunks(5000) {
            for area in store.create_areas(chunk.to_vec()).await? {
                known.insert(area.code.clone(), area);
            }
        }
    }
    Ok(known)
}

async fn insert_residents(
    store: &dyn Store,
    town: &DemoTown,
    areas: &HashMap<AreaCode, Area>,
    now: Millis,
) -> AppResult<Vec<bulwark_domain::people::PersonId>> {
    let people: Vec<NewPerson> = town
        .residents
        .iter()
        .map(|r| {
            let mut p = NewPerson::new(r.name.clone(), r.document.clone(), areas[&r.household].id);
            p.sex = Some(r.sex);
            p.birth_date = Some(r.birth_date);
            p.phone = r.phone.clone();
            p.address = Some(r.address.clone());
            p.needs = r.needs.clone();
            p.synthetic = true;
            p
        })
        .collect();
    let stamp = AuditStamp {
        at: now,
        user: None,
        username: "demo-loader".into(),
        role: None,
        operation: Operation::PersonsCreate,
        request_id: new_token(),
    };
    Ok(store.insert_people(people, &stamp).await?)
}

async fn upsert_accounts(
    store: &dyn Store,
    town: &DemoTown,
    areas: &HashMap<AreaCode, Area>,
    password: Option<String>,
    now: Millis,
) -> AppResult<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for a in &town.accounts {
        let password = password.clone().unwrap_or_else(|| new_token()[..16].to_string());
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let username = Username::parse(&a.username).map_err(|e| AppError::Internal(e.to_string()))?;
        match store.account_by_username(&username).await? {
            Some((existing, _)) => store.set_password_hash(existing.id, &hash).await?,
            None => {
                let role =
                    Role::parse(a.role_name).ok_or_else(|| AppError::Internal(format!("role {}", a.role_name)))?;
                let account = NewAccount {
                    username,
                    display_name: a.display_name.clone(),
                    role,
                    scope: areas[&a.scope].id,
                    password_hash: hash,
                };
                store.create_account(account, now).await?;
            }
        }
        out.push((a.username.clone(), a.role_name.to_string(), password));
    }
    Ok(out)
}
