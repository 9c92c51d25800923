//! Which person goes into which tube, the idempotency keys, and the request bodies.
//!
//! Item `i` of a run is person `first + i mod n` in tube `PREFIX-(i / 10)`: ten consecutive items
//! fill one tube with ten different people, so every (person, tube) pair of a run is unique and
//! every tube holds exactly [`POOL_SIZE`] people. A person comes back (in another tube) only after
//! `n` items. Each such pass over the people goes to the next of the plan's rounds, as a town's
//! successive rounds do; once the rounds are used up they are used again, and the server flags a
//! person's second scan in a round as a duplicate and still stores it.

use crate::PersonRange;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use uuid::Uuid;

/// People per tube (the round's pool size).
pub const POOL_SIZE: u64 = 10;

/// The round, site and lane every registration of a run goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub round: i64,
    pub site: i64,
    pub lane: i64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    /// The rounds the passes over the people go to, in turn (the target's round alone, or more).
    pub rounds: Vec<i64>,
    pub persons: PersonRange,
    /// Tube codes are `PREFIX-NNNNNNNNN`; the prefix is unique per run.
    pub tube_prefix: String,
    /// `device_time` sent with every registration (RFC 3339).
    pub device_time: String,
}

/// One registration to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub index: u64,
    pub round: i64,
    pub person: i64,
    pub tube: String,
}

impl Plan {
    pub fn item(&self, index: u64) -> Item {
        let person = self.persons.first + (index % self.persons.len()) as i64;
        // By tube, so that a tube's ten people are always in one round.
        let tube = index / POOL_SIZE;
        let pass = tube / (self.persons.len() / POOL_SIZE).max(1);
        let round = match self.rounds.len() {
            0 => self.target.round,
            n => self.rounds[(pass % n as u64) as usize],
        };
        Item { index, round, person, tube: tube_code(&self.tube_prefix, tube) }
    }

    /// The single-registration body: `{"round","site","lane","tube","person":{"person_id"},"device_time"}`.
    pub fn body(&self, item: &Item) -> String {
        let mut out = String::with_capacity(160);
        self.write_fields(&mut out, item);
        out.push('}');
        out
    }

    /// The batch body: `{"items":[{"key", …the same fields…}, …]}`.
    pub fn batch_body(&self, items: &[(Uuid, Item)]) -> String {
        let mut out = String::with_capacity(16 + items.len() * 200);
        out.push_str(r#"{"items":["#);
        for (n, (key, item)) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            let _ = write!(out, r#"{{"key":"{key}","#);
            let mut fields = String::with_capacity(160);
            self.write_fields(&mut fields, item);
            out.push_str(&fields[1..]);
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    fn write_fields(&self, out: &mut String, item: &Item) {
        // Tube codes and the device time hold no characters that need escaping in JSON.
        let Target { site, lane, .. } = self.target;
        let _ = write!(
            out,
            r#"{{"round":{},"site":{site},"lane":{lane},"tube":"{}","person":{{"person_id":{}}},"device_time":"{}""#,
            item.round, item.tube, item.person, self.device_time
        );
    }
}

/// `PREFIX-000000123`: upper-case letters, digits and '-', 6 to 24 characters for a prefix of up
/// to 14.
pub fn tube_code(prefix: &str, tube: u64) -> String {
    format!("{prefix}-{tube:09}")
}

/// A tube prefix unique to this run: `L` and the start time in base 36 (milliseconds), and a
/// random letter against two runs starting in the same millisecond. 10 characters.
pub fn run_prefix(lead: char, start_ms: u64, rng: &mut impl Rng) -> String {
    let mut digits = Vec::new();
    let mut n = start_ms;
    while n > 0 {
        digits.push(char::from_digit((n % 36) as u32, 36).expect("base 36").to_ascii_uppercase());
        n /= 36;
    }
    digits.reverse();
    let mut out = String::new();
    out.push(lead);
    out.extend(digits);
    out.push((b'A' + rng.random_range(0..26u8)) as char);
    out
}

/// UUIDv7 idempotency keys: the current time in milliseconds and 74 random bits from a seeded
/// generator, so a run's keys sort in the order they were made.
pub struct Keys {
    rng: ChaCha8Rng,
}

impl Keys {
    pub fn new(seed: u64) -> Keys {
        Keys { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    pub fn fresh(&mut self) -> Uuid {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
        let mut random = [0u8; 10];
        self.rng.fill(&mut random);
        uuid::Builder::from_unix_timestamp_millis(ms as u64, &random).into_uuid()
    }
}

/// Now, as RFC 3339 in UTC+8 (a sampling site's clock).
pub fn device_time_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let local = now + 8 * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn plan() -> Plan {
        Plan {
            target: Target { round: 7, site: 3, lane: 5 },
            rounds: vec![7],
            persons: PersonRange { first: 1, last: 25 },
            tube_prefix: "LABCDEFGHX".into(),
            device_time: "2022-10-06T08:00:00+08:00".into(),
        }
    }

    #[test]
    fn pairs_are_unique_and_every_tube_holds_ten_different_people() {
        let plan = plan();
        let mut pairs = HashSet::new();
        let mut tubes: HashMap<String, HashSet<i64>> = HashMap::new();
        for i in 0..1000 {
            let item = plan.item(i);
            assert!((1..=25).contains(&item.person));
            assert!(pairs.insert((item.person, item.tube.clone())));
            tubes.entry(item.tube).or_default().insert(item.person);
        }
        assert_eq!(tubes.len(), 100);
        assert!(tubes.values().all(|people| people.len() == 10));
    }

    #[test]
    fn each_pass_over_the_people_goes_to_the_next_round() {
        let plan = Plan { rounds: vec![7, 8, 9], persons: PersonRange { first: 1, last: 20 }, ..plan() };
        let mut seen: HashMap<i64, HashSet<i64>> = HashMap::new();
        for i in 0..60 {
            let item = plan.item(i);
            assert!(seen.entry(item.round).or_default().insert(item.person), "{item:?} twice in its round");
        }
        assert_eq!(seen.len(), 3);
        assert!(seen.values().all(|people| people.len() == 20));
        assert_eq!(plan.item(60).round, 7, "rounds are used again once used up");
        let mut tubes: HashMap<String, HashSet<i64>> = HashMap::new();
        for i in 0..1000 {
            let item = plan.item(i);
            tubes.entry(item.tube).or_default().insert(item.round);
        }
        assert!(tubes.values().all(|rounds| rounds.len() == 1), "a tube's people share one round");
    }

    #[test]
    fn tube_codes_fit_the_default_format() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let prefix = run_prefix('L', 1_795_000_000_000, &mut rng);
        assert_eq!(prefix.len(), 10);
        let code = tube_code(&prefix, 999_999_999);
        assert!((6..=24).contains(&code.len()), "{code}");
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'), "{code}");
    }

    #[test]
    fn bodies_are_the_documented_json() {
        let plan = plan();
        let item = plan.item(12);
        let single: serde_json::Value = serde_json::from_str(&plan.body(&item)).unwrap();
        assert_eq!(
            single,
            serde_json::json!({"round":7,"site":3,"lane":5,"tube":"LABCDEFGHX-000000001",
                "person":{"person_id":13},"device_time":"2022-10-06T08:00:00+08:00"})
        );
        let mut keys = Keys::new(3);
        let (k1, k2) = (keys.fresh(), keys.fresh());
        assert_ne!(k1, k2);
        assert_eq!(k1.get_version_num(), 7);
        let batch: serde_json::Value =
            serde_json::from_str(&plan.batch_body(&[(k1, plan.item(0)), (k2, plan.item(1))])).unwrap();
        let items = batch["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["key"], k2.to_string());
        assert_eq!(items[1]["person"]["person_id"], 2);
        assert_eq!(items[1]["round"], 7);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_271), (2022, 10, 6));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = device_time_now();
        assert_eq!(t.len(), 25, "{t}");
        assert!(t.ends_with("+08:00"));
    }
}
