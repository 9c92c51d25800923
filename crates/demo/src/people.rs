//! Per-person details: birth dates, resident ID numbers, mobile numbers and special needs.

use crate::dice::{below, pick, ratio};
use bulwark_domain::people::{IdNumber, Phone, Sex, SpecialNeeds, age_on};
use chrono::{Datelike, Days, Months, NaiveDate};
use rand_chacha::ChaCha8Rng;

/// GB/T 2260 address code of Enping city, used by every generated ID number.
pub const ADDRESS_CODE: &str = "440785";

/// Mobile prefixes of the three carriers (all of the form 1[3-9]x).
const MOBILE_PREFIXES: [u64; 30] = [
    134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 178, 182, 183, 187, 188, 198, // China Mobile
    130, 131, 132, 155, 156, 166, 185, 186, // China Unicom
    133, 180, 189, // China Telecom
];

/// A set of non-zero `u64` keys: open addressing with linear probing, grown at half load. Plain
/// index loops keep it fast in unoptimised builds, where `HashSet` costs a tenth of the run.
#[derive(Debug)]
struct KeySet {
    slots: Vec<u64>,
    len: usize,
}

impl Default for KeySet {
    fn default() -> Self {
        KeySet { slots: vec![0; 1 << 16], len: 0 }
    }
}

impl KeySet {
    /// Adds `key` (never 0); returns whether it was new.
    fn insert(&mut self, key: u64) -> bool {
        debug_assert!(key != 0);
        if 2 * (self.len + 1) > self.slots.len() {
            let grown = vec![0; 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, grown);
            self.len = 0;
            for k in old {
                if k != 0 {
                    self.insert(k);
                }
            }
        }
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: the top bits of key × 2⁶⁴/φ.
        let mut i = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = key;
                    self.len += 1;
                    return true;
                }
                k if k == key => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// A birth date at which a person is exactly `age` on `today`, uniform over that year of life.
pub fn birth_date(rng: &mut ChaCha8Rng, age: u32, today: NaiveDate) -> NaiveDate {
    let latest = today.checked_sub_months(Months::new(12 * age)).expect("date in range");
    let earliest_excluded = today.checked_sub_months(Months::new(12 * (age + 1))).expect("date in range");
    let span = (latest - earliest_excluded).num_days() as u32;
    let birth = latest - Days::new(u64::from(below(rng, span)));
    debug_assert_eq!(age_on(birth, today), age);
    birth
}

/// Hands out ID numbers and phone numbers that are unique across the town.
#[derive(Debug, Default)]
pub struct Registry {
    /// Days since the Common Era × 1000 + sequence.
    ids: KeySet,
    phones: KeySet,
}

impl Registry {
    /// `440785` + `YYYYMMDD` + a 3-digit sequence (odd for men, even for women) + check character.
    pub fn id_number(&mut self, rng: &mut ChaCha8Rng, birth: NaiveDate, sex: Sex) -> IdNumber {
        loop {
            // 001–999 with the parity of the sex.
            let half = below(rng, 500);
            let seq = match sex {
                Sex::Male => 2 * half + 1,
                Sex::Female => 2 * half.max(1),
            };
            let day = u64::try_from(birth.num_days_from_ce()).expect("born in the Common Era");
            if self.ids.insert(day * 1000 + u64::from(seq)) {
                let (y, m, d) = (birth.year(), birth.month(), birth.day());
                return IdNumber::from_body(&format!("{ADDRESS_CODE}{y:04}{m:02}{d:02}{seq:03}"));
            }
        }
    }

    /// A unique mobile number for most adults, fewer of the very old, none for children under 12.
    pub fn phone(&mut self, rng: &mut ChaCha8Rng, age: u32) -> Option<Phone> {
        let per_mille = match age {
            0..=11 => 0,
            12..=14 => 250,
            15..=17 => 750,
            18..=69 => 950,
            70..=79 => 750,
            _ => 450,
        };
        if !ratio(rng, per_mille, 1000) {
            return None;
        }
        loop {
            let number = pick(rng, &MOBILE_PREFIXES) * 100_000_000 + u64::from(below(rng, 100_000_000));
            if self.phones.insert(number) {
                return Some(Phone::parse(&number.to_string()).expect("11-digit mobile"));
            }
        }
    }
}

/// Special needs at rates rising with age: cannot walk ≈ 3 % of the 60+ and ≈ 10 % of the 80+;
/// bedridden ≈ 1 % of the 60+ (the bedridden also count as unable to walk); and a few other
/// needs a grid worker must know about.
pub fn special_needs(rng: &mut ChaCha8Rng, age: u32, sex: Sex) -> SpecialNeeds {
    let (cannot_walk, bedridden) = match age {
        0..=59 => (3, 1),
        60..=69 => (12, 3),
        70..=79 => (25, 7),
        80..=89 => (85, 30),
        _ => (150, 60),
    };
    let r = below(rng, 1000);
    let mut needs = SpecialNeeds { cannot_walk: r < cannot_walk, bedridden: r < bedridden, other: None };
    // At most one other need per person, from a single draw over the cumulative rates.
    let others: [(&str, u32); 5] = [
        ("孕妇", if sex == Sex::Female && (20..=40).contains(&age) { 45 } else { 0 }),
        ("视力障碍", if age >= 60 { 12 } else { 2 }),
        ("听力障碍", if age >= 70 { 15 } else { 1 }),
        ("血液透析", if age >= 40 { 2 } else { 0 }),
        ("智力残疾", if age >= 5 { 2 } else { 0 }),
    ];
    let mut r = below(rng, 1000);
    for (what, per_mille) in others {
        if r < per_mille {
            needs.other = Some(what.to_string());
            break;
        }
        r -= per_mille;
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn birth_dates_give_the_age() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for today in [NaiveDate::from_ymd_opt(2022, 10, 6).unwrap(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()] {
            for age in 0..100 {
                for _ in 0..50 {
                    let birth = birth_date(&mut rng, age, today);
                    assert_eq!(age_on(birth, today), age, "{birth} {today}");
                }
            }
        }
    }

    #[test]
    fn key_set_grows_and_dedups() {
        let mut set = KeySet::default();
        for k in 1..200_000u64 {
            assert!(set.insert(k * 7));
        }
        for k in 1..200_000u64 {
            assert!(!set.insert(k * 7));
        }
        assert_eq!(set.len, 199_999);
    }

    #[test]
    fn ids_encode_birth_and_sex() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut reg = Registry::default();
        let birth = NaiveDate::from_ymd_opt(1961, 3, 9).unwrap();
        for sex in [Sex::Male, Sex::Female] {
            let id = reg.id_number(&mut rng, birth, sex);
            assert_eq!((id.birth_date(), id.sex(), id.address_code()), (birth, sex, ADDRESS_CODE));
            assert_ne!(&id.as_str()[14..17], "000");
        }
    }
}
