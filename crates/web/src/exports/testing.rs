//! A round's lists as sheets: coverage, the door-knock list, abnormal pools with their members,
//! home visits. Grids are named (not numbered); a person's grid is looked up once per list.

use super::{Cell, Export, col, text_col};
use crate::{
    api::testing::{held, visit_reason},
    views::AreaNames,
};
use bulwark_app::AppResult;
use bulwark_store::{
    Store,
    testing::{AbnormalPool, CoverageRow, HomeVisit, Untested},
};
use std::collections::HashMap;

/// The area and its children: code, name, kind, residents, excluded (away or sampled
/// elsewhere), target, sampled, percent.
pub(crate) fn coverage(x: &mut Export, rows: &[CoverageRow]) -> AppResult<()> {
    let columns = [
        text_col("export-area-code", 18.0),
        col("coverage-area", 20.0),
        col("export-area-kind", 8.0),
        col("residents", 9.0),
        col("export-excluded", 9.0),
        col("coverage-target", 9.0),
        col("coverage-sampled", 9.0),
        col("coverage-percent", 9.0),
    ];
    let tr = x.tr();
    let mut sheet = x.book.sheet("export-sheet-coverage", "", &columns)?;
    for c in rows {
        let target = c.target();
        sheet.row(vec![
            Cell::Code(c.area.code.as_str().to_string()),
            Cell::text(c.area.name.clone()),
            Cell::text(tr.get(&format!("kind-{}", c.area.kind.as_str()))),
            Cell::count(c.residents),
            Cell::count(c.excluded),
            Cell::count(target),
            Cell::count(c.sampled),
            Cell::share(c.sampled, target),
        ])?;
    }
    sheet.finish()
}

/// The door-knock list: grid, name, ID number, phone, address, cannot walk, the last door-knock's
/// outcome and note.
pub(crate) async fn untested(x: &mut Export, store: &dyn Store, list: &[Untested]) -> AppResult<()> {
    let columns = [
        col("pools-grid", 14.0),
        col("name", 12.0),
        text_col("id-number", 21.0),
        text_col("phone", 14.0),
        col("address", 30.0),
        col("cannot-walk", 9.0),
        col("export-knock", 14.0),
        col("export-knock-note", 30.0),
    ];
    let tr = x.tr();
    let mut grids = AreaNames::default();
    let mut rows = Vec::with_capacity(list.len());
    for u in list {
        let p = &u.person;
        rows.push(vec![
            Cell::text(grids.name(store, p.grid).await?),
            Cell::text(p.name.clone()),
            x.numbers.document(p),
            x.numbers.phone(p),
            Cell::maybe_text(p.address.clone()),
            if p.needs.needs_home_visit() { Cell::text(tr.get("cannot-walk")) } else { Cell::Empty },
            Cell::maybe_text(u.knock.as_ref().map(|k| tr.get(&format!("knock-{}", k.outcome.as_str())))),
            Cell::maybe_text(u.knock.as_ref().and_then(|k| k.note.clone())),
        ]);
    }
    let mut sheet = x.book.sheet("export-sheet-untested", "", &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}

/// One row per member of each abnormal pool: the tube, its result and state, the site; the
/// member's name, ID number, phone, address and grid, when she was registered, whether she is
/// held, her single-tube re-test.
pub(crate) async fn abnormal_pools(x: &mut Export, store: &dyn Store, pools: &[AbnormalPool]) -> AppResult<()> {
    let columns = [
        text_col("export-tube", 14.0),
        col("export-result", 8.0),
        col("export-resulted-at", 17.0),
        col("export-pool-state", 10.0),
        col("round-site", 18.0),
        col("name", 12.0),
        text_col("id-number", 21.0),
        text_col("phone", 14.0),
        col("address", 30.0),
        col("pools-grid", 14.0),
        col("export-registered-at", 17.0),
        col("pools-hold", 9.0),
        text_col("export-retest-tube", 14.0),
        col("export-retest-result", 10.0),
    ];
    let tr = x.tr();
    let mut grids = AreaNames::default();
    let mut sites: HashMap<i64, String> = HashMap::new();
    let mut rows = Vec::new();
    for pool in pools {
        if let std::collections::hash_map::Entry::Vacant(entry) = sites.entry(pool.tube.site) {
            entry.insert(store.site(pool.tube.site).await?.map(|s| s.name).unwrap_or_default());
        }
        let result = tr.get(&format!("pools-result-{}", pool.tube.outcome.map_or("abnormal", |o| o.as_str())));
        let state = tr.get(&format!("pools-state-{}", pool.state.as_str()));
        for m in &pool.members {
            let p = &m.person;
            let hold = if held(pool.state, &m.retest) { "pools-hold-on" } else { "pools-hold-off" };
            rows.push(vec![
                Cell::Code(pool.tube.code.to_string()),
                Cell::text(result.clone()),
                Cell::time(pool.tube.resulted_at),
                Cell::text(state.clone()),
                Cell::text(sites[&pool.tube.site].clone()),
                Cell::text(p.name.clone()),
                x.numbers.document(p),
                x.numbers.phone(p),
                Cell::maybe_text(p.address.clone()),
                Cell::text(grids.name(store, p.grid).await?),
                Cell::Time(m.registered_at),
                Cell::text(tr.get(hold)),
                Cell::code(m.retest.as_ref().map(|(t, _)| t.to_string())),
                Cell::maybe_text(
                    m.retest.as_ref().and_then(|(_, o)| *o).map(|o| tr.get(&format!("pools-result-{}", o.as_str()))),
                ),
            ]);
        }
    }
    let mut sheet = x.book.sheet("export-sheet-abnormal-pools", "", &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}

/// The home-sampling route list: grid, name, phone, address, why at home.
pub(crate) async fn home_visits(x: &mut Export, store: &dyn Store, visits: &[HomeVisit]) -> AppResult<()> {
    let columns = [
        col("pools-grid", 14.0),
        col("name", 12.0),
        text_col("phone", 14.0),
        col("address", 30.0),
        col("export-reason", 18.0),
    ];
    let tr = x.tr();
    let mut grids = AreaNames::default();
    let mut rows = Vec::with_capacity(visits.len());
    for v in visits {
        let p = &v.person;
        rows.push(vec![
            Cell::text(grids.name(store, p.grid).await?),
            Cell::text(p.name.clone()),
            x.numbers.phone(p),
            Cell::maybe_text(p.address.clone()),
            Cell::text(tr.get(&format!("visits-reason-{}", visit_reason(v.reason)))),
        ]);
    }
    let mut sheet = x.book.sheet("export-sheet-home-visits", "", &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}
