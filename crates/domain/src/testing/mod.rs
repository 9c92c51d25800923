//! Mass testing (全员核酸): rounds over areas, sites and their lanes, pooled tubes, registrations
//! at the lane, lab results and what an abnormal pool sets in motion.
//!
//! The rule that shapes everything here: **a physical fact is never rejected**. A swab that was
//! taken exists, so a registration is stored even when it breaks an expectation (a tube fuller
//! than its pool size, a person in two tubes of one round, a scan after the tube was sealed or
//! after its result came in); it is stored with [`RegistrationFlag`]s for review instead.

mod doorknock;
mod lab;
mod pool;
mod registration;
mod round;
mod site;
mod transport;
mod tube;

pub use doorknock::{DoorKnock, DoorKnockOutcome};
pub use lab::{LabOutcome, LabResult, ResultArrival, ReviewReason};
pub use pool::{PoolCaseState, PoolTransitionError, deciding_retest, needs_retest};
pub use registration::{
    NewRegistration, PersonRef, Registration, RegistrationFlag, RegistrationId, ScanDecision, TubeSnapshot, decide,
};
pub use round::{NewRound, PoolOverride, PoolSize, Round, RoundError, RoundId};
pub use site::{
    Lane, LaneId, LaneKind, NewLane, NewSite, OpeningHours, Site, SiteId, green_channel_reasons, wait_minutes,
};
pub use transport::{
    BoxCode, BoxCodeError, BoxId, BoxState, Handover, HandoverDecision, HandoverId, HandoverStage, NewBox, NewHandover,
    PackDecision, PackedTube, SealDecision, TransportBox, TransportError, TransportFlag, TransportLimits,
    TransportTimer, TransportWarning, TubeHolder, decide_handover, decide_pack, decide_seal, transport_timer,
};
pub use tube::{TubeCode, TubeCodeError, TubeFormat, TubeId, TubeState};
