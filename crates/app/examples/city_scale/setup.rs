//! What the product creates itself, through its own calls: the area tree (level by level, as the
//! demo loader does), the accounts, the round over the whole city and one site per community or
//! village (as a commander would, audited). The bulk rows come after, from `rows.rs`.

use crate::plan::{CITY_CODE, CITY_NAME, GRIDS_PER_UNIT, Plan, UNITS_PER_TOWN};
use crate::rows::{Ids, Res, T0};
use bulwark_app::{
    Actor,
    accounts::{AccountInput, new_account},
    testing::rounds::{LaneInput, RoundInput, SiteInput, create_round, create_site},
};
use bulwark_domain::{
    access::{Scope, Username},
    areas::{Area, AreaCode, AreaKind, NewArea},
};
use bulwark_store::Store;
use std::collections::HashMap;

/// The password of the city's accounts (`city-commander`, `city-sampler`).
pub const PASSWORD: &str = "city-scale-bench-1";
pub const COMMANDER: &str = "city-commander";
const SAMPLER: &str = "city-sampler";
/// The evening before the round: areas, accounts and sites are set up.
const T_SETUP: i64 = T0 - 23 * 3_600_000;

fn new_area(code: String, name: String, kind: AreaKind, parent: Option<i64>) -> Res<NewArea> {
    Ok(NewArea { code: AreaCode::parse(&code)?, name, kind, parent })
}

async fn create_level(store: &dyn Store, areas: Vec<NewArea>) -> Res<Vec<(i64, String)>> {
    let mut out = Vec::with_capacity(areas.len());
    for chunk in areas.chunks(5_000) {
        out.extend(store.create_areas(chunk.to_vec()).await?.into_iter().map(|a| (a.id, a.path)));
    }
    Ok(out)
}

async fn account(store: &dyn Store, username: &str, role: &str) -> Res<(i64, String)> {
    let input = AccountInput {
        username: username.into(),
        display_name: username.into(),
        role: role.into(),
        scope: CITY_CODE.into(),
        password: PASSWORD.into(),
    };
    let created = store.create_account(new_account(store, input).await.map_err(|e| e.to_string())?, T_SETUP).await?;
    Ok((created.id, username.to_string()))
}

pub async fn create(store: &dyn Store, plan: Plan) -> Res<Ids> {
    let city = store.create_area(new_area(CITY_CODE.into(), CITY_NAME.into(), AreaKind::County, None)?).await?;
    let towns: Vec<NewArea> = (0..plan.towns)
        .map(|t| new_area(Plan::town_code(t), Plan::town_name(t), AreaKind::Town, Some(city.id)))
        .collect::<Res<_>>()?;
    let towns = create_level(store, towns).await?;
    let units: Vec<NewArea> = (0..plan.units())
        .map(|u| {
            new_area(Plan::unit_code(u), Plan::unit_name(u), Plan::unit_kind(u), Some(towns[u / UNITS_PER_TOWN].0))
        })
        .collect::<Res<_>>()?;
    let units = create_level(store, units).await?;
    let grids: Vec<NewArea> = (0..plan.grids())
        .map(|g| new_area(Plan::grid_code(g), Plan::grid_name(g), AreaKind::Grid, Some(units[g / GRIDS_PER_UNIT].0)))
        .collect::<Res<_>>()?;
    let grids = create_level(store, grids).await?;
    let commander = account(store, COMMANDER, "commander").await?;
    let sampler = account(store, SAMPLER, "sampler").await?;
    let (account, _) = store.account_by_username(&Username::parse(COMMANDER)?).await?.ok_or("no commander")?;
    let actor = Actor { account, scope: Scope::of(&city), request_id: uuid::Uuid::now_v7().to_string() };
    let round = RoundInput {
        name: "全市第一轮全员核酸检测".into(),
        areas: vec![CITY_CODE.into()],
        pool_size: Some(10),
        pool_overrides: vec![],
        starts_at: Some("2022-10-06T07:00:00+08:00".into()),
        ends_at: None,
    };
    let round = create_round(store, &actor, round, T_SETUP).await.map_err(|e| e.to_string())?.id;
    let mut sites = Vec::with_capacity(plan.units());
    for chunk in (0..plan.units()).collect::<Vec<_>>().chunks(64) {
        let created = futures_util::future::join_all(chunk.iter().map(|&u| {
            let lane = |name: &str, kind: &str| LaneInput { name: name.into(), kind: Some(kind.into()) };
            let input = SiteInput {
                name: format!("{}核酸采样点", Plan::unit_name(u)),
                area: Plan::unit_code(u),
                serves: vec![],
                hours: Some("07:00-19:00".into()),
                lanes: vec![lane("1号通道", "normal"), lane("2号通道", "normal"), lane("绿色通道", "green_channel")],
            };
            create_site(store, &actor, input, T_SETUP)
        }))
        .await;
        for site in created {
            let site = site.map_err(|e| e.to_string())?;
            sites.push((site.id, [site.lanes[0].id, site.lanes[1].id, site.lanes[2].id]));
        }
    }
    Ok(Ids { city: (city.id, city.path), towns, units, grids, round, sites, commander, sampler })
}

/// The ids of a city built before (`--reuse`): the tree in one read, the round by name.
pub async fn find(store: &dyn Store, plan: Plan) -> Res<Ids> {
    let city = store.area_by_code(&AreaCode::parse(CITY_CODE)?).await?.ok_or("no city in this database: build it")?;
    let by_code: HashMap<String, Area> =
        store.areas_within(&Scope::of(&city), false).await?.into_iter().map(|a| (a.code.to_string(), a)).collect();
    let get = |code: String| -> Res<(i64, String)> {
        let a = by_code.get(&code).ok_or_else(|| format!("area {code} is missing"))?;
        Ok((a.id, a.path.clone()))
    };
    let towns = (0..plan.towns).map(|t| get(Plan::town_code(t))).collect::<Res<_>>()?;
    let units = (0..plan.units()).map(|u| get(Plan::unit_code(u))).collect::<Res<_>>()?;
    let grids = (0..plan.grids()).map(|g| get(Plan::grid_code(g))).collect::<Res<_>>()?;
    let round = store.rounds().await?.into_iter().map(|r| r.id).min().ok_or("no round")?;
    let id_of = async |name: &str| -> Res<(i64, String)> {
        let (a, _) = store.account_by_username(&Username::parse(name)?).await?.ok_or("no account")?;
        Ok((a.id, name.to_string()))
    };
    let (commander, sampler) = (id_of(COMMANDER).await?, id_of(SAMPLER).await?);
    Ok(Ids { city: (city.id, city.path), towns, units, grids, round, sites: vec![], commander, sampler })
}
