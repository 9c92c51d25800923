//! Scans in the registration queue: the people scanned by a batch's registrations are looked up
//! in one statement by the transaction worker, instead of one query per scan before queueing.
//! Over HTTP that query was the registration's only statement of its own besides its share of a
//! group commit.

use super::registrations::Pending;
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

impl PgStore {
    /// The batch's registrations and their replies: scans are made into registrations once their
    /// people are found; a scan of nobody is answered `None` here, and when the lookup fails its
    /// scans hear the error while the other registrations go on.
    pub(super) async fn made(&self, batch: Vec<Pending>) -> (Vec<NewRegistration>, Vec<Reply>) {
        let scans: Vec<&Scanned> = batch
            .iter()
            .filter_map(|p| match p {
                Pending::Scanned { scanned, .. } => Some(scanned),
                Pending::Ready { .. } => None,
            })
            .collect();
        let found = if scans.is_empty() { Ok(Vec::new()) } else { self.people_of_scans(&scans).await };
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
        (items, replies)
    }

    /// The person each scan names, in the scans' order (`None` for nobody).
    pub(super) async fn people_of_scans(&self, scans: &[&Scanned]) -> StoreResult<Vec<Option<Person>>> {
        let (mut id_n, mut ids) = (Vec::new(), Vec::new());
        let (mut doc_n, mut doc_types, mut doc_numbers) = (Vec::new(), Vec::new(), Vec::new());
        let (mut qr_n, mut qrs) = (Vec::new(), Vec::new());
        for (n, scan) in scans.iter().enumerate() {
            let n = n as i64;
            match scan {
                Scanned::Id(id) => {
                    id_n.push(n);
                    ids.push(*id);
                }
                Scanned::Document(document) => {
                    // A document without a number (none given) names nobody.
                    if let Some(number) = document.number() {
                        doc_n.push(n);
                        doc_types.push(document.kind().as_str());
                        doc_numbers.push(number);
                    }
                }
                Scanned::Qr(token) => {
                    qr_n.push(n);
                    qrs.push(token.as_str());
                }
            }
        }
        let client = self.client().await?;
        let stmt = client.prepare_cached(&SCANNED_SQL).await.map_err(db)?;
        let rows =
            client.query(&stmt, &[&id_n, &ids, &doc_n, &doc_types, &doc_numbers, &qr_n, &qrs]).await.map_err(db)?;
        let mut people = vec![None; scans.len()];
        for row in &rows {
            let n: i64 = get(row, 17)?;
            let slot = people
                .get_mut(n as usize)
                .ok_or_else(|| StoreError::Internal(format!("a scan numbered {n} was not asked")))?;
            *slot = Some(person_from(row)?);
        }
        Ok(people)
    }
}
