//! Contract tests of [`bulwark_store::RosterStore`].

use super::T0;
use crate::{insert, resident, world};
use bulwark_domain::{
    Millis,
    access::Scope,
    people::Person,
    workforce::{Duty, NewAssignment, NewPost, Post, PostKind, RosterError, RosterRules, Shift, ShiftTimes},
};
use bulwark_store::{
    Store, StoreError,
    rosters::{Assigned, Attended, RosterSummary},
};

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
/// 2022-10-06 00:00 in Shengtang (UTC+8); T0 is 07:00 that day.
const DAY: Millis = T0 - 7 * HOUR;

struct Roster {
    post: Post,
    /// The highway exit's 24-hour post: three 8-hour shifts from 00:00.
    checkpoint: Post,
    shifts: Vec<Shift>,
    people: Vec<Person>,
    scope_a: Scope,
    scope_b: Scope,
    town: Scope,
}

async fn roster_scene(store: &dyn Store) -> Roster {
    let w = world(store).await;
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(insert(store, resident(&format!("值守{i}"), 3000 + i, &w.house_a)).await);
    }
    let post = NewPost::new(
        "湴朗村委会采样点 测温登记",
        PostKind::SamplingSite,
        vec![Duty::Temperature, Duty::Registration],
        w.grid_a.id,
        None,
        2,
    )
    .unwrap();
    let post = store.create_post(post, T0).await.expect("create post");
    let checkpoint =
        NewPost::new("开阳高速圣堂出口卡口", PostKind::Checkpoint, vec![Duty::Guard], w.grid_b.id, None, 1).unwrap();
    let checkpoint = store.create_post(checkpoint, T0).await.expect("create checkpoint post");
    let times: Vec<ShiftTimes> =
        (0..3).map(|i| ShiftTimes::new(DAY + i * 8 * HOUR, DAY + (i + 1) * 8 * HOUR).unwrap()).collect();
    let shifts = store.create_shifts(checkpoint.id, times).await.expect("create shifts");
    Roster {
        post,
        checkpoint,
        shifts,
        people,
        scope_a: Scope::of(&w.grid_a),
        scope_b: Scope::of(&w.grid_b),
        town: Scope::of(&w.town),
    }
}

fn assignment(shift: &Shift, person: &Person, duty: &str) -> NewAssignment {
    NewAssignment::new(shift.id, person.id, duty, T0, 42).unwrap()
}

async fn stored(store: &dyn Store, new: NewAssignment) -> bulwark_domain::workforce::Assignment {
    match store.assign(new).await.expect("assign") {
        Assigned::Stored(a) => a,
        Assigned::Clash(c) => panic!("unexpected clash {c:?}"),
    }
}

pub async fn rosters_posts_and_shifts_round_trip(store: &dyn Store) {
    let r = roster_scene(store).await;
    assert_eq!(r.post.duties, vec![Duty::Registration, Duty::Temperature]);
    assert_eq!(r.post.needed, 2);
    assert_eq!(store.post(r.post.id).await.unwrap(), Some(r.post.clone()));
    assert_eq!(store.post(9_999_999).await.unwrap(), None);
    // Posts are scoped by their area's path.
    let names = |posts: Vec<Post>| posts.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(names(store.posts(&r.scope_a).await.unwrap()), vec![r.post.id]);
    assert_eq!(names(store.posts(&r.scope_b).await.unwrap()), vec![r.checkpoint.id]);
    assert_eq!(store.posts(&r.town).await.unwrap().len(), 2);

    assert_eq!(r.shifts.len(), 3);
    assert_eq!(r.shifts[2].ends, DAY + 24 * HOUR);
    // Shifts overlapping a stretch of time, by start.
    let listed = store.shifts(r.checkpoint.id, DAY + 7 * HOUR, DAY + 9 * HOUR).await.unwrap();
    assert_eq!(listed, r.shifts[..2].to_vec());
    assert_eq!(store.shifts(r.checkpoint.id, DAY, DAY + 24 * HOUR).await.unwrap(), r.shifts);
    assert_eq!(store.shift(r.shifts[1].id).await.unwrap(), Some((r.shifts[1], r.checkpoint.clone())));
    assert_eq!(store.shift(9_999_999).await.unwrap(), None);

    // Unknown references and repeated shifts are refused, all or nothing.
    let bad = NewPost::new("无处", PostKind::Other, vec![Duty::Other], 9_999_999, None, 1).unwrap();
    assert!(matches!(store.create_post(bad, T0).await, Err(StoreError::Invalid(_))));
    let bad_site =
        NewPost::new("无点", PostKind::SamplingSite, vec![Duty::Swab], r.post.area, Some(9_999_999), 1).unwrap();
    assert!(matches!(store.create_post(bad_site, T0).await, Err(StoreError::Invalid(_))));
    let t = ShiftTimes::new(DAY + 30 * HOUR, DAY + 38 * HOUR).unwrap();
    assert!(matches!(store.create_shifts(9_999_999, vec![t]).await, Err(StoreError::Invalid(_))));
    let again = vec![t, ShiftTimes::new(r.shifts[0].starts, r.shifts[0].ends).unwrap()];
    assert!(matches!(store.create_shifts(r.checkpoint.id, again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.shifts(r.checkpoint.id, DAY + 24 * HOUR, DAY + 48 * HOUR).await.unwrap(), vec![]);
}

pub async fn rosters_overlapping_assignments_are_refused_naming_the_clash(store: &dyn Store) {
    let r = roster_scene(store).await;
    let site_shift = store
        .create_shifts(r.post.id, vec![ShiftTimes::new(DAY + 6 * HOUR, DAY + 14 * HOUR).unwrap()])
        .await
        .unwrap()
        .remove(0);
    let p = &r.people[0];
    let night = stored(store, assignment(&r.shifts[0], p, "查验健康码行程卡")).await;
    assert_eq!(night.post, r.checkpoint.id);
    // 06:00–14:00 overlaps the 00:00–08:00 checkpoint shift.
    match store.assign(assignment(&site_shift, p, "测温")).await.unwrap() {
        Assigned::Clash(c) => {
            assert_eq!(c.assignment, night.id);
            assert_eq!(c.shift, r.shifts[0].id);
            assert_eq!(c.post_name, "开阳高速圣堂出口卡口");
            let message = RosterError::Overlap(c).to_string();
            assert!(message.starts_with("person: already assigned to 开阳高速圣堂出口卡口"), "{message}");
        }
        other => panic!("expected a clash, got {other:?}"),
    }
    // The same shift twice is a clash too; back to back is not.
    assert!(matches!(store.assign(assignment(&r.shifts[0], p, "值守")).await.unwrap(), Assigned::Clash(_)));
    stored(store, assignment(&r.shifts[1], p, "值守")).await;
    // Another person may take the site shift.
    stored(store, assignment(&site_shift, &r.people[1], "测温")).await;
    // Unknown shift or person.
    let bad = NewAssignment::new(9_999_999, p.id, "值守", T0, 42).unwrap();
    assert!(matches!(store.assign(bad).await, Err(StoreError::Invalid(_))));
    let bad = NewAssignment::new(r.shifts[2].id, 9_999_999, "值守", T0, 42).unwrap();
    assert!(matches!(store.assign(bad).await, Err(StoreError::Invalid(_))));
}

pub async fn rosters_two_concurrent_overlapping_assignments_one_wins(store: &dyn Store) {
    let r = roster_scene(store).await;
    for round in 0..5 {
        let p = &r.people[round % r.people.len()];
        // Fresh shifts each round, overlapping one another.
        let base = DAY + (48 + 24 * round as i64) * HOUR;
        let a = store
            .create_shifts(r.checkpoint.id, vec![ShiftTimes::new(base, base + 8 * HOUR).unwrap()])
            .await
            .unwrap()
            .remove(0);
        let b = store
            .create_shifts(r.post.id, vec![ShiftTimes::new(base + 4 * HOUR, base + 12 * HOUR).unwrap()])
            .await
            .unwrap()
            .remove(0);
        let (x, y) = tokio::join!(store.assign(assignment(&a, p, "值守")), store.assign(assignment(&b, p, "测温")));
        let outcomes = [x.expect("first"), y.expect("second")];
        let won = outcomes.iter().filter(|o| matches!(o, Assigned::Stored(_))).count();
        let clashed = outcomes.iter().filter(|o| matches!(o, Assigned::Clash(_))).count();
        assert_eq!((won, clashed), (1, 1), "round {round}: {outcomes:?}");
        let roster = store.roster(&r.town, base, base + 24 * HOUR).await.unwrap();
        let held: usize =
            roster.iter().flat_map(|p| &p.shifts).flat_map(|s| &s.assignments).filter(|x| x.person == p.id).count();
        assert_eq!(held, 1, "round {round}: exactly one assignment stored");
    }
}

pub async fn rosters_check_in_and_out_are_idempotent(store: &dyn Store) {
    let r = roster_scene(store).await;
    let rules = RosterRules::DEFAULT;
    // The 08:00–16:00 checkpoint shift.
    let a = stored(store, assignment(&r.shifts[1], &r.people[0], "查验健康码")).await;
    let at = |m: Millis| DAY + 8 * HOUR + m * MINUTE;
    match store.check_in(a.id, at(-31), rules).await.unwrap() {
        Attended::Refused(RosterError::TooEarly { .. }) => {}
        other => panic!("too early: {other:?}"),
    }
    match store.check_out(a.id, at(-20)).await.unwrap() {
        Attended::Refused(RosterError::NotCheckedIn) => {}
        other => panic!("check-out before check-in: {other:?}"),
    }
    let first = match store.check_in(a.id, at(-10), rules).await.unwrap() {
        Attended::Recorded(x) => x,
        other => panic!("check-in: {other:?}"),
    };
    assert_eq!(first.checked_in_at, Some(at(-10)));
    // A second check-in answers the first.
    match store.check_in(a.id, at(5), rules).await.unwrap() {
        Attended::Repeated(x) => assert_eq!(x.checked_in_at, Some(at(-10))),
        other => panic!("repeat: {other:?}"),
    }
    match store.check_out(a.id, at(8 * 60 + 3)).await.unwrap() {
        Attended::Recorded(x) => assert_eq!(x.checked_out_at, Some(at(8 * 60 + 3))),
        other => panic!("check-out: {other:?}"),
    }
    match store.check_out(a.id, at(9 * 60)).await.unwrap() {
        Attended::Repeated(x) => assert_eq!(x.checked_out_at, Some(at(8 * 60 + 3))),
        other => panic!("repeat check-out: {other:?}"),
    }
    let d = store.assignment(a.id).await.unwrap().expect("stored");
    assert_eq!((d.assignment.checked_in_at, d.assignment.checked_out_at), (Some(at(-10)), Some(at(8 * 60 + 3))));
    assert_eq!(d.shift, r.shifts[1]);
    assert_eq!(d.post.id, r.checkpoint.id);
    // After the shift ends, check-in is closed.
    let late = stored(store, assignment(&r.shifts[1], &r.people[1], "查验行程卡")).await;
    assert!(matches!(
        store.check_in(late.id, at(8 * 60), rules).await.unwrap(),
        Attended::Refused(RosterError::ShiftOver { .. })
    ));
    assert!(matches!(store.check_in(9_999_999, at(0), rules).await, Err(StoreError::NotFound)));
    assert!(matches!(store.check_out(9_999_999, at(0)).await, Err(StoreError::NotFound)));
    // Attendance is never erased: a checked-in assignment is not removed; another one is.
    assert!(matches!(store.remove_assignment(a.id).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.remove_assignment(late.id).await.unwrap().id, late.id);
    assert_eq!(store.assignment(late.id).await.unwrap(), None);
    assert!(matches!(store.remove_assignment(late.id).await, Err(StoreError::NotFound)));
}

pub async fn rosters_day_roster_and_summary(store: &dyn Store) {
    let r = roster_scene(store).await;
    let rules = RosterRules::DEFAULT;
    // The site post (needs 2) runs 07:00–15:00 and 15:00–23:00.
    let site_shifts = store
        .create_shifts(
            r.post.id,
            vec![
                ShiftTimes::new(DAY + 7 * HOUR, DAY + 15 * HOUR).unwrap(),
                ShiftTimes::new(DAY + 15 * HOUR, DAY + 23 * HOUR).unwrap(),
            ],
        )
        .await
        .unwrap();
    let [p0, p1, p2, p3] = [&r.people[0], &r.people[1], &r.people[2], &r.people[3]];
    let morning = stored(store, assignment(&site_shifts[0], p0, "测温")).await;
    let no_show = stored(store, assignment(&site_shifts[0], p1, "登记")).await;
    let guard = stored(store, assignment(&r.shifts[1], p2, "查验健康码行程卡")).await;
    stored(store, assignment(&site_shifts[1], p3, "测温")).await;
    let now = DAY + 9 * HOUR;
    assert!(matches!(
        store.check_in(morning.id, DAY + 7 * HOUR - 5 * MINUTE, rules).await.unwrap(),
        Attended::Recorded(_)
    ));
    assert!(matches!(store.check_in(guard.id, DAY + 8 * HOUR, rules).await.unwrap(), Attended::Recorded(_)));

    let roster = store.roster(&r.town, DAY, DAY + 24 * HOUR).await.unwrap();
    assert_eq!(roster.len(), 2);
    let site = roster.iter().find(|p| p.post.id == r.post.id).unwrap();
    assert_eq!(
        site.shifts.iter().map(|s| s.shift.id).collect::<Vec<_>>(),
        site_shifts.iter().map(|s| s.id).collect::<Vec<_>>()
    );
    assert_eq!(site.shifts[0].assignments.iter().map(|a| a.id).collect::<Vec<_>>(), vec![morning.id, no_show.id]);
    assert_eq!(site.shifts[0].assignments[0].checked_in_at, Some(DAY + 7 * HOUR - 5 * MINUTE));
    assert_eq!(site.shifts[0].assignments[1].responsibility, "登记");
    let checkpoint = roster.iter().find(|p| p.post.id == r.checkpoint.id).unwrap();
    assert_eq!(checkpoint.shifts.len(), 3);
    // Scoped: grid B sees only the checkpoint; another day has the posts but no shifts.
    let b = store.roster(&r.scope_b, DAY, DAY + 24 * HOUR).await.unwrap();
    assert_eq!(b.iter().map(|p| p.post.id).collect::<Vec<_>>(), vec![r.checkpoint.id]);
    let next = store.roster(&r.town, DAY + 24 * HOUR, DAY + 48 * HOUR).await.unwrap();
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|p| p.shifts.is_empty()));

    // At 09:00: the site's morning shift (1 of 2 checked in, 1 no-show) and the checkpoint's
    // day shift (1 of 1 on post) run; both posts' people are counted.
    let s = store.roster_summary(&r.town, now, rules).await.unwrap();
    assert_eq!(
        s,
        RosterSummary {
            posts: 2,
            shifts_running: 2,
            assigned: 3,
            checked_in: 2,
            unfilled_shifts: 0,
            unfilled_places: 0,
            no_shows: 1,
        }
    );
    // At 13:30 the site's afternoon shift (1 of 2) starts within 2 hours: unfilled by one.
    let s = store.roster_summary(&r.town, DAY + 13 * HOUR + 30 * MINUTE, rules).await.unwrap();
    assert_eq!((s.unfilled_shifts, s.unfilled_places), (1, 1));
    // At 16:30 the checkpoint's evening shift has nobody: unfilled; the site's has one of two.
    let s = store.roster_summary(&r.town, DAY + 16 * HOUR + 30 * MINUTE, rules).await.unwrap();
    assert_eq!((s.shifts_running, s.unfilled_shifts, s.unfilled_places, s.no_shows), (2, 2, 2, 1));
    // Scoped to grid B: only the checkpoint.
    let s = store.roster_summary(&r.scope_b, now, rules).await.unwrap();
    assert_eq!((s.posts, s.shifts_running, s.assigned, s.checked_in, s.no_shows), (1, 1, 1, 1, 0));
    // Checking out leaves the post.
    assert!(matches!(store.check_out(guard.id, DAY + 10 * HOUR).await.unwrap(), Attended::Recorded(_)));
    let s = store.roster_summary(&r.scope_b, DAY + 10 * HOUR, rules).await.unwrap();
    assert_eq!(s.checked_in, 0);
    // The summary of an earlier instant reads the roster as it stood then.
    let s = store.roster_summary(&r.scope_b, now, rules).await.unwrap();
    assert_eq!((s.checked_in, s.no_shows), (1, 0));
    let s = store.roster_summary(&r.scope_b, DAY + 8 * HOUR - MINUTE, rules).await.unwrap();
    assert_eq!(s.checked_in, 0, "the 07:59 summary: the night shift runs, nobody on it");
}
