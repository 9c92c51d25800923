//! Scans in the registration queue: the people scanned by a batch's registrations are looked up
//! in one statement by the transaction worker, instead of one query per scan before queueing.
//! Over HTTP that query was the registration's only statement of its own besides its share of a
//! group commit; it now goes in the round trip that begins the batch's transaction.

use super::{begun::Begun, registrations::Pending};
use crate::{
    PgStore,
    error::db,
    get,
    people::{person_cols, person_from},
};
use bulwark_domain::{people::Person, testing::NewRegistration};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{Registered, Scanned},
};
use deadpool_postgres::ClientWrapper;
use std::sync::LazyLock;
use tokio::sync::oneshot;

/// The people of numbered scans by id, by document and by QR code: `n` is the scan's place in the
/// batch. Each lookup is a subquery of its own (`OFFSET 0` keeps the planner from flattening it),
/// so it stays an index probe whatever the batch's size.
static SCANNED_SQL: LazyLock<String> = LazyLock::new(|| {
    let p = person_cols("p");
    format!(
        "SELECT {p}, u.n FROM UNNEST($1::bigint[], $2::bigint[]) AS u(n, id),
              LATERAL (SELECT * FROM persons WHERE id = u.id OFFSET 0) p
         UNION ALL
         SELECT {p}, u.n FROM UNNEST($3::bigint[], $4::text[], $5::text[]) AS u(n, t, d),
              LATERAL (SELECT * FROM persons WHERE doc_type = u.t AND doc_number = u.d OFFSET 0) p
         UNION ALL
         SELECT {p}, u.n FROM UNNEST($6::bigint[], $7::text[]) AS u(n, q),
              LATERAL (SELECT * FROM persons WHERE qr_token = u.q OFFSET 0) p"
    )
});

/// Where a stored registration's answer goes.
#[expect(clippy::large_enum_variant, reason = "one per item of a batch, held by value until its answer")]
pub(super) enum Reply {
    Registered(oneshot::Sender<StoreResult<Registered>>),
    /// A scan's caller, with the person found.
    Scanned(oneshot::Sender<StoreResult<Option<(Registered, Person)>>>, Person),
}

impl Reply {
    pub(super) fn send(self, answer: StoreResult<Registered>) {
        // A caller that went away does not need its answer; the registration stands.
        match self {
            Reply::Registered(reply) => {
                let _ = reply.send(answer);
            }
            Reply::Scanned(reply, person) => {
                let _ = reply.send(answer.map(|r| Some((r, person))));
            }
        }
    }
}

impl Pending {
    /// Answers the registration with an error: its batch could not be stored.
    pub(super) fn refuse(self, e: StoreError) {
        match self {
            Pending::Ready { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Pending::Scanned { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

impl PgStore {
    /// The batch's registrations and their replies: scans are made into registrations once their
    /// people are found; a scan of nobody is answered `None` here, and when the lookup fails its
    /// scans hear the error while the other registrations go on.
    ///
    /// With scans, the lookup goes out right behind the `BEGIN` of the batch's transaction on
    /// `client` (one round trip), and the transaction is handed back begun.
    pub(super) async fn made<'c>(
        &self,
        client: &'c ClientWrapper,
        batch: Vec<Pending>,
    ) -> (Vec<NewRegistration>, Vec<Reply>, Option<Begun<'c>>) {
        let scans: Vec<&Scanned> = batch
            .iter()
            .filter_map(|p| match p {
                Pending::Scanned { scanned, .. } => Some(scanned),
                Pending::Ready { .. } => None,
            })
            .collect();
        let (found, begun) = if scans.is_empty() {
            (Ok(Vec::new()), None)
        } else {
            let mut begun = Begun::new(client);
            let found = people_begun(&mut begun, &scans).await;
            // A failed lookup leaves the transaction aborted: dropped, it is rolled back, and the
            // batch's other registrations begin their own.
            let begun = found.is_ok().then_some(begun);
            (found, begun)
        };
        let (mut found, failed) = match found {
            Ok(people) => (people.into_iter(), None),
            Err(e) => (Vec::new().into_iter(), Some(e)),
        };
        let (mut items, mut replies) = (Vec::with_capacity(batch.len()), Vec::with_capacity(batch.len()));
        for pending in batch {
            match pending {
                Pending::Ready { item, reply } => {
                    items.push(item);
                    replies.push(Reply::Registered(reply));
                }
                Pending::Scanned { make, reply, .. } => {
                    if let Some(e) = &failed {
                        let _ = reply.send(Err(e.clone()));
                        continue;
                    }
                    match found.next().flatten() {
                        Some(person) => {
                            items.push(make(&person));
                            replies.push(Reply::Scanned(reply, person));
                        }
                        None => {
                            let _ = reply.send(Ok(None));
                        }
                    }
                }
            }
        }
        (items, replies, begun)
    }

    /// The person each scan names, in the scans' order (`None` for nobody).
    pub(super) async fn people_of_scans(&self, scans: &[&Scanned]) -> StoreResult<Vec<Option<Person>>> {
        let client = self.client().await?;
        let (stmt, params) = lookup(&client, scans).await?;
        let rows = client.query(&stmt, &params.as_refs()).await.map_err(db)?;
        people_from(&rows, scans.len())
    }
}

/// [`PgStore::people_of_scans`] sent right behind the `BEGIN` of `begun`'s transaction.
async fn people_begun(begun: &mut Begun<'_>, scans: &[&Scanned]) -> StoreResult<Vec<Option<Person>>> {
    let client = begun.client();
    // Prepared first: a statement sent as text would wait for its Parse, and BEGIN go alone.
    let (stmt, params) = lookup(client, scans).await?;
    let params = params.as_refs();
    let (begin, rows) = tokio::join!(biased; begun.begin(), client.query(&stmt, &params));
    begin.map_err(db)?;
    people_from(&rows.map_err(db)?, scans.len())
}

/// The lookup's parameters: the numbered scans by id, by document and by QR code.
#[derive(Default)]
struct LookupParams<'s> {
    id_n: Vec<i64>,
    ids: Vec<i64>,
    doc_n: Vec<i64>,
    doc_types: Vec<&'s str>,
    doc_numbers: Vec<&'s str>,
    qr_n: Vec<i64>,
    qrs: Vec<&'s str>,
}

impl LookupParams<'_> {
    fn as_refs(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
        [&self.id_n, &self.ids, &self.doc_n, &self.doc_types, &self.doc_numbers, &self.qr_n, &self.qrs]
    }
}

/// The lookup's statement, prepared on `client`, and its parameters for `scans`.
async fn lookup<'s>(
    client: &ClientWrapper,
    scans: &[&'s Scanned],
) -> StoreResult<(tokio_postgres::Statement, LookupParams<'s>)> {
    let mut p = LookupParams::default();
    for (n, scan) in scans.iter().enumerate() {
        let n = n as i64;
        match scan {
            Scanned::Id(id) => {
                p.id_n.push(n);
                p.ids.push(*id);
            }
            Scanned::Document(document) => {
                // A document without a number (none given) names nobody.
                if let Some(number) = document.number() {
                    p.doc_n.push(n);
                    p.doc_types.push(document.kind().as_str());
                    p.doc_numbers.push(number);
                }
            }
            Scanned::Qr(token) => {
                p.qr_n.push(n);
                p.qrs.push(token.as_str());
            }
        }
    }
    let stmt = client.prepare_cached(&SCANNED_SQL).await.map_err(db)?;
    Ok((stmt, p))
}

/// The people found, placed by their scan's number.
fn people_from(rows: &[tokio_postgres::Row], scans: usize) -> StoreResult<Vec<Option<Person>>> {
    let mut people = vec![None; scans];
    for row in rows {
        let n: i64 = get(row, 17)?;
        let slot = people
            .get_mut(n as usize)
            .ok_or_else(|| StoreError::Internal(format!("a scan numbered {n} was not asked")))?;
        *slot = Some(person_from(row)?);
    }
    Ok(people)
}
