//! Generates the demo town with the default seed and prints how long it took and what it holds.
//!
//! `cargo run --release -p bulwark-demo --example summary [seed]`

use bulwark_demo::{DEFAULT_SEED, generate, outbreak_day};
use bulwark_domain::{areas::AreaKind, people::age_on, workforce::Team};
use std::time::{Duration, Instant};

fn main() {
    let seed = std::env::args().nth(1).map_or(DEFAULT_SEED, |s| s.parse().expect("a number"));
    let today = outbreak_day();
    let mut fastest = Duration::MAX;
    let mut town = None;
    for _ in 0..3 {
        let started = Instant::now();
        let t = generate(seed, today);
        fastest = fastest.min(started.elapsed());
        town = Some(t);
    }
    let t = town.expect("generated");
    println!("seed {seed}, today {today}: generated in {fastest:?} (fastest of 3)");
    for kind in AreaKind::ALL {
        println!("  {:<10} {}", kind.as_str(), t.areas_of_kind(kind).count());
    }
    let n = t.residents.len();
    let share = |lo: u32, hi: u32| {
        let c = t.residents.iter().filter(|r| (lo..=hi).contains(&age_on(r.birth_date, today))).count();
        100.0 * c as f64 / n as f64
    };
    println!(
        "  residents  {n}: 0-14 {:.2} %, 15-59 {:.2} %, 60+ {:.2} %, 65+ {:.2} %",
        share(0, 14),
        share(15, 59),
        share(60, 200),
        share(65, 200)
    );
    let count = |f: &dyn Fn(&bulwark_demo::DemoResident) -> bool| t.residents.iter().filter(|r| f(r)).count();
    println!(
        "  phones {}, cannot walk {}, bedridden {}, other needs {}",
        count(&|r| r.phone.is_some()),
        count(&|r| r.needs.cannot_walk),
        count(&|r| r.needs.bedridden),
        count(&|r| r.needs.other.is_some())
    );
    for team in [Team::Cadre, Team::GridWorker, Team::Volunteer] {
        println!("  {:<11} {}", team.as_str(), t.staff_of_team(team).count());
    }
    for a in &t.accounts {
        println!("  account {:<14} {:<20} {:<18} {}", a.username, a.role_name, a.scope, a.display_name);
    }
}
