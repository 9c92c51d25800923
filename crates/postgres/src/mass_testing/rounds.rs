//! Rounds and sites, and the cache of those known to exist.

use super::{Known, pool_size_of};
use crate::{
    PgStore,
    areas::lock_areas,
    error::{corrupt, db},
    get,
};
use bulwark_domain::{
    Millis,
    access::Scope,
    areas::AreaId,
    testing::{
        Lane, LaneId, LaneKind, NewRegistration, NewRound, NewSite, OpeningHours, PoolOverride, Round, RoundId, Site,
        SiteId,
    },
};
use bulwark_store::{StoreError, StoreResult};
use std::collections::HashMap;

/// Which sites to read.
pub(crate) enum SiteFilter<'a> {
    Id(SiteId),
    Within(&'a Scope),
}

/// Areas in input order without repeats.
fn distinct(ids: impl IntoIterator<Item = AreaId>) -> Vec<AreaId> {
    let mut out: Vec<AreaId> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Positions 0, 1, 2, … for `n` rows.
fn positions(n: usize) -> Vec<i32> {
    (0..n as i32).collect()
}

impl PgStore {
    pub(super) async fn insert_round(&self, round: NewRound, now: Millis) -> StoreResult<Round> {
        let areas = distinct(round.areas.iter().copied());
        let mut overrides: Vec<PoolOverride> = Vec::new();
        for o in &round.overrides {
            if let Some(existing) = overrides.iter_mut().find(|x| x.area == o.area) {
                *existing = *o;
            } else {
                overrides.push(*o);
            }
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut wanted: Vec<AreaId> = areas.iter().copied().chain(overrides.iter().map(|o| o.area)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let paths: HashMap<AreaId, String> =
            lock_areas(&tx, &wanted).await?.into_iter().map(|a| (a.id, a.path)).collect();
        if let Some(missing) = wanted.iter().find(|id| !paths.contains_key(id)) {
            return Err(StoreError::Invalid(format!("area {missing} does not exist")));
        }
        let pool = i16::from(round.pool_size.get());
        let row = tx
            .query_one(
                "INSERT INTO rounds (name, pool_size, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id",
                &[&round.name, &pool, &round.starts_at, &round.ends_at, &now],
            )
            .await
            .map_err(db)?;
        let id: RoundId = get(&row, 0)?;
        tx.execute(
            "INSERT INTO round_areas (round_id, area_id, position)
             SELECT $1, u.a, u.p FROM UNNEST($2::bigint[], $3::int[]) AS u(a, p)",
            &[&id, &areas, &positions(areas.len())],
        )
        .await
        .map_err(db)?;
        let override_areas: Vec<AreaId> = overrides.iter().map(|o| o.area).collect();
        let override_sizes: Vec<i16> = overrides.iter().map(|o| i16::from(o.pool_size.get())).collect();
        tx.execute(
            "INSERT INTO round_pools (round_id, area_id, pool_size, position)
             SELECT $1, u.a, u.s, u.p FROM UNNEST($2::bigint[], $3::smallint[], $4::int[]) AS u(a, s, p)",
            &[&id, &override_areas, &override_sizes, &positions(overrides.len())],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.mass.known.lock().expect("known rounds").rounds.insert(id);
        Ok(Round {
            id,
            name: round.name,
            area_paths: areas.iter().map(|a| paths[a].clone()).collect(),
            areas,
            pool_size: round.pool_size,
            overrides: overrides.into_iter().map(|o| (o, paths[&o.area].clone())).collect(),
            starts_at: round.starts_at,
            ends_at: round.ends_at,
            created_at: now,
        })
    }

    /// One round, or all of them newest first.
    pub(super) async fn load_rounds(&self, id: Option<RoundId>) -> StoreResult<Vec<Round>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, name, pool_size, starts_at, ends_at, created_at FROM rounds
                 WHERE $1::bigint IS NULL OR id = $1 ORDER BY created_at DESC, id DESC",
                &[&id],
            )
            .await
            .map_err(db)?;
        let ids: Vec<RoundId> = rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
        let by_ids: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&ids];
        let (areas, pools) = tokio::try_join!(
            client.query(
                "SELECT ra.round_id, ra.area_id, a.path FROM round_areas ra JOIN areas a ON a.id = ra.area_id
                 WHERE ra.round_id = ANY($1) ORDER BY ra.round_id, ra.position",
                by_ids,
            ),
            client.query(
                "SELECT rp.round_id, rp.area_id, a.path, rp.pool_size FROM round_pools rp JOIN areas a ON a.id = rp.area_id
                 WHERE rp.round_id = ANY($1) ORDER BY rp.round_id, rp.position",
                by_ids,
            ),
        )
        .map_err(db)?;
        let mut rounds = Vec::with_capacity(rows.len());
        for row in &rows {
            rounds.push(Round {
                id: get(row, 0)?,
                name: get(row, 1)?,
                areas: Vec::new(),
                area_paths: Vec::new(),
                pool_size: pool_size_of(get(row, 2)?)?,
                overrides: Vec::new(),
                starts_at: get(row, 3)?,
                ends_at: get(row, 4)?,
                created_at: get(row, 5)?,
            });
        }
        let index: HashMap<RoundId, usize> = rounds.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for row in &areas {
            let round = &mut rounds[index[&get::<RoundId>(row, 0)?]];
            round.areas.push(get(row, 1)?);
            round.area_paths.push(get(row, 2)?);
        }
        for row in &pools {
            let round = &mut rounds[index[&get::<RoundId>(row, 0)?]];
            let o = PoolOverride { area: get(row, 1)?, pool_size: pool_size_of(get(row, 3)?)? };
            round.overrides.push((o, get(row, 2)?));
        }
        Ok(rounds)
    }

    pub(super) async fn insert_site(&self, site: NewSite, now: Millis) -> StoreResult<Site> {
        let serves = distinct(site.serves.iter().copied());
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut wanted: Vec<AreaId> = serves.iter().copied().chain([site.area]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let paths: HashMap<AreaId, String> =
            lock_areas(&tx, &wanted).await?.into_iter().map(|a| (a.id, a.path)).collect();
        if let Some(missing) = wanted.iter().find(|id| !paths.contains_key(id)) {
            return Err(StoreError::Invalid(format!("area {missing} does not exist")));
        }
        let area_path = paths[&site.area].clone();
        let (opens, closes) = (hours_column(site.hours.opens)?, hours_column(site.hours.closes)?);
        let row = tx
            .query_one(
                "INSERT INTO sites (name, area_id, area_path, opens, closes, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING id",
                &[&site.name, &site.area, &area_path, &opens, &closes, &now],
            )
            .await
            .map_err(db)?;
        let id: SiteId = get(&row, 0)?;
        tx.execute(
            "INSERT INTO site_areas (site_id, area_id, position)
             SELECT $1, u.a, u.p FROM UNNEST($2::bigint[], $3::int[]) AS u(a, p)",
            &[&id, &serves, &positions(serves.len())],
        )
        .await
        .map_err(db)?;
        let names: Vec<&str> = site.lanes.iter().map(|l| l.name.as_str()).collect();
        let kinds: Vec<&str> = site.lanes.iter().map(|l| l.kind.as_str()).collect();
        let lane_rows = tx
            .query(
                "INSERT INTO lanes (site_id, name, kind)
                 SELECT $1, u.n, u.k FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS u(n, k, o) ORDER BY u.o
                 RETURNING id",
                &[&id, &names, &kinds],
            )
            .await
            .map_err(db)?;
        let mut lane_ids: Vec<LaneId> = lane_rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
        lane_ids.sort_unstable();
        tx.commit().await.map_err(db)?;
        self.mass.known.lock().expect("known sites").sites.insert(id, lane_ids.clone());
        Ok(Site {
            id,
            name: site.name,
            area: site.area,
            area_path,
            serves,
            hours: site.hours,
            lanes: lane_ids
                .into_iter()
                .zip(site.lanes)
                .map(|(lane, l)| Lane { id: lane, site: id, name: l.name, kind: l.kind })
                .collect(),
            queue_length: 0,
            queue_counted_at: None,
            created_at: now,
        })
    }

    pub(super) async fn load_sites(&self, filter: SiteFilter<'_>) -> StoreResult<Vec<Site>> {
        let client = self.client().await?;
        const COLS: &str = "id, name, area_id, area_path, opens, closes, queue_length, queue_counted_at, created_at";
        let rows = match filter {
            SiteFilter::Id(id) => client.query(&format!("SELECT {COLS} FROM sites WHERE id = $1"), &[&id]).await,
            SiteFilter::Within(scope) => {
                let (low, high) = scope.path_range();
                client
                    .query(
                        &format!("SELECT {COLS} FROM sites WHERE area_path >= $1 AND area_path < $2 ORDER BY name, id"),
                        &[&low, &high],
                    )
                    .await
            }
        }
        .map_err(db)?;
        let ids: Vec<SiteId> = rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
        let by_ids: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&ids];
        let (serves, lanes) = tokio::try_join!(
            client.query(
                "SELECT site_id, area_id FROM site_areas WHERE site_id = ANY($1) ORDER BY site_id, position",
                by_ids
            ),
            client.query(
                "SELECT site_id, id, name, kind FROM lanes WHERE site_id = ANY($1) ORDER BY site_id, id",
                by_ids
            ),
        )
        .map_err(db)?;
        let mut sites = Vec::with_capacity(rows.len());
        for row in &rows {
            let queue: i32 = get(row, 6)?;
            sites.push(Site {
                id: get(row, 0)?,
                name: get(row, 1)?,
                area: get(row, 2)?,
                area_path: get(row, 3)?,
                serves: Vec::new(),
                hours: OpeningHours { opens: hours_value(get(row, 4)?)?, closes: hours_value(get(row, 5)?)? },
                lanes: Vec::new(),
                queue_length: u32::try_from(queue).map_err(|_| corrupt("queue length", queue))?,
                queue_counted_at: get(row, 7)?,
                created_at: get(row, 8)?,
            });
        }
        let index: HashMap<SiteId, usize> = sites.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        for row in &serves {
            sites[index[&get::<SiteId>(row, 0)?]].serves.push(get(row, 1)?);
        }
        for row in &lanes {
            let site: SiteId = get(row, 0)?;
            let kind: String = get(row, 3)?;
            sites[index[&site]].lanes.push(Lane {
                id: get(row, 1)?,
                site,
                name: get(row, 2)?,
                kind: LaneKind::parse(&kind).ok_or_else(|| corrupt("lane kind", &kind))?,
            });
        }
        Ok(sites)
    }

    pub(super) async fn update_queue_length(&self, site: SiteId, queue_length: u32, at: Millis) -> StoreResult<()> {
        let queue = i32::try_from(queue_length).map_err(|_| StoreError::Invalid("queue too long".into()))?;
        let client = self.client().await?;
        let n = client
            .execute("UPDATE sites SET queue_length = $2, queue_counted_at = $3 WHERE id = $1", &[&site, &queue, &at])
            .await
            .map_err(db)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Why each registration cannot be stored because its round, site or lane does not exist
    /// (`None`: it refers to things that exist). Rounds, sites and lanes are never deleted, so
    /// what was found once is remembered.
    pub(super) async fn check_references(
        &self,
        client: &tokio_postgres::Client,
        items: &[NewRegistration],
    ) -> StoreResult<Vec<Option<StoreError>>> {
        let (mut rounds, mut sites): (Vec<RoundId>, Vec<SiteId>) = {
            let known = self.mass.known.lock().expect("known rounds and sites");
            (
                items.iter().map(|i| i.round).filter(|r| !known.rounds.contains(r)).collect(),
                items.iter().map(|i| i.site).filter(|s| !known.sites.contains_key(s)).collect(),
            )
        };
        rounds.sort_unstable();
        rounds.dedup();
        sites.sort_unstable();
        sites.dedup();
        if !rounds.is_empty() || !sites.is_empty() {
            let found_rounds =
                client.query("SELECT id FROM rounds WHERE id = ANY($1)", &[&rounds]).await.map_err(db)?;
            let found_lanes = client
                .query(
                    "SELECT s.id, l.id FROM sites s LEFT JOIN lanes l ON l.site_id = s.id WHERE s.id = ANY($1)",
                    &[&sites],
                )
                .await
                .map_err(db)?;
            let mut known = self.mass.known.lock().expect("known rounds and sites");
            for row in &found_rounds {
                known.rounds.insert(get(row, 0)?);
            }
            let mut lanes: HashMap<SiteId, Vec<LaneId>> = HashMap::new();
            for row in &found_lanes {
                let entry = lanes.entry(get(row, 0)?).or_default();
                if let Some(lane) = get::<Option<LaneId>>(row, 1)? {
                    entry.push(lane);
                }
            }
            known.sites.extend(lanes);
        }
        let known = self.mass.known.lock().expect("known rounds and sites");
        Ok(items.iter().map(|i| refusal(&known, i)).collect())
    }
}

fn refusal(known: &Known, item: &NewRegistration) -> Option<StoreError> {
    if !known.rounds.contains(&item.round) {
        return Some(StoreError::Invalid(format!("round {} does not exist", item.round)));
    }
    let Some(lanes) = known.sites.get(&item.site) else {
        return Some(StoreError::Invalid(format!("site {} does not exist", item.site)));
    };
    match item.lane {
        Some(lane) if !lanes.contains(&lane) => {
            Some(StoreError::Invalid(format!("lane {lane} is not a lane of site {}", item.site)))
        }
        _ => None,
    }
}

fn hours_column(minutes: u16) -> StoreResult<i16> {
    i16::try_from(minutes).map_err(|_| StoreError::Invalid(format!("{minutes} is not a time of day")))
}

fn hours_value(minutes: i16) -> StoreResult<u16> {
    u16::try_from(minutes).map_err(|_| corrupt("opening hours", minutes))
}
