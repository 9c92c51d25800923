//! Personal QR codes for residents without a phone, and the review queue.

use super::coverage::scope_of;
use crate::{Actor, AppResult, people::audit_reads};
use bulwark_domain::{Millis, access::Operation, people::Person, testing::RoundId};
use bulwark_store::{
    Store,
    testing::{FlaggedRegistration, ReviewItem},
};
use rand::RngCore;

/// What every personal QR token starts with, so the scan page tells it from an ID number.
pub const QR_PREFIX: &str = "BWQ1";

/// A new token: the prefix and 16 random bytes in upper-case hex. It says nothing about the
/// person: a lost sheet leaks no ID number, and a token can be replaced. Upper-case hex survives
/// a keyboard-wedge scanner with Caps Lock on or a non-US layout (lookups upper-case the input).
pub fn new_qr_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("{QR_PREFIX}{hex}")
}

/// The residents of `area` with their QR tokens (made for those who have none), for a printed
/// sheet. Every person listed is an audited read.
pub async fn qr_codes(
    store: &dyn Store,
    actor: &Actor,
    area: Option<&str>,
    now: Millis,
) -> AppResult<Vec<(Person, String)>> {
    let op = Operation::PrintablesRead;
    actor.authorize(store, op, now).await?;
    let scope = scope_of(store, actor, op, area, now).await?;
    let codes = store.qr_tokens(&scope, &new_qr_token).await?;
    let people: Vec<Person> = codes.iter().map(|(p, _)| p.clone()).collect();
    audit_reads(store, actor, op, &people, now).await?;
    Ok(codes)
}

/// What waits for a person: lab results that could not be applied as they were, and flagged
/// registrations of a round inside the actor's scope.
pub struct Review {
    pub results: Vec<ReviewItem>,
    pub registrations: Vec<FlaggedRegistration>,
}

pub async fn review(store: &dyn Store, actor: &Actor, round: Option<RoundId>, now: Millis) -> AppResult<Review> {
    actor.authorize(store, Operation::ReviewRead, now).await?;
    let results = store.review_queue(500).await?;
    let registrations = match round {
        Some(r) => store.flagged_registrations(r, &actor.scope, 500).await?,
        None => vec![],
    };
    Ok(Review { results, registrations })
}
