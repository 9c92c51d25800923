//! Progress, coverage, the door-knock list, home visits, people by document or QR code: read from
//! counters kept in the write path (summed over their shards), never by grouping registrations.

use super::{HOUSEHOLDS_SQL, REG_COLS, counted_areas, path_ids, registration_from};
use crate::{
    PgStore,
    areas::{AREA_COLS, area_from},
    count,
    error::{corrupt, db},
    get,
    people::{PERSON_COLS, person_cols, person_from},
};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    people::{Document, Person, PersonId},
    testing::{DoorKnock, DoorKnockOutcome, LaneId, RoundId, SiteId},
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{CoverageRow, FlaggedRegistration, HomeVisit, HomeVisitReason, HourCount, Progress, SiteCount, Untested},
};
use std::collections::{HashMap, HashSet};
use tokio_postgres::types::{ToSql, Type};

/// The latest door-knock of person `p` in round `$1`, as a lateral join.
const LAST_KNOCK: &str = "LEFT JOIN LATERAL (
         SELECT k.outcome, k.note, k.at FROM door_knocks k WHERE k.round_id = $1 AND k.person_id = p.id
         ORDER BY k.id DESC LIMIT 1
     ) lk ON true";

fn knock_outcome(s: Option<String>) -> StoreResult<Option<DoorKnockOutcome>> {
    s.map(|o| DoorKnockOutcome::parse(&o).ok_or_else(|| corrupt("door-knock outcome", &o))).transpose()
}

impl PgStore {
    pub(super) async fn read_progress(&self, round: RoundId) -> StoreResult<Progress> {
        let client = self.client().await?;
        let by_round: &[&(dyn ToSql + Sync)] = &[&round];
        // Counters kept with the writes (round_counts, round_tubes, round_hours, round_sites),
        // each summed over its shards: a few dozen rows whatever the round's size.
        let (sampled, tubes, hours, sites) = tokio::try_join!(
            client.query_one(
                "SELECT coalesce(sum(sampled), 0)::bigint FROM round_counts WHERE round_id = $1 AND area_id = 0",
                by_round
            ),
            client.query_one(
                "SELECT coalesce(sum(n), 0)::bigint, coalesce(sum(n) FILTER (WHERE state = 'open'), 0)::bigint,
                        coalesce(sum(n) FILTER (WHERE state = 'resulted'), 0)::bigint
                 FROM round_tubes WHERE round_id = $1",
                by_round
            ),
            client.query(
                "SELECT hour, sum(n)::bigint FROM round_hours WHERE round_id = $1
                 GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1",
                by_round
            ),
            client.query(
                "SELECT s.id, s.name, c.n FROM (
                     SELECT site_id, sum(n)::bigint AS n FROM round_sites WHERE round_id = $1 GROUP BY 1 HAVING sum(n) <> 0
                 ) c JOIN sites s ON s.id = c.site_id ORDER BY s.name, s.id",
                by_round
            ),
        )
        .map_err(db)?;
        let by_hour: Vec<HourCount> = hours
            .iter()
            .map(|r| Ok(HourCount { hour: get(r, 0)?, samples: count(get(r, 1)?) }))
            .collect::<StoreResult<_>>()?;
        let by_site = sites
            .iter()
            .map(|r| Ok(SiteCount { site: get(r, 0)?, name: get(r, 1)?, samples: count(get(r, 2)?) }))
            .collect::<StoreResult<_>>()?;
        Ok(Progress {
            round,
            sampled: count(get(&sampled, 0)?),
            registrations: by_hour.iter().map(|h| h.samples).sum(),
            tubes: count(get(&tubes, 0)?),
            tubes_open: count(get(&tubes, 1)?),
            tubes_resulted: count(get(&tubes, 2)?),
            by_hour,
            by_site,
        })
    }

    pub(super) async fn read_coverage(&self, round: RoundId, area: AreaId) -> StoreResult<Vec<CoverageRow>> {
        let client = self.client().await?;
        let cols = AREA_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        // The counters of all the areas listed in one index scan (an area's 16 shards summed by
        // one GROUP BY), residents by key: a city's 250 towns were 250 sub-plans and a scan of
        // every area's residents (7.6 ms at 20 M residents, BENCHMARKS.md). Every step is an
        // index lookup whatever the parameters, so the plan is prepared once per connection.
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {cols}, coalesce((SELECT ar.residents FROM area_residents ar WHERE ar.area_id = a.id), 0),
                        coalesce(c.excluded, h.excluded, 0), coalesce(c.sampled, h.sampled, 0)
                 FROM areas a
                 LEFT JOIN (
                     SELECT area_id, sum(sampled)::bigint AS sampled, sum(excluded)::bigint AS excluded
                     FROM round_counts
                     WHERE round_id = $1
                       AND area_id = ANY(ARRAY(SELECT id FROM areas WHERE (id = $2 OR parent_id = $2) AND kind <> 'household'))
                     GROUP BY area_id
                 ) c ON c.area_id = a.id
                 -- A household keeps no counters: its few residents are counted here.
                 LEFT JOIN LATERAL (
                     SELECT count(*) FILTER (WHERE EXISTS (
                                SELECT 1 FROM registrations r WHERE r.round_id = $1 AND r.person_id = p.id))::bigint AS sampled,
                            count(*) FILTER (WHERE (
                                SELECT k.outcome FROM door_knocks k WHERE k.round_id = $1 AND k.person_id = p.id
                                ORDER BY k.id DESC LIMIT 1) IN ('away_from_town', 'sampled_elsewhere'))::bigint AS excluded
                     FROM persons p WHERE p.area_id = a.id AND a.kind = 'household'
                 ) h ON a.kind = 'household'
                 WHERE a.id = $2 OR (a.parent_id = $2 AND a.kind <> 'household')
                 ORDER BY a.id <> $2, a.code"
            ))
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[&round, &area]).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(CoverageRow {
                    area: area_from(r)?,
                    residents: count(get(r, 6)?),
                    excluded: count(get(r, 7)?),
                    sampled: count(get(r, 8)?),
                })
            })
            .collect()
    }

    pub(super) async fn read_untested(
        &self,
        round: RoundId,
        scope: &Scope,
        after: Option<PersonId>,
        limit: u32,
    ) -> StoreResult<Vec<Untested>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        // The page first, then the latest knock of each person on it (not of every resident
        // looked at). Not a prepared statement: a generic plan cannot know how narrow the path
        // range is and walks the whole register in id order for `ORDER BY id LIMIT` (seen at
        // 20 M residents); planned with the values, the range is an index scan. Typed, it goes in
        // one round trip (parse, bind and execute together).
        let sql = format!(
            "SELECT {}, lk.outcome, lk.note, lk.at FROM (
                 SELECT * FROM persons p
                 WHERE p.area_path >= $2 AND p.area_path < $3 AND p.id > $4
                   AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.round_id = $1 AND r.person_id = p.id)
                 ORDER BY p.id LIMIT $5
             ) p {LAST_KNOCK}
             ORDER BY p.id",
            person_cols("p")
        );
        let rows = client
            .query_typed(
                &sql,
                &[
                    (&round, Type::INT8),
                    (&low, Type::TEXT),
                    (&high, Type::TEXT),
                    (&after.unwrap_or(i64::MIN), Type::INT8),
                    (&i64::from(limit), Type::INT8),
                ],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let person = person_from(r)?;
                let knock = knock_outcome(get(r, 17)?)?
                    .map(|outcome| {
                        Ok::<_, StoreError>(DoorKnock {
                            person: person.id,
                            outcome,
                            note: get(r, 18)?,
                            at: get(r, 19)?,
                        })
                    })
                    .transpose()?;
                Ok(Untested { person, knock })
            })
            .collect()
    }

    /// Appends the knock; when the person leaves the target population (away, sampled elsewhere)
    /// or rejoins it, the "excluded" counters of every area on their path move with it.
    pub(super) async fn insert_door_knock(&self, round: RoundId, knock: DoorKnock, by: UserId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // The person's row lock orders knocks of one person: each sees the one before.
        let path: String = tx
            .query_opt("SELECT area_path FROM persons WHERE id = $1 FOR NO KEY UPDATE", &[&knock.person])
            .await
            .map_err(db)?
            .map(|r| get(&r, 0))
            .transpose()?
            .ok_or_else(|| StoreError::Invalid(format!("person {} does not exist", knock.person)))?;
        let before = tx
            .query_opt(
                "SELECT outcome FROM door_knocks WHERE round_id = $1 AND person_id = $2 ORDER BY id DESC LIMIT 1",
                &[&round, &knock.person],
            )
            .await
            .map_err(db)?
            .map(|r| knock_outcome(get(&r, 0)?))
            .transpose()?
            .flatten()
            .is_some_and(DoorKnockOutcome::excludes_from_target);
        tx.execute(
            "INSERT INTO door_knocks (round_id, person_id, outcome, note, at, account_id) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&round, &knock.person, &knock.outcome.as_str(), &knock.note, &knock.at, &by],
        )
        .await
        .map_err(|e| match db(e) {
            StoreError::Invalid(_) => StoreError::Invalid(format!("round {round} does not exist")),
            other => other,
        })?;
        let after = knock.outcome.excludes_from_target();
        if before != after {
            let delta: i64 = if after { 1 } else { -1 };
            let shard = self.mass.shard();
            let leaf: Vec<AreaId> = path_ids(&path).last().into_iter().collect();
            let households: HashSet<AreaId> = tx
                .query(HOUSEHOLDS_SQL, &[&leaf])
                .await
                .map_err(db)?
                .iter()
                .map(|r| get(r, 0))
                .collect::<StoreResult<_>>()?;
            let mut ids: Vec<AreaId> = counted_areas(&path, &households).collect();
            ids.sort_unstable();
            tx.execute(
                "INSERT INTO round_counts AS c (round_id, area_id, shard, excluded)
                 SELECT $1, u.a, $3, $4 FROM UNNEST($2::bigint[]) WITH ORDINALITY AS u(a, o)
                 ORDER BY u.o
                 ON CONFLICT (round_id, area_id, shard) DO UPDATE SET excluded = c.excluded + EXCLUDED.excluded",
                &[&round, &ids, &shard, &delta],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// Not sampled and unable to walk (register or latest knock), then abnormal-pool members
    /// without a re-test; by grid (none first) then id, each person once.
    pub(super) async fn read_home_visits(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<HomeVisit>> {
        let (low, high) = scope.path_range();
        let rows = {
            let client = self.client().await?;
            let sql = format!(
                "SELECT {}, lk.outcome FROM persons p {LAST_KNOCK}
                 WHERE p.area_path >= $2 AND p.area_path < $3
                   AND (p.cannot_walk OR p.bedridden OR p.id IN (
                        SELECT k.person_id FROM door_knocks k WHERE k.round_id = $1 AND k.outcome = 'cannot_walk'))
                   AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.round_id = $1 AND r.person_id = p.id)",
                person_cols("p")
            );
            client.query(&sql, &[&round, &low, &high]).await.map_err(db)?
        };
        let mut visits: HashMap<PersonId, HomeVisit> = HashMap::new();
        for row in &rows {
            let person = person_from(row)?;
            let reason = match knock_outcome(get(row, 17)?)? {
                Some(DoorKnockOutcome::CannotWalk) => HomeVisitReason::DoorKnock,
                Some(o) if o.excludes_from_target() => continue,
                _ if person.needs.needs_home_visit() => HomeVisitReason::CannotWalk,
                _ => continue,
            };
            visits.insert(person.id, HomeVisit { person, reason });
        }
        // Members of abnormal pools without a re-test, with their whole record (the list reads
        // only what it shows).
        let members = self.read_pool_members_to_retest(round, scope).await?;
        if !members.is_empty() {
            for person in bulwark_store::PersonStore::people_by_ids(self, scope, &members).await? {
                visits.insert(person.id, HomeVisit { person, reason: HomeVisitReason::AbnormalPool });
            }
        }
        let mut visits: Vec<HomeVisit> = visits.into_values().collect();
        visits.sort_by_key(|v| (v.person.grid, v.person.id));
        Ok(visits)
    }

    pub(super) async fn read_lane_counts(
        &self,
        round: RoundId,
        site: SiteId,
        since: Millis,
    ) -> StoreResult<Vec<(LaneId, u64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT lane_id, sum(n)::bigint FROM lane_minutes WHERE round_id = $1 AND site_id = $2 AND minute >= $3
                 GROUP BY lane_id ORDER BY lane_id",
                &[&round, &site, &since.div_euclid(60_000)],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| Ok((get(r, 0)?, count(get(r, 1)?)))).collect()
    }

    pub(super) async fn find_person_by_document(&self, document: &Document) -> StoreResult<Option<Person>> {
        let Some(number) = document.number() else { return Ok(None) };
        let client = self.client().await?;
        // Prepared once per connection: a lookup per scan must not be parsed and planned each time.
        let stmt = client
            .prepare_cached(&format!("SELECT {PERSON_COLS} FROM persons WHERE doc_type = $1 AND doc_number = $2"))
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&document.kind().as_str(), &number]).await.map_err(db)?;
        row.as_ref().map(person_from).transpose()
    }

    pub(super) async fn find_person_by_qr(&self, token: &str) -> StoreResult<Option<Person>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {PERSON_COLS} FROM persons WHERE qr_token = $1"))
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&token]).await.map_err(db)?;
        row.as_ref().map(person_from).transpose()
    }

    pub(super) async fn assign_qr_tokens(
        &self,
        scope: &Scope,
        new_token: &(dyn Fn() -> String + Send + Sync),
    ) -> StoreResult<Vec<(Person, String)>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let missing: Vec<PersonId> = client
            .query(
                "SELECT id FROM persons WHERE area_path >= $1 AND area_path < $2 AND qr_token IS NULL ORDER BY id",
                &[&low, &high],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| get(r, 0))
            .collect::<StoreResult<_>>()?;
        if !missing.is_empty() {
            let tokens: Vec<String> = missing.iter().map(|_| new_token()).collect();
            // A person given a token meanwhile by a concurrent call keeps that one.
            client
                .execute(
                    "UPDATE persons p SET qr_token = u.t FROM UNNEST($1::bigint[], $2::text[]) AS u(id, t)
                     WHERE p.id = u.id AND p.qr_token IS NULL",
                    &[&missing, &tokens],
                )
                .await
                .map_err(db)?;
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {PERSON_COLS}, qr_token FROM persons WHERE area_path >= $1 AND area_path < $2
                     AND qr_token IS NOT NULL ORDER BY id"
                ),
                &[&low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| Ok((person_from(r)?, get(r, 17)?))).collect()
    }

    pub(super) async fn read_flagged(
        &self,
        round: RoundId,
        scope: &Scope,
        limit: u32,
    ) -> StoreResult<Vec<FlaggedRegistration>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let rows = client
            .query(
                &format!(
                    "SELECT {REG_COLS} FROM registrations r JOIN tubes t ON t.id = r.tube_id JOIN sites s ON s.id = r.site_id
                     WHERE r.round_id = $1 AND r.flags <> 0 AND s.area_path >= $2 AND s.area_path < $3
                     ORDER BY r.id DESC LIMIT $4"
                ),
                &[&round, &low, &high, &i64::from(limit)],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let registration = registration_from(r, 0)?;
                Ok(FlaggedRegistration { flags: registration.flags.clone(), registration })
            })
            .collect()
    }
}
