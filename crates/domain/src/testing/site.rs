//! Sampling sites (采样点) and their lanes, including the green channel (绿色通道) for the elderly,
//! the disabled and pregnant women.

use crate::{
    Millis,
    areas::AreaId,
    people::{ELDERLY_AGE, Person},
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub type SiteId = i64;
pub type LaneId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    Normal,
    GreenChannel,
}

impl LaneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LaneKind::Normal => "normal",
            LaneKind::GreenChannel => "green_channel",
        }
    }

    pub fn parse(s: &str) -> Option<LaneKind> {
        [LaneKind::Normal, LaneKind::GreenChannel].into_iter().find(|k| k.as_str() == s)
    }
}

/// Daily opening hours in local time, as minutes after midnight. `closes` may be ≤ `opens` for a
/// site open overnight; equal means around the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    pub opens: u16,
    pub closes: u16,
}

impl OpeningHours {
    pub const ALWAYS: OpeningHours = OpeningHours { opens: 0, closes: 0 };

    /// Parses `"07:00-22:00"`.
    pub fn parse(s: &str) -> Option<OpeningHours> {
        let (a, b) = s.split_once('-')?;
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some((h * 60 + m) % 1440)
        };
        Some(OpeningHours { opens: minutes(a)?, closes: minutes(b)? })
    }

    /// Whether the site is open at `minute` after local midnight.
    pub fn is_open_at(self, minute: u16) -> bool {
        match self.opens.cmp(&self.closes) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => minute >= self.opens && minute < self.closes,
            std::cmp::Ordering::Greater => minute >= self.opens || minute < self.closes,
        }
    }

    pub fn display(self) -> String {
        format!("{:02}:{:02}-{:02}:{:02}", self.opens / 60, self.opens % 60, self.closes / 60, self.closes % 60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLane {
    pub name: String,
    pub kind: LaneKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    pub name: String,
    /// Where the site stands (its village), for scope.
    pub area: AreaId,
    /// The areas whose residents it serves.
    pub serves: Vec<AreaId>,
    pub hours: OpeningHours,
    pub lanes: Vec<NewLane>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lane {
    pub id: LaneId,
    pub site: SiteId,
    pub name: String,
    pub kind: LaneKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub area: AreaId,
    pub area_path: String,
    pub serves: Vec<AreaId>,
    pub hours: OpeningHours,
    pub lanes: Vec<Lane>,
    /// People waiting, as the queue marshal last counted them, and when.
    pub queue_length: u32,
    pub queue_counted_at: Option<Millis>,
    pub created_at: Millis,
}

/// Why a person may use the green channel on `day`, as text keys for the lane page; empty when
/// they may not. Pregnancy and disability are recorded by grid workers under "other needs".
pub fn green_channel_reasons(person: &Person, day: NaiveDate) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if person.age_on(day).is_some_and(|a| a >= ELDERLY_AGE) {
        reasons.push("elderly");
    }
    if person.needs.cannot_walk || person.needs.bedridden {
        reasons.push("disabled");
    }
    if let Some(other) = person.needs.other.as_deref() {
        let other = other.to_lowercase();
        if ["孕", "pregnan"].iter().any(|w| other.contains(w)) {
            reasons.push("pregnant");
        }
        if ["残", "盲", "聋", "disab", "blind", "deaf", "wheelchair", "轮椅"].iter().any(|w| other.contains(w))
            && !reasons.contains(&"disabled")
        {
            reasons.push("disabled");
        }
    }
    reasons
}

/// Estimated wait in minutes for someone joining a queue of `queue_length` people at a site whose
/// lanes together sampled `sampled_recently` people in the last `window_minutes`. `None` when the
/// site has sampled nobody recently, so no honest estimate exists.
pub fn wait_minutes(queue_length: u32, sampled_recently: u64, window_minutes: u32) -> Option<u32> {
    if queue_length == 0 {
        return Some(0);
    }
    if sampled_recently == 0 || window_minutes == 0 {
        return None;
    }
    let per_minute = sampled_recently as f64 / window_minutes as f64;
    Some((queue_length as f64 / per_minute).ceil() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours() {
        let day = OpeningHours::parse("07:00-22:00").unwrap();
        assert!(day.is_open_at(7 * 60) && !day.is_open_at(22 * 60) && !day.is_open_at(6 * 60 + 59));
        let night = OpeningHours::parse("20:00-08:00").unwrap();
        assert!(night.is_open_at(23 * 60) && night.is_open_at(60) && !night.is_open_at(12 * 60));
        assert!(OpeningHours::parse("00:00-24:00").unwrap().is_open_at(5));
        assert_eq!(OpeningHours::parse("25:00-01:00"), None);
        assert_eq!(day.display(), "07:00-22:00");
    }

    #[test]
    fn waits() {
        assert_eq!(wait_minutes(0, 0, 15), Some(0));
        assert_eq!(wait_minutes(30, 0, 15), None);
        assert_eq!(wait_minutes(30, 45, 15), Some(10));
    }
}
