//! Storage of transport to the lab: boxes, the tubes packed into them, and their hand-overs.
//!
//! Rules every engine keeps, on top of the crate's:
//! - A tube is in one box at most (a unique column, not a check in the application). What to do
//!   with a scan, a seal or a hand-over is decided by [`bulwark_domain::testing::decide_pack`],
//!   [`decide_seal`](bulwark_domain::testing::decide_seal) and
//!   [`decide_handover`](bulwark_domain::testing::decide_handover) inside the transaction that
//!   stores the result, on the box as it is stored then.
//! - A box's summary (state, flags, number of tubes, earliest sampling time, the times of its
//!   steps) changes in the same transaction as its tubes and hand-overs.
//! - Boxes are scoped by the area path of the site that opened them, in the query.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    testing::{BoxCode, Handover, NewBox, NewHandover, PackedTube, RoundId, TransportBox, TransportFlag, TubeCode},
};

/// A box with its tubes (in packing order) and hand-overs (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxDetail {
    pub summary: TransportBox,
    pub tubes: Vec<PackedTube>,
    pub handovers: Vec<Handover>,
}

/// What became of one tube scanned into a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packed {
    /// Packed now, with these flags.
    Stored(Vec<TransportFlag>),
    /// In this box already; nothing changed.
    AlreadyInBox,
    /// In that other box; refused.
    InOtherBox(BoxCode),
    /// No registration ever used this tube code; refused.
    UnknownTube,
}

impl Packed {
    pub fn as_str(&self) -> &'static str {
        match self {
            Packed::Stored(_) => "packed",
            Packed::AlreadyInBox => "already_in_box",
            Packed::InOtherBox(_) => "in_other_box",
            Packed::UnknownTube => "unknown_tube",
        }
    }
}

/// The answer to a hand-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandedOver {
    /// Stored now.
    Recorded(Handover),
    /// The same as the box's last hand-over (a retry): that one, unchanged.
    Repeated(Handover),
}

impl HandedOver {
    pub fn handover(&self) -> &Handover {
        match self {
            HandedOver::Recorded(h) | HandedOver::Repeated(h) => h,
        }
    }
}

/// Storage of transport boxes.
#[async_trait]
pub trait TransportStore: Send + Sync {
    /// Opens a box at a site for a round. A code already used is [`crate::StoreError::Conflict`];
    /// an unknown round or site is [`crate::StoreError::Invalid`].
    async fn create_box(&self, new: NewBox) -> StoreResult<TransportBox>;
    /// A box with its tubes and hand-overs.
    async fn transport_box(&self, code: &BoxCode) -> StoreResult<Option<BoxDetail>>;
    /// Packs tubes into a box, each on its own, in order; one answer per code. An unknown box is
    /// [`crate::StoreError::NotFound`].
    async fn pack_tubes(
        &self,
        code: &BoxCode,
        tubes: Vec<TubeCode>,
        at: Millis,
        by: UserId,
    ) -> StoreResult<Vec<(TubeCode, Packed)>>;
    /// Seals a box; sealing it again changes nothing. An empty box is
    /// [`crate::StoreError::Invalid`], an unknown one [`crate::StoreError::NotFound`].
    async fn seal_box(&self, code: &BoxCode, at: Millis) -> StoreResult<TransportBox>;
    /// Records a hand-over (the caller has checked the names). A box the lab has received is
    /// [`crate::StoreError::Conflict`] (unless the receipt is repeated exactly); an unknown one
    /// [`crate::StoreError::NotFound`].
    async fn record_handover(&self, code: &BoxCode, handover: NewHandover) -> StoreResult<HandedOver>;
    /// The boxes of a round opened at sites inside `scope`, in the order they were opened.
    async fn boxes(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<TransportBox>>;
    /// Boxes inside `scope`, of any round, that the lab has not received and whose earliest tube
    /// was sampled before `sampled_before` (now minus the limit), oldest sample first.
    async fn overdue_boxes(&self, scope: &Scope, sampled_before: Millis) -> StoreResult<Vec<TransportBox>>;
}
