//! A registration links one person's swab to one tube at one lane. It is stored even when it
//! breaks an expectation, with flags saying which, because the swab exists.

use super::{LabOutcome, LaneId, PoolSize, RoundId, SiteId, TubeCode, TubeId, TubeState};
use crate::{
    Millis,
    access::UserId,
    audit::NewAuditEntry,
    people::{Document, IdNumber, PersonId, Phone},
};
use serde::{Deserialize, Serialize};

pub type RegistrationId = i64;

/// Who was scanned, as the lane sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonRef {
    /// An ID card number, read by the card reader or the scanner, or typed.
    IdNumber(IdNumber),
    /// A person the client already knows (from the register on the phone).
    PersonId(PersonId),
    /// The opaque token of a Bulwark personal QR code.
    Qr(String),
    /// Someone not in the register (a visitor, a lorry driver), registered on the spot.
    Visitor { document: Document, name: String, phone: Option<Phone> },
}

/// Something about a registration a person should look at. None of them stops it being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationFlag {
    /// The tube already held as many people as its pool size.
    OverCapacity,
    /// The person is in another tube of the same round.
    DuplicateInRound,
    /// The tube had been sealed (a scan that queued offline, or a late label).
    AfterSeal,
    /// The tube's result had already come in. If it was abnormal, the person is on the abnormal
    /// list at once.
    AfterResult,
    /// The person was not in the register and was added at the lane.
    RegisteredOnSpot,
}

impl RegistrationFlag {
    pub const ALL: [RegistrationFlag; 5] = [
        RegistrationFlag::OverCapacity,
        RegistrationFlag::DuplicateInRound,
        RegistrationFlag::AfterSeal,
        RegistrationFlag::AfterResult,
        RegistrationFlag::RegisteredOnSpot,
    ];

    fn bit(self) -> i64 {
        1 << (self as i64)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationFlag::OverCapacity => "over_capacity",
            RegistrationFlag::DuplicateInRound => "duplicate_in_round",
            RegistrationFlag::AfterSeal => "after_seal",
            RegistrationFlag::AfterResult => "after_result",
            RegistrationFlag::RegisteredOnSpot => "registered_on_spot",
        }
    }

    /// Flags as the bit set the engines store in one integer column.
    pub fn to_bits(flags: &[RegistrationFlag]) -> i64 {
        flags.iter().fold(0, |bits, f| bits | f.bit())
    }

    pub fn from_bits(bits: i64) -> Vec<RegistrationFlag> {
        Self::ALL.into_iter().filter(|f| bits & f.bit() != 0).collect()
    }
}

/// A registration as the lane asks for it, with the person already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// The client's idempotency key (a UUID, canonical lower-case text). Unique per registration.
    pub key: String,
    /// Fingerprint of the request body: the same key with another body is refused.
    pub body_hash: i64,
    pub round: RoundId,
    pub site: SiteId,
    pub lane: Option<LaneId>,
    pub tube: TubeCode,
    /// The pool size a new tube gets (an existing tube keeps its own).
    pub pool_size: PoolSize,
    pub person: PersonId,
    /// Where the person lives: the counters of every area on this path move.
    pub person_area_path: String,
    /// Flags known before the engine looks at the tube (e.g. registered on the spot).
    pub flags: Vec<RegistrationFlag>,
    /// Server time of arrival: what orders registrations.
    pub at: Millis,
    /// The device's clock when the swab was scanned, kept as reported (it may be off by days).
    pub device_time: Option<Millis>,
    pub by: UserId,
    /// Sampled at home by a mobile team rather than at the site.
    pub home: bool,
    /// The audited read of the answer (it names who was scanned), written in the registration's
    /// own transaction whenever the answer shows the person — stored, replayed or already in the
    /// tube; not for a reused key. One commit per scan instead of two.
    pub audit: Option<NewAuditEntry>,
}

/// A stored registration and the tube as this registration left it, so a replay answers exactly
/// what the first answer said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub id: RegistrationId,
    pub key: String,
    pub round: RoundId,
    pub site: SiteId,
    pub lane: Option<LaneId>,
    pub tube_id: TubeId,
    pub tube: TubeCode,
    pub pool_size: PoolSize,
    pub person: PersonId,
    pub at: Millis,
    pub device_time: Option<Millis>,
    pub by: UserId,
    pub home: bool,
    pub flags: Vec<RegistrationFlag>,
    /// The tube's state and number of people right after this registration.
    pub tube_state: TubeState,
    pub tube_members: u32,
}

/// The tube a scan goes into, as stored before the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TubeSnapshot {
    pub state: TubeState,
    pub pool_size: PoolSize,
    pub members: u32,
    pub outcome: Option<LabOutcome>,
}

impl TubeSnapshot {
    /// A tube scanned for the first time.
    pub fn new(pool_size: PoolSize) -> TubeSnapshot {
        TubeSnapshot { state: TubeState::Open, pool_size, members: 0, outcome: None }
    }
}

/// What to do with a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanDecision {
    /// The person is already in this very tube: the same swab scanned twice. Nothing new is
    /// stored; the earlier registration is the answer.
    AlreadyInTube,
    /// Store it with these flags; the tube then holds `members` people and is in `state` (a pool
    /// seals itself when it reaches its size).
    Store { flags: Vec<RegistrationFlag>, members: u32, state: TubeState },
}

/// Decides a scan into `tube` of a person who is (or is not) already in it, or in another tube
/// of the same round. Pure: the engines call it inside the transaction that stores the result.
pub fn decide(tube: TubeSnapshot, in_this_tube: bool, in_other_tube: bool, known: &[RegistrationFlag]) -> ScanDecision {
    if in_this_tube {
        return ScanDecision::AlreadyInTube;
    }
    let mut flags = known.to_vec();
    let members = tube.members + 1;
    if members > u32::from(tube.pool_size.get()) {
        flags.push(RegistrationFlag::OverCapacity);
    }
    if in_other_tube {
        flags.push(RegistrationFlag::DuplicateInRound);
    }
    match tube.state {
        TubeState::Sealed => flags.push(RegistrationFlag::AfterSeal),
        TubeState::Resulted => flags.push(RegistrationFlag::AfterResult),
        TubeState::Open => {}
    }
    let state = match tube.state {
        TubeState::Open if members >= u32::from(tube.pool_size.get()) => TubeState::Sealed,
        s => s,
    };
    ScanDecision::Store { flags, members, state }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegistrationFlag::*;

    fn tube(state: TubeState, members: u32) -> TubeSnapshot {
        TubeSnapshot { state, pool_size: PoolSize::TEN, members, outcome: None }
    }

    #[test]
    fn a_pool_seals_itself_at_its_size() {
        let d = decide(tube(TubeState::Open, 9), false, false, &[]);
        assert_eq!(d, ScanDecision::Store { flags: vec![], members: 10, state: TubeState::Sealed });
        let d = decide(tube(TubeState::Open, 3), false, false, &[]);
        assert_eq!(d, ScanDecision::Store { flags: vec![], members: 4, state: TubeState::Open });
    }

    #[test]
    fn physical_facts_are_flagged_not_refused() {
        let d = decide(tube(TubeState::Sealed, 10), false, true, &[RegisteredOnSpot]);
        assert_eq!(
            d,
            ScanDecision::Store {
                flags: vec![RegisteredOnSpot, OverCapacity, DuplicateInRound, AfterSeal],
                members: 11,
                state: TubeState::Sealed
            }
        );
        let d = decide(tube(TubeState::Resulted, 4), false, false, &[]);
        assert_eq!(d, ScanDecision::Store { flags: vec![AfterResult], members: 5, state: TubeState::Resulted });
        assert_eq!(decide(tube(TubeState::Open, 4), true, false, &[]), ScanDecision::AlreadyInTube);
    }

    #[test]
    fn flag_bits_round_trip() {
        let all = RegistrationFlag::ALL.to_vec();
        assert_eq!(RegistrationFlag::from_bits(RegistrationFlag::to_bits(&all)), all);
        assert_eq!(RegistrationFlag::from_bits(0), vec![]);
    }
}
