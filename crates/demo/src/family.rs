//! Household composition and ages.
//!
//! A household is drawn from a small set of shapes seen in rural Guangdong: people living alone,
//! elderly couples whose children work in the cities, couples with children, three-generation
//! households, and grandparents raising grandchildren (留守儿童). Ages within a household are tied
//! together (a mother is 22–34 years older than her eldest child, grandparents 23–34 years older
//! than the parent they live with), and surnames follow the father's line, while wives keep their
//! own.
//!
//! The town as a whole must match Enping's 7th-census age structure. The shape weights are tuned
//! so that households drawn blindly already land within about half a point of the census shares.
//! To remove the rest, the household size is drawn first, then two candidate households of that
//! size, and the one that brings the running age-band shares closer to the census is kept
//! ([`AgeBalancer`]). Household sizes keep their own distribution while the age structure
//! converges on the target.

use crate::dice::{Weights, offset, range, ratio};
use bulwark_domain::people::Sex;
use rand_chacha::ChaCha8Rng;

/// Enping, 7th census (2020-11-01), in basis points: 0–14, 15–59, 60–64, 65+.
/// (0–14 16.73 %, 15–59 63.69 %, 60+ 19.58 % of which 65+ 13.85 %.)
pub const CENSUS_BANDS_BP: [i64; 4] = [1673, 6369, 573, 1385];

/// The census band (index into [`CENSUS_BANDS_BP`]) of an age.
pub fn band(age: u32) -> usize {
    match age {
        0..=14 => 0,
        15..=59 => 1,
        60..=64 => 2,
        _ => 3,
    }
}

/// Weights of household sizes 1 to 6 (mean about 3.0 people).
const SIZE_WEIGHTS: [u32; 6] = [16, 26, 22, 18, 11, 7];

/// How many candidate households are drawn per household kept.
const CANDIDATES: usize = 2;

/// A member of a household before they become a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub age: u32,
    pub sex: Sex,
    /// Index into [`crate::names::SURNAMES`].
    pub surname: usize,
}

#[derive(Debug, Clone, Copy)]
enum Ages {
    /// Uniform in an inclusive range.
    Range(u32, u32),
    /// Drawn from the elderly age distribution.
    Elder,
}

#[derive(Debug, Clone, Copy)]
enum Middle {
    /// No parent generation: grandparents raising grandchildren.
    None,
    /// One adult (living alone, or a single parent).
    Single,
    Couple,
}

/// The shape of a household.
#[derive(Debug, Clone, Copy)]
struct Shape {
    grandparents: u8,
    middle: Middle,
    /// The age of the (head of the) middle generation when there are no children to derive it from.
    head: Option<Ages>,
    /// Children aged 0–14 (a few may be older when drawn for siblings).
    minors: u8,
    /// Grown children still living at home, and the range of their ages.
    adult_children: u8,
    adult_range: (u32, u32),
}

impl Shape {
    const fn new(grandparents: u8, middle: Middle, minors: u8) -> Shape {
        Shape { grandparents, middle, head: None, minors, adult_children: 0, adult_range: (0, 0) }
    }
    const fn head(mut self, ages: Ages) -> Shape {
        self.head = Some(ages);
        self
    }
    const fn adults(mut self, n: u8, lo: u32, hi: u32) -> Shape {
        self.adult_children = n;
        self.adult_range = (lo, hi);
        self
    }
    fn size(&self) -> usize {
        let middle = match self.middle {
            Middle::None => 0,
            Middle::Single => 1,
            Middle::Couple => 2,
        };
        usize::from(self.grandparents) + middle + usize::from(self.minors) + usize::from(self.adult_children)
    }
}

use Middle::{Couple, Single};

/// Household shapes by size, with weights.
const SHAPES: [&[(u32, Shape)]; 6] = [
    &[(32, Shape::new(0, Single, 0).head(Ages::Elder)), (68, Shape::new(0, Single, 0).head(Ages::Range(22, 59)))],
    &[
        (19, Shape::new(0, Couple, 0).head(Ages::Elder)),
        (39, Shape::new(0, Couple, 0).head(Ages::Range(40, 59))),
        (15, Shape::new(0, Couple, 0).head(Ages::Range(22, 39))),
        (6, Shape::new(1, Middle::None, 1)),
        (5, Shape::new(0, Single, 1)),
        (8, Shape::new(0, Single, 0).adults(1, 28, 45)),
        (12, Shape::new(0, Single, 0).adults(1, 16, 30)),
    ],
    &[
        (30, Shape::new(0, Couple, 1)),
        (15, Shape::new(0, Couple, 0).adults(1, 25, 45)),
        (25, Shape::new(0, Couple, 0).adults(1, 15, 24)),
        (5, Shape::new(1, Couple, 0).head(Ages::Range(30, 55))),
        (6, Shape::new(2, Middle::None, 1)),
        (3, Shape::new(0, Single, 2)),
    ],
    &[
        (24, Shape::new(0, Couple, 2)),
        (15, Shape::new(1, Couple, 1)),
        (5, Shape::new(2, Middle::None, 2)),
        (15, Shape::new(0, Couple, 1).adults(1, 15, 24)),
        (15, Shape::new(2, Couple, 0).head(Ages::Range(22, 35))),
        (26, Shape::new(0, Couple, 0).adults(2, 15, 30)),
    ],
    &[
        (35, Shape::new(2, Couple, 1)),
        (5, Shape::new(0, Couple, 3)),
        (20, Shape::new(1, Couple, 2)),
        (10, Shape::new(0, Couple, 2).adults(1, 15, 22)),
        (15, Shape::new(2, Couple, 0).adults(1, 15, 28)),
        (15, Shape::new(1, Couple, 0).adults(2, 15, 30)),
    ],
    &[
        (32, Shape::new(2, Couple, 2)),
        (10, Shape::new(1, Couple, 3)),
        (25, Shape::new(2, Couple, 1).adults(1, 15, 22)),
        (33, Shape::new(2, Couple, 0).adults(2, 15, 30)),
    ],
];

/// Per-mille weights of elderly heads of household by age band 60–64, 65–69, …, 85–89, 90+:
/// 70.7 % are 65+ (13.85 / 19.58) and about 14 % 80+. Grandparents' ages follow from their
/// children's instead; in the whole town about 16 % of the 60+ are 80+.
const ELDER_BANDS: [u32; 7] = [293, 265, 185, 120, 80, 40, 17];

/// Weights of ages 0–14: slightly fewer babies (births fell after 2017).
const CHILD_AGES: [u32; 15] = [5, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];

/// The weight tables, prepared once.
#[derive(Debug)]
struct Tables {
    sizes: Weights,
    shapes: Vec<Weights>,
    elder: Weights,
    child: Weights,
}

/// Keeps the running count of people per census band and picks, among candidate households, the
/// one that moves the shares closest to the census.
#[derive(Debug)]
pub struct AgeBalancer {
    counts: [i64; 4],
    total: i64,
    tables: Tables,
}

impl Default for AgeBalancer {
    fn default() -> Self {
        let shapes = SHAPES.iter().map(|s| Weights::new(&s.iter().map(|(w, _)| *w).collect::<Vec<_>>())).collect();
        let tables = Tables {
            sizes: Weights::new(&SIZE_WEIGHTS),
            shapes,
            elder: Weights::new(&ELDER_BANDS),
            child: Weights::new(&CHILD_AGES),
        };
        AgeBalancer { counts: [0; 4], total: 0, tables }
    }
}

impl AgeBalancer {
    /// Squared distance from the census, in (basis points × people)², after adding `members`.
    fn distance_with(&self, members: &[Member]) -> i128 {
        let mut counts = self.counts;
        for m in members {
            counts[band(m.age)] += 1;
        }
        let total = self.total + members.len() as i64;
        counts
            .iter()
            .zip(CENSUS_BANDS_BP)
            .map(|(&c, bp)| {
                let diff = i128::from(c * 10_000 - bp * total);
                diff * diff
            })
            .sum()
    }

    fn add(&mut self, members: &[Member]) {
        for m in members {
            self.counts[band(m.age)] += 1;
        }
        self.total += members.len() as i64;
    }

    /// Draws the next household: size first, then the best of a few candidates of that size.
    pub fn household(&mut self, rng: &mut ChaCha8Rng, surnames: &Weights) -> Vec<Member> {
        let size = self.tables.sizes.pick(rng);
        let mut best: Option<(i128, Vec<Member>)> = None;
        for _ in 0..CANDIDATES {
            let shape = SHAPES[size][self.tables.shapes[size].pick(rng)].1;
            let members = build(rng, &self.tables, &shape, surnames);
            let distance = self.distance_with(&members);
            if best.as_ref().is_none_or(|(d, _)| distance < *d) {
                best = Some((distance, members));
            }
        }
        let (_, members) = best.expect("at least one candidate");
        self.add(&members);
        members
    }
}

fn shifted(age: u32, by: i32, min: u32, max: u32) -> u32 {
    (age as i32 + by).clamp(min as i32, max as i32) as u32
}

/// Age of an elderly person, from [`ELDER_BANDS`].
fn elder_age(rng: &mut ChaCha8Rng, t: &Tables) -> u32 {
    let b = t.elder.pick(rng) as u32;
    if b < 6 {
        60 + 5 * b + range(rng, 0, 4)
    } else {
        // 90 and over, thinning out fast.
        90 + range(rng, 0, 9).min(range(rng, 0, 9))
    }
}

fn ages(rng: &mut ChaCha8Rng, t: &Tables, ages: Ages) -> u32 {
    match ages {
        Ages::Range(lo, hi) => range(rng, lo, hi),
        Ages::Elder => elder_age(rng, t),
    }
}

fn coin(rng: &mut ChaCha8Rng, percent: u32) -> bool {
    ratio(rng, percent, 100)
}

/// A surname for someone marrying into the family: re-drawn once if it equals the family's (same-
/// surname marriages were traditionally avoided, not forbidden).
fn spouse_surname(rng: &mut ChaCha8Rng, surnames: &Weights, family: usize) -> usize {
    let s = surnames.pick(rng);
    if s == family { surnames.pick(rng) } else { s }
}

fn build(rng: &mut ChaCha8Rng, t: &Tables, shape: &Shape, surnames: &Weights) -> Vec<Member> {
    let family = surnames.pick(rng);
    let mut kids: Vec<u32> = (0..shape.minors).map(|_| t.child.pick(rng) as u32).collect();
    kids.extend((0..shape.adult_children).map(|_| range(rng, shape.adult_range.0, shape.adult_range.1)));
    kids.sort_unstable_by(|a, b| b.cmp(a));
    let eldest = kids.first().copied();

    let mut members = Vec::with_capacity(shape.size());
    // The middle generation; `anchor` is the age of the parent the grandparents descend from.
    let anchor = match (shape.middle, shape.head, eldest) {
        (Middle::None, _, Some(eldest)) => eldest + range(rng, 22, 36),
        (Middle::None, _, None) => unreachable!("grandparents alone are an elderly couple"),
        (Single, head, eldest) => {
            let alone = eldest.is_none();
            let age = match (head, eldest) {
                (Some(h), _) => ages(rng, t, h),
                (None, Some(e)) => e + range(rng, 22, 36),
                (None, None) => unreachable!("a single adult needs an age"),
            };
            let female = match (alone, age) {
                (true, 70..) => 62,
                (true, _) => 45,
                (false, _) => 60,
            };
            let sex = if coin(rng, female) { Sex::Female } else { Sex::Male };
            let surname = if sex == Sex::Male { family } else { spouse_surname(rng, surnames, family) };
            members.push(Member { age: age.min(99), sex, surname });
            age
        }
        (Couple, head, eldest) => {
            let (husband, wife) = match (head, eldest) {
                (Some(h), _) => {
                    let husband = ages(rng, t, h);
                    (husband, shifted(husband, -offset(rng, -2, 5), 20, 99))
                }
                (None, Some(e)) => {
                    let wife = e + range(rng, 22, 34);
                    (shifted(wife, offset(rng, -2, 6), 20, 99), wife)
                }
                (None, None) => unreachable!("a couple needs an age"),
            };
            members.push(Member { age: husband.min(99), sex: Sex::Male, surname: family });
            members.push(Member {
                age: wife.min(99),
                sex: Sex::Female,
                surname: spouse_surname(rng, surnames, family),
            });
            husband
        }
    };

    for age in kids {
        let sex = if coin(rng, 51) { Sex::Male } else { Sex::Female };
        members.push(Member { age, sex, surname: family });
    }

    match shape.grandparents {
        0 => {}
        n => {
            // Usually the father's parents; a grandmother outlives her husband more often.
            let grandfather = shifted(anchor, offset(rng, 23, 34), 40, 99);
            let grandmother = shifted(grandfather, -offset(rng, -2, 5), 40, 99);
            let paternal = coin(rng, 85);
            let grandfather_surname = if paternal { family } else { spouse_surname(rng, surnames, family) };
            let grandmother_surname = spouse_surname(rng, surnames, grandfather_surname);
            if n >= 2 || !coin(rng, 65) {
                members.push(Member { age: grandfather, sex: Sex::Male, surname: grandfather_surname });
            }
            if n >= 2 || members.len() < shape.size() {
                members.push(Member { age: grandmother, sex: Sex::Female, surname: grandmother_surname });
            }
        }
    }
    debug_assert_eq!(members.len(), shape.size());
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::SURNAMES;
    use rand::SeedableRng;

    #[test]
    fn shapes_have_their_size() {
        for (i, shapes) in SHAPES.iter().enumerate() {
            for (_, shape) in *shapes {
                assert_eq!(shape.size(), i + 1, "{shape:?}");
            }
        }
    }

    #[test]
    fn every_shape_builds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let surnames = Weights::new(&SURNAMES.iter().map(|(_, w)| *w).collect::<Vec<_>>());
        let tables = AgeBalancer::default().tables;
        for shapes in SHAPES {
            for (_, shape) in shapes {
                for _ in 0..200 {
                    let members = build(&mut rng, &tables, shape, &surnames);
                    assert!(members.iter().all(|m| m.surname < SURNAMES.len()));
                    assert_eq!(members.len(), shape.size());
                    assert!(members.iter().all(|m| m.age <= 99));
                }
            }
        }
    }

    #[test]
    fn census_bands_sum_to_one() {
        assert_eq!(CENSUS_BANDS_BP.iter().sum::<i64>(), 10_000);
        assert_eq!((band(14), band(15), band(59), band(60), band(64), band(65)), (0, 1, 1, 2, 2, 3));
    }
}
