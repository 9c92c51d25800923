//! Transport to the lab (domain-rules §2.7, §3.4): sealed tubes are packed into a transport box
//! (转运箱), the box is sealed (封箱), handed to a courier, and received at the lab; every step is
//! timestamped and names who gave and who took the box (the courier and the receiver double-sign).
//!
//! Specimens at room temperature must reach the lab within 4 h of sampling: [`transport_timer`]
//! measures a box against that limit from its oldest tube, with an early warning before it.
//!
//! As everywhere in mass testing, a physical fact is never refused: an open tube packed, a tube
//! added after the box was sealed, a courier taking an unsealed box, a lab receiving a box no
//! courier was recorded for; each is stored with a [`TransportFlag`] for review. What is refused
//! is what cannot be (a tube in two boxes, a tube nobody registered) or a contradiction (a box the
//! lab has already received going out again).

use super::{RoundId, SiteId, TubeCode, TubeCodeError, TubeFormat, TubeState};
use crate::{Millis, access::UserId, people::Phone};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type BoxId = i64;
pub type HandoverId = i64;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// A box code does not follow the tube-code rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("box code: {0}")]
pub struct BoxCodeError(pub TubeCodeError);

/// A transport box's barcode: the same rules as a tube code (letters, digits and '-', 6 to 24
/// characters by default), upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BoxCode(String);

impl BoxCode {
    pub fn parse(raw: &str, format: &TubeFormat) -> Result<BoxCode, BoxCodeError> {
        TubeCode::parse(raw, format).map(|c| BoxCode(c.as_str().to_string())).map_err(BoxCodeError)
    }

    /// A code read back from storage, where it was checked on the way in.
    pub fn from_stored(code: String) -> BoxCode {
        BoxCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BoxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a box is: tubes going in, sealed (封箱), with a courier, at the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxState {
    Packing,
    Sealed,
    InTransit,
    Received,
}

impl BoxState {
    pub const ALL: [BoxState; 4] = [BoxState::Packing, BoxState::Sealed, BoxState::InTransit, BoxState::Received];

    pub fn as_str(self) -> &'static str {
        match self {
            BoxState::Packing => "packing",
            BoxState::Sealed => "sealed",
            BoxState::InTransit => "in_transit",
            BoxState::Received => "received",
        }
    }

    pub fn parse(s: &str) -> Option<BoxState> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// Which hand-over: from the site (or a previous courier) to a courier, or from the courier to
/// the lab's receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverStage {
    Courier,
    Lab,
}

impl HandoverStage {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverStage::Courier => "courier",
            HandoverStage::Lab => "lab",
        }
    }

    pub fn parse(s: &str) -> Option<HandoverStage> {
        [HandoverStage::Courier, HandoverStage::Lab].into_iter().find(|h| h.as_str() == s.trim())
    }
}

/// Something about a packed tube or a hand-over that a person should look at. None of them stops
/// it being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportFlag {
    /// The tube was still open (not sealed) when it was packed.
    OpenTube,
    /// The tube was packed after the box had been sealed.
    AfterSeal,
    /// The box changed hands before it was sealed.
    UnsealedHandover,
    /// The lab received the box with no courier hand-over on record.
    NoCourier,
}

impl TransportFlag {
    pub const ALL: [TransportFlag; 4] =
        [TransportFlag::OpenTube, TransportFlag::AfterSeal, TransportFlag::UnsealedHandover, TransportFlag::NoCourier];

    fn bit(self) -> i64 {
        1 << (self as i64)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransportFlag::OpenTube => "open_tube",
            TransportFlag::AfterSeal => "after_seal",
            TransportFlag::UnsealedHandover => "unsealed_handover",
            TransportFlag::NoCourier => "no_courier",
        }
    }

    /// Flags as the bit set the engines store in one integer column.
    pub fn to_bits(flags: &[TransportFlag]) -> i64 {
        flags.iter().fold(0, |bits, f| bits | f.bit())
    }

    pub fn from_bits(bits: i64) -> Vec<TransportFlag> {
        Self::ALL.into_iter().filter(|f| bits & f.bit() != 0).collect()
    }
}

/// What is refused about a box.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("a box with no tubes in it cannot be sealed")]
    EmptyBox,
    #[error("the lab has received this box already")]
    AlreadyReceived,
    #[error("a hand-over names who takes the box (at most {max} characters)")]
    Name { max: usize },
}

/// A box as a site opens it for a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBox {
    pub code: BoxCode,
    pub round: RoundId,
    pub site: SiteId,
    pub at: Millis,
    pub by: UserId,
}

/// A stored box, with what its tubes and hand-overs add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportBox {
    pub id: BoxId,
    pub code: BoxCode,
    pub round: RoundId,
    pub site: SiteId,
    /// The materialised path of the site's area: the box's scope.
    pub area_path: String,
    pub state: BoxState,
    /// Every flag of its tubes and hand-overs.
    pub flags: Vec<TransportFlag>,
    /// Tubes packed.
    pub tubes: u32,
    /// The earliest sampling time among its tubes (their `opened_at`); none while empty.
    pub first_sample_at: Option<Millis>,
    pub created_at: Millis,
    pub created_by: UserId,
    pub sealed_at: Option<Millis>,
    /// The first courier hand-over.
    pub dispatched_at: Option<Millis>,
    /// The lab's receipt.
    pub received_at: Option<Millis>,
}

impl TransportBox {
    /// The box against the room-temperature limit at `now` (stopped at the lab's receipt).
    pub fn timer(&self, now: Millis, limits: &TransportLimits) -> Option<TransportTimer> {
        transport_timer(self.first_sample_at, self.received_at, now, limits)
    }
}

/// A tube in a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedTube {
    pub code: TubeCode,
    /// When the tube's first swab was registered: its sampling time.
    pub opened_at: Millis,
    /// The tube's state now.
    pub state: TubeState,
    pub packed_at: Millis,
    pub by: UserId,
    pub flags: Vec<TransportFlag>,
}

/// The most characters a name on a hand-over may have.
pub const MAX_NAME: usize = 50;

/// A hand-over as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandover {
    pub stage: HandoverStage,
    /// Who takes the box: the courier, or the lab's receiver.
    pub to_name: String,
    pub to_phone: Option<Phone>,
    /// Who gives it, when the recorder says so; otherwise [`decide_handover`] works it out.
    pub from_name: Option<String>,
    /// The display name of the account recording the hand-over.
    pub recorder: String,
    pub at: Millis,
    pub by: UserId,
}

impl NewHandover {
    /// Trims the names; refuses an empty or overlong one.
    pub fn check(mut self) -> Result<NewHandover, TransportError> {
        let name_ok = |n: &str| !n.is_empty() && n.chars().count() <= MAX_NAME;
        self.to_name = self.to_name.trim().to_string();
        self.from_name = self.from_name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if !name_ok(&self.to_name) || self.from_name.as_deref().is_some_and(|n| !name_ok(n)) {
            return Err(TransportError::Name { max: MAX_NAME });
        }
        Ok(self)
    }
}

/// A stored hand-over: both names, when, and who recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub id: HandoverId,
    pub stage: HandoverStage,
    /// Who gave the box; unknown when a lab received a box no courier was recorded for.
    pub from_name: Option<String>,
    pub to_name: String,
    pub to_phone: Option<Phone>,
    pub at: Millis,
    pub by: UserId,
    pub flags: Vec<TransportFlag>,
}

/// Where a tube is, as stored, before it is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TubeHolder {
    /// In no box.
    Free,
    /// Already in this box.
    ThisBox,
    /// In another box.
    OtherBox,
}

/// What to do with a tube scanned into a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackDecision {
    /// Put it in, with these flags.
    Store(Vec<TransportFlag>),
    /// Scanned twice: nothing new.
    AlreadyInBox,
    /// A tube is in one box at most: refused.
    InOtherBox,
    /// No swab was ever registered into this tube: refused (most likely the wrong barcode).
    UnknownTube,
}

/// Decides a tube scanned into a box in `box_state`; `tube` is the tube's state, `None` when no
/// tube has that code. Pure: the engines call it inside the transaction that stores the result.
pub fn decide_pack(box_state: BoxState, tube: Option<TubeState>, holder: TubeHolder) -> PackDecision {
    let Some(tube) = tube else { return PackDecision::UnknownTube };
    match holder {
        TubeHolder::ThisBox => return PackDecision::AlreadyInBox,
        TubeHolder::OtherBox => return PackDecision::InOtherBox,
        TubeHolder::Free => {}
    }
    let mut flags = Vec::new();
    if tube == TubeState::Open {
        flags.push(TransportFlag::OpenTube);
    }
    if box_state != BoxState::Packing {
        flags.push(TransportFlag::AfterSeal);
    }
    PackDecision::Store(flags)
}

/// Whether sealing changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealDecision {
    Seal,
    /// Sealed (or further along) already: nothing changes.
    Unchanged,
}

/// Decides sealing a box in `state` holding `tubes` tubes.
pub fn decide_seal(state: BoxState, tubes: u32) -> Result<SealDecision, TransportError> {
    match state {
        BoxState::Packing if tubes == 0 => Err(TransportError::EmptyBox),
        BoxState::Packing => Ok(SealDecision::Seal),
        _ => Ok(SealDecision::Unchanged),
    }
}

/// What to do with a hand-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverDecision {
    /// The same hand-over as the last one (a retry from a phone that lost the answer): nothing new.
    Repeat,
    /// Record it, giving the box `state`, naming `from_name` as who gave it.
    Record { state: BoxState, from_name: Option<String>, flags: Vec<TransportFlag> },
}

/// Decides a hand-over of a box in `state` whose hand-overs so far are `earlier` (oldest first).
///
/// - To a courier: the box goes in transit. Another courier after the first is a relay; the
///   giver is then the previous courier, otherwise the recorder (the site's staff).
/// - To the lab: the box is received; the giver is the last courier. Without a courier on record
///   the box is still received (someone brought it), flagged `no_courier`.
/// - A box that changes hands unsealed is flagged `unsealed_handover`.
/// - Nothing leaves the lab: a hand-over of a received box is refused, unless it repeats the
///   receipt exactly.
pub fn decide_handover(
    state: BoxState,
    earlier: &[Handover],
    new: &NewHandover,
) -> Result<HandoverDecision, TransportError> {
    if earlier.last().is_some_and(|last| {
        last.stage == new.stage
            && last.to_name == new.to_name
            && (new.to_phone.is_none() || last.to_phone == new.to_phone)
            && (new.from_name.is_none() || last.from_name == new.from_name)
    }) {
        return Ok(HandoverDecision::Repeat);
    }
    if state == BoxState::Received {
        return Err(TransportError::AlreadyReceived);
    }
    let last_courier = earlier.iter().rev().find(|h| h.stage == HandoverStage::Courier).map(|h| h.to_name.clone());
    let mut flags = Vec::new();
    if state == BoxState::Packing {
        flags.push(TransportFlag::UnsealedHandover);
    }
    let (next, giver) = match new.stage {
        HandoverStage::Courier => {
            let giver = if state == BoxState::InTransit { last_courier } else { Some(new.recorder.clone()) };
            (BoxState::InTransit, giver)
        }
        HandoverStage::Lab => {
            if last_courier.is_none() {
                flags.push(TransportFlag::NoCourier);
            }
            (BoxState::Received, last_courier)
        }
    };
    let from_name = new.from_name.clone().or(giver);
    Ok(HandoverDecision::Record { state: next, from_name, flags })
}

/// How long specimens may travel at room temperature, and when to warn before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportLimits {
    /// From this long after sampling the box is "soon" (amber).
    pub early: Millis,
    /// Longer than this after sampling, the box is "overdue" (red).
    pub limit: Millis,
}

impl TransportLimits {
    /// `lab.max_room_temp_hours_before_lab` = 4 h (NHC lab manual, via domain-rules §2.7), with
    /// the early warning an hour before.
    pub const DEFAULT: TransportLimits = TransportLimits { early: 3 * HOUR, limit: 4 * HOUR };

    /// Limits in whole hours, as the rule sets write them; the early warning is clamped to the
    /// limit.
    pub fn from_hours(early: u32, limit: u32) -> TransportLimits {
        let limit = Millis::from(limit) * HOUR;
        TransportLimits { early: (Millis::from(early) * HOUR).min(limit), limit }
    }
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits::DEFAULT
    }
}

/// How a box stands against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportWarning {
    None,
    /// Past the early warning: get it moving.
    Soon,
    /// Past the limit (or received after it).
    Overdue,
}

impl TransportWarning {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportWarning::None => "none",
            TransportWarning::Soon => "soon",
            TransportWarning::Overdue => "overdue",
        }
    }
}

/// A box's transport timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportTimer {
    /// The earliest sampling time among the box's tubes.
    pub since: Millis,
    /// Now, or the lab's receipt, which stops the timer.
    pub until: Millis,
    /// Whole minutes from `since` to `until`.
    pub minutes: i64,
    /// Whole minutes until the limit; negative once past it.
    pub minutes_left: i64,
    pub warning: TransportWarning,
    /// The lab has received the box: the timer no longer runs.
    pub stopped: bool,
}

/// The timer of a box whose oldest tube was sampled at `first_sample` (none for an empty box:
/// no timer), stopped at `received_at` if the lab has it, else running at `now`. Exactly at the
/// limit is still within it (≤ 4 h); the early warning starts at its mark.
pub fn transport_timer(
    first_sample: Option<Millis>,
    received_at: Option<Millis>,
    now: Millis,
    limits: &TransportLimits,
) -> Option<TransportTimer> {
    let since = first_sample?;
    let until = received_at.unwrap_or(now);
    let elapsed = (until - since).max(0);
    let warning = if elapsed > limits.limit {
        TransportWarning::Overdue
    } else if elapsed >= limits.early {
        TransportWarning::Soon
    } else {
        TransportWarning::None
    };
    Some(TransportTimer {
        since,
        until,
        minutes: elapsed / MINUTE,
        minutes_left: (limits.limit - elapsed).div_euclid(MINUTE),
        warning,
        stopped: received_at.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use BoxState::*;
    use TransportFlag::*;

    fn handover(stage: HandoverStage, to: &str) -> NewHandover {
        NewHandover {
            stage,
            to_name: to.into(),
            to_phone: None,
            from_name: None,
            recorder: "采样点 陈姐".into(),
            at: 0,
            by: 1,
        }
    }

    fn stored(stage: HandoverStage, from: Option<&str>, to: &str) -> Handover {
        Handover {
            id: 1,
            stage,
            from_name: from.map(str::to_string),
            to_name: to.into(),
            to_phone: None,
            at: 0,
            by: 1,
            flags: vec![],
        }
    }

    #[test]
    fn box_codes_follow_the_tube_rules() {
        let f = TubeFormat::default();
        assert_eq!(BoxCode::parse(" box-0001\n", &f).unwrap().as_str(), "BOX-0001");
        assert!(BoxCode::parse("箱子12345", &f).is_err());
        assert!(BoxCode::parse("B1", &f).unwrap_err().to_string().starts_with("box code: "));
    }

    #[test]
    fn packing_flags_but_refuses_only_the_impossible() {
        assert_eq!(decide_pack(Packing, Some(TubeState::Sealed), TubeHolder::Free), PackDecision::Store(vec![]));
        assert_eq!(decide_pack(Packing, Some(TubeState::Open), TubeHolder::Free), PackDecision::Store(vec![OpenTube]));
        assert_eq!(
            decide_pack(InTransit, Some(TubeState::Open), TubeHolder::Free),
            PackDecision::Store(vec![OpenTube, AfterSeal])
        );
        assert_eq!(decide_pack(Sealed, Some(TubeState::Sealed), TubeHolder::ThisBox), PackDecision::AlreadyInBox);
        assert_eq!(decide_pack(Packing, Some(TubeState::Sealed), TubeHolder::OtherBox), PackDecision::InOtherBox);
        assert_eq!(decide_pack(Packing, None, TubeHolder::Free), PackDecision::UnknownTube);
    }

    #[test]
    fn sealing() {
        assert_eq!(decide_seal(Packing, 0), Err(TransportError::EmptyBox));
        assert_eq!(decide_seal(Packing, 3), Ok(SealDecision::Seal));
        for s in [Sealed, InTransit, Received] {
            assert_eq!(decide_seal(s, 3), Ok(SealDecision::Unchanged), "{s:?}");
        }
    }

    #[test]
    fn the_state_machine_of_hand_overs() {
        use HandoverStage::*;
        // Site → courier: the giver is whoever records it at the site.
        let d = decide_handover(Sealed, &[], &handover(Courier, "王师傅")).unwrap();
        assert_eq!(
            d,
            HandoverDecision::Record { state: InTransit, from_name: Some("采样点 陈姐".into()), flags: vec![] }
        );
        // Courier → lab: the giver is the courier (double signature).
        let earlier = [stored(Courier, Some("采样点 陈姐"), "王师傅")];
        let d = decide_handover(InTransit, &earlier, &handover(Lab, "检验科 李医生")).unwrap();
        assert_eq!(d, HandoverDecision::Record { state: Received, from_name: Some("王师傅".into()), flags: vec![] });
        // A relay between couriers.
        let d = decide_handover(InTransit, &earlier, &handover(Courier, "张师傅")).unwrap();
        assert_eq!(d, HandoverDecision::Record { state: InTransit, from_name: Some("王师傅".into()), flags: vec![] });
        // The same hand-over sent twice is recorded once.
        assert_eq!(decide_handover(InTransit, &earlier, &handover(Courier, "王师傅")), Ok(HandoverDecision::Repeat));
        let received = [stored(Courier, None, "王师傅"), stored(Lab, Some("王师傅"), "检验科 李医生")];
        assert_eq!(decide_handover(Received, &received, &handover(Lab, "检验科 李医生")), Ok(HandoverDecision::Repeat));
        // Nothing leaves the lab.
        assert_eq!(
            decide_handover(Received, &received, &handover(Courier, "王师傅")),
            Err(TransportError::AlreadyReceived)
        );
        assert_eq!(decide_handover(Received, &received, &handover(Lab, "别人")), Err(TransportError::AlreadyReceived));
    }

    #[test]
    fn physical_facts_of_hand_overs_are_flagged() {
        use HandoverStage::*;
        let d = decide_handover(Packing, &[], &handover(Courier, "王师傅")).unwrap();
        assert_eq!(
            d,
            HandoverDecision::Record {
                state: InTransit,
                from_name: Some("采样点 陈姐".into()),
                flags: vec![UnsealedHandover]
            }
        );
        // Brought to the lab by the site itself: received, no courier on record, giver unknown
        // unless named.
        let d = decide_handover(Sealed, &[], &handover(Lab, "检验科 李医生")).unwrap();
        assert_eq!(d, HandoverDecision::Record { state: Received, from_name: None, flags: vec![NoCourier] });
        let mut named = handover(Lab, "检验科 李医生");
        named.from_name = Some("村医 何".into());
        let d = decide_handover(Packing, &[], &named).unwrap();
        assert_eq!(
            d,
            HandoverDecision::Record {
                state: Received,
                from_name: Some("村医 何".into()),
                flags: vec![UnsealedHandover, NoCourier]
            }
        );
    }

    #[test]
    fn names_are_checked() {
        let ok = handover(HandoverStage::Courier, "  王师傅 ").check().unwrap();
        assert_eq!(ok.to_name, "王师傅");
        assert!(handover(HandoverStage::Courier, "   ").check().is_err());
        assert!(handover(HandoverStage::Courier, &"长".repeat(MAX_NAME + 1)).check().is_err());
        let mut blank_from = handover(HandoverStage::Lab, "李");
        blank_from.from_name = Some("  ".into());
        assert_eq!(blank_from.check().unwrap().from_name, None);
    }

    #[test]
    fn the_four_hour_timer() {
        let l = TransportLimits::default();
        assert_eq!(l, TransportLimits::from_hours(3, 4));
        assert_eq!(transport_timer(None, None, 1_000, &l), None, "an empty box has no timer");
        let t0 = 1_665_010_800_000;
        let at = |minutes: i64| transport_timer(Some(t0), None, t0 + minutes * MINUTE, &l).unwrap();
        assert_eq!((at(0).minutes, at(0).warning, at(0).minutes_left), (0, TransportWarning::None, 240));
        assert_eq!(at(179).warning, TransportWarning::None);
        assert_eq!(at(180).warning, TransportWarning::Soon);
        assert_eq!((at(240).warning, at(240).minutes_left), (TransportWarning::Soon, 0), "4 h is within the limit");
        assert_eq!((at(241).warning, at(241).minutes_left), (TransportWarning::Overdue, -1));
        let late = transport_timer(Some(t0), None, t0 + 240 * MINUTE + 1, &l).unwrap();
        assert_eq!((late.warning, late.minutes, late.minutes_left), (TransportWarning::Overdue, 240, -1));
        // The lab's receipt stops the timer, and keeps a late arrival red.
        let received = transport_timer(Some(t0), Some(t0 + 150 * MINUTE), t0 + 900 * MINUTE, &l).unwrap();
        assert_eq!((received.minutes, received.warning, received.stopped), (150, TransportWarning::None, true));
        let late = transport_timer(Some(t0), Some(t0 + 300 * MINUTE), t0 + 900 * MINUTE, &l).unwrap();
        assert_eq!(late.warning, TransportWarning::Overdue);
        // A device clock ahead of the server does not make time run backwards.
        assert_eq!(transport_timer(Some(t0 + MINUTE), None, t0, &l).unwrap().minutes, 0);
        // Other limits.
        let two = TransportLimits::from_hours(3, 2);
        assert_eq!((two.early, two.limit), (2 * HOUR, 2 * HOUR));
    }

    #[test]
    fn flag_bits_round_trip() {
        let all = TransportFlag::ALL.to_vec();
        assert_eq!(TransportFlag::from_bits(TransportFlag::to_bits(&all)), all);
        assert_eq!(TransportFlag::from_bits(0), vec![]);
        for s in BoxState::ALL {
            assert_eq!(BoxState::parse(s.as_str()), Some(s));
        }
    }
}
