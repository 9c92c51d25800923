//! Contract tests of [`bulwark_store::CommandStore`]: the source story's morning. At 07:00 on
//! 6 October the town activates the golden-24-hours plan; its cadres, grid workers and teacher
//! volunteers are dealt into the ten working groups, answer the roll-call from their phones, and
//! the tasks run against their deadlines.

use super::{MINUTE, T0, World, insert, new_area, resident, world};
use bulwark_domain::{
    Millis,
    access::Scope,
    areas::{Area, AreaKind},
    command::{
        IncidentId, IncidentLevel, MemberState, Plan, PlanKey, RollCallPlace, RollCallStatus, TaskChange, TaskStatus,
        TimelineKind, golden_24_hours,
    },
    people::PersonId,
    workforce::{StaffMember, Team},
};
use bulwark_store::{
    Store, StoreError,
    command::{NewAnswer, NewIncident, NewTaskChange},
};
use std::collections::HashSet;

/// The commander's account.
const COMMANDER: i64 = 7;

/// The town with its staff and the saved default plan.
pub struct CommandScene {
    pub world: World,
    /// Staff by person id: cadres, grid workers, teacher volunteers.
    pub staff: Vec<(PersonId, Team)>,
    pub plan: Plan,
    pub plan_version: u32,
}

/// Twelve cadres, eight grid workers and four teacher volunteers of the village, registered as
/// residents and as staff; the default plan saved as version 1.
pub async fn command_scene(store: &dyn Store) -> CommandScene {
    let world = world(store).await;
    let mut staff = Vec::new();
    let mut assignments = Vec::new();
    let teams = [(Team::Cadre, "干部", 12, &world.village), (Team::GridWorker, "网格员", 8, &world.grid_a)];
    let teams = teams.into_iter().chain([(Team::Volunteer, "教师志愿者", 4, &world.village)]);
    let mut n = 0;
    for (team, title, count, area) in teams {
        for i in 0..count {
            n += 1;
            let home = if n % 2 == 0 { &world.house_a } else { &world.house_b };
            let person = insert(store, resident(&format!("{title}{i}"), 3000 + n, home)).await;
            staff.push((person.id, team));
            assignments.push(StaffMember::new(person.id, team, area.id));
        }
    }
    store.add_staff(assignments).await.expect("add staff");
    let plan = golden_24_hours();
    let stored = store.save_plan(&plan, T0 - 86_400_000, COMMANDER).await.expect("save the default plan");
    CommandScene { world, staff, plan, plan_version: stored.version }
}

/// The hash a one-tap token of `person` in the incident labelled `label` is stored as.
pub fn token_hash(label: &str, person: PersonId) -> String {
    format!("{label}-{person:058}")
}

impl CommandScene {
    /// The activation of the plan at `at` for `area`, every member with a token.
    pub fn incident(&self, label: &str, area: &Area, at: Millis) -> NewIncident {
        let activation = self.plan.instantiate(at, &self.staff);
        let tokens =
            activation.groups.iter().flat_map(|g| g.members.iter()).map(|p| (*p, token_hash(label, *p))).collect();
        NewIncident {
            plan: self.plan.key.clone(),
            plan_version: self.plan_version,
            title: format!("{}：太子农庄聚集性疫情", area.name),
            trigger: "2名核酸异常人员10月5日曾在太子农庄就餐".into(),
            level: IncidentLevel::parse("三级").expect("a level"),
            area: area.id,
            headquarters: "镇应急指挥中心".into(),
            forward_post: "太子农庄".into(),
            by: COMMANDER,
            activation,
            tokens,
            timeline_text: format!("启动{}", self.plan.title),
        }
    }

    pub async fn open(&self, store: &dyn Store, label: &str, area: &Area, at: Millis) -> IncidentId {
        store.open_incident(self.incident(label, area, at)).await.expect("open incident")
    }
}

fn answer(incident: IncidentId, person: PersonId, status: RollCallStatus, minute: i64) -> NewAnswer {
    NewAnswer {
        incident,
        person,
        status,
        place: (status == RollCallStatus::Arrived).then_some(RollCallPlace::Headquarters),
        at: T0 + minute * MINUTE,
        by: None,
        arrival_text: format!("人员{person}到达总指挥部"),
        audit: NewAnswer::link_audit(incident, person, status, T0 + minute * MINUTE),
    }
}

pub async fn command_plans_are_versioned(store: &dyn Store) {
    let plan = golden_24_hours();
    let v1 = store.save_plan(&plan, T0, COMMANDER).await.unwrap();
    assert_eq!((v1.version, v1.saved_at, v1.saved_by), (1, T0, COMMANDER));
    assert_eq!(v1.plan, plan);

    // The same content again changes nothing and answers the stored version.
    let again = store.save_plan(&plan, T0 + MINUTE, COMMANDER + 1).await.unwrap();
    assert_eq!(again, v1);

    let mut edited = plan.clone();
    edited.assembly_minutes = 45;
    edited.groups[3].tasks[0].due_minutes = 90;
    let v2 = store.save_plan(&edited, T0 + 2 * MINUTE, COMMANDER).await.unwrap();
    assert_eq!((v2.version, v2.saved_at), (2, T0 + 2 * MINUTE));

    let mut drill = golden_24_hours();
    drill.key = PlanKey::parse("flood-drill").unwrap();
    drill.title = "防汛演练预案".into();
    let drill = store.save_plan(&drill, T0, COMMANDER).await.unwrap();
    assert_eq!(drill.version, 1);

    let key = plan.key.clone();
    assert_eq!(store.plan(&key, None).await.unwrap(), Some(v2.clone()));
    assert_eq!(store.plan(&key, Some(1)).await.unwrap(), Some(v1.clone()));
    assert_eq!(store.plan(&key, Some(2)).await.unwrap().unwrap().plan.assembly_minutes, 45);
    assert_eq!(store.plan(&key, Some(3)).await.unwrap(), None);
    assert_eq!(store.plan(&PlanKey::parse("nothing").unwrap(), None).await.unwrap(), None);
    // The latest of every key, by key.
    assert_eq!(store.plans().await.unwrap(), vec![drill, v2.clone()]);

    // Going back to the first content is a new version: only the latest is compared.
    let v3 = store.save_plan(&plan, T0 + 3 * MINUTE, COMMANDER).await.unwrap();
    assert_eq!((v3.version, v3.plan.assembly_minutes), (3, 30));
    assert_eq!(store.plan(&key, Some(2)).await.unwrap(), Some(v2));
}

pub async fn command_open_incident_stores_everything(store: &dyn Store) {
    let s = command_scene(store).await;
    let new = s.incident("a", &s.world.town, T0);
    let id = store.open_incident(new.clone()).await.unwrap();

    let incident = store.incident(id).await.unwrap().expect("the incident");
    assert_eq!(incident.id, id);
    assert_eq!((incident.plan.clone(), incident.plan_version), (s.plan.key.clone(), s.plan_version));
    assert_eq!((incident.title.as_str(), incident.trigger.as_str()), (new.title.as_str(), new.trigger.as_str()));
    assert_eq!(incident.level.number(), 3);
    assert_eq!((incident.area, incident.area_path.as_str()), (s.world.town.id, s.world.town.path.as_str()));
    assert_eq!((incident.headquarters.as_str(), incident.forward_post.as_str()), ("镇应急指挥中心", "太子农庄"));
    assert_eq!((incident.activated_at, incident.assembly_deadline), (T0, T0 + 30 * MINUTE));
    assert_eq!(incident.activated_by, COMMANDER);
    assert_eq!(store.incident(id + 1000).await.unwrap(), None);

    // Groups in plan order.
    let groups = store.groups(id).await.unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    let plan_keys: Vec<&str> = s.plan.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, plan_keys);
    for (i, (g, made)) in groups.iter().zip(&new.activation.groups).enumerate() {
        assert_eq!(g.position, i as u32);
        assert_eq!(g.incident, id);
        assert_eq!(
            (&g.name, &g.name_en, &g.lead, g.lead_person),
            (&made.name, &made.name_en, &made.lead, made.lead_person)
        );
    }

    // Every staff member once, in their group, by group then person, nobody answered yet.
    let members = store.members(id).await.unwrap();
    assert_eq!(members.len(), s.staff.len());
    let mut expected = Vec::new();
    for (g, made) in new.activation.groups.iter().enumerate() {
        expected.extend(made.members.iter().map(|p| MemberState::new(*p, groups[g].id)));
    }
    assert_eq!(members, expected);
    assert!(groups.iter().any(|g| members.iter().filter(|m| m.group == g.id).count() > 1));

    // Tasks with absolute deadlines, by deadline.
    let tasks = store.tasks(id).await.unwrap();
    assert_eq!(tasks.len(), s.plan.groups.iter().map(|g| g.tasks.len()).sum::<usize>());
    assert!(tasks.windows(2).all(|w| (w[0].deadline, w[0].id) < (w[1].deadline, w[1].id)));
    for t in &tasks {
        let (g, template) = s
            .plan
            .groups
            .iter()
            .enumerate()
            .find_map(|(g, group)| group.tasks.iter().find(|x| x.key == t.key).map(|x| (g, x)))
            .expect("a task of the plan");
        assert_eq!(t.deadline, T0 + i64::from(template.due_minutes) * MINUTE, "{}", t.key);
        assert_eq!((t.group, t.incident, t.status), (groups[g].id, id, TaskStatus::Open));
        assert_eq!((&t.title, t.owner, t.closed_at, t.overdue_alerted_at), (&template.title, None, None, None));
        assert_eq!(store.task(t.id).await.unwrap().as_ref(), Some(t));
    }
    assert_eq!(tasks[0].key, "assemble");
    let risk = tasks.iter().find(|t| t.key == "risk-areas").unwrap();
    assert_eq!(risk.deadline, T0 + 5 * 60 * MINUTE);

    // The activated entry.
    let timeline = store.timeline(id).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!((timeline[0].kind, timeline[0].at, timeline[0].by), (TimelineKind::Activated, T0, Some(COMMANDER)));
    assert_eq!(timeline[0].text, new.timeline_text);

    // Tokens find their member.
    let (person, _) = s.staff[5];
    assert_eq!(store.member_by_token(&token_hash("a", person)).await.unwrap(), Some((id, person)));
    assert_eq!(store.member_by_token(&token_hash("zz", person)).await.unwrap(), None);

    // New tokens replace the old ones (the links are sent again); a non-member is not counted.
    let (other, _) = s.staff[6];
    let stranger = s.staff.iter().map(|(p, _)| *p).max().unwrap() + 1_000_000;
    let replaced = store
        .replace_tokens(
            id,
            vec![
                (person, token_hash("b", person)),
                (other, token_hash("b", other)),
                (stranger, token_hash("b", stranger)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(replaced, 2);
    assert_eq!(store.member_by_token(&token_hash("a", person)).await.unwrap(), None, "the old link stops working");
    assert_eq!(store.member_by_token(&token_hash("b", person)).await.unwrap(), Some((id, person)));
    assert_eq!(store.member_by_token(&token_hash("b", other)).await.unwrap(), Some((id, other)));
    // A token already in use (a third member's) is refused, and nothing of the batch is replaced.
    let (third, _) = s.staff[7];
    let clash = store.replace_tokens(id, vec![(other, token_hash("d", other)), (person, token_hash("a", third))]).await;
    assert!(matches!(clash, Err(bulwark_store::StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(store.member_by_token(&token_hash("b", other)).await.unwrap(), Some((id, other)), "all or nothing");
    assert_eq!(store.member_by_token(&token_hash("a", third)).await.unwrap(), Some((id, third)));
}

pub async fn command_open_incident_refuses_what_does_not_hold(store: &dyn Store) {
    let s = command_scene(store).await;
    let everyone = Scope::of(&s.world.town);

    let mut new = s.incident("a", &s.world.town, T0);
    new.plan_version = 9;
    assert!(matches!(store.open_incident(new).await, Err(StoreError::Invalid(m)) if m.starts_with("plan")));

    let mut new = s.incident("a", &s.world.town, T0);
    new.area = s.world.house_b.id + 1000;
    assert!(matches!(store.open_incident(new).await, Err(StoreError::Invalid(m)) if m.starts_with("area")));

    let mut new = s.incident("a", &s.world.town, T0);
    let (dropped, _) = new.tokens.pop().unwrap();
    match store.open_incident(new).await {
        Err(StoreError::Invalid(m)) => assert!(m.starts_with("tokens") && m.contains(&dropped.to_string()), "{m}"),
        other => panic!("expected invalid tokens, got {other:?}"),
    }

    // A member who is no registered person: nothing of the incident is kept.
    let mut new = s.incident("a", &s.world.town, T0);
    let ghost = s.staff.iter().map(|(p, _)| *p).max().unwrap() + 1000;
    new.activation.groups[0].members.push(ghost);
    new.tokens.push((ghost, token_hash("a", ghost)));
    assert!(matches!(store.open_incident(new).await, Err(StoreError::Invalid(_))));
    assert!(store.incidents(&everyone).await.unwrap().is_empty());
    assert_eq!(store.member_by_token(&token_hash("a", s.staff[0].0)).await.unwrap(), None);

    // A token hash already in use by another incident.
    let first = s.open(store, "a", &s.world.town, T0).await;
    assert!(matches!(
        store.open_incident(s.incident("a", &s.world.town, T0 + MINUTE)).await,
        Err(StoreError::Conflict(_))
    ));
    let listed: Vec<IncidentId> = store.incidents(&everyone).await.unwrap().iter().map(|i| i.id).collect();
    assert_eq!(listed, vec![first]);
}

pub async fn command_answers_only_move_forward(store: &dyn Store) {
    use RollCallStatus::*;
    let s = command_scene(store).await;
    let id = s.open(store, "a", &s.world.town, T0).await;
    let members = store.members(id).await.unwrap();
    let (wang, li) = (members[0].clone(), members[1].clone());

    let (before, after) = store.record_answer(answer(id, wang.person, OnMyWay, 5)).await.unwrap().unwrap();
    assert_eq!(before, wang);
    assert_eq!((after.status, after.answered_at, after.arrived_at), (Some(OnMyWay), Some(T0 + 5 * MINUTE), None));

    let (_, arrived) = store.record_answer(answer(id, wang.person, Arrived, 20)).await.unwrap().unwrap();
    assert_eq!((arrived.status, arrived.arrived_at), (Some(Arrived), Some(T0 + 20 * MINUTE)));
    assert_eq!(arrived.place, Some(RollCallPlace::Headquarters));

    // "Received" from the phone's queue, sent earlier than everything: kept in mind, not undoing.
    let (b, late) = store.record_answer(answer(id, wang.person, Received, 2)).await.unwrap().unwrap();
    assert_eq!(b, arrived);
    assert_eq!(
        (late.status, late.answered_at, late.arrived_at),
        (Some(Arrived), Some(T0 + 2 * MINUTE), Some(T0 + 20 * MINUTE))
    );

    // Arriving again (at a post) keeps the first arrival's time and takes the new place.
    let mut again = answer(id, wang.person, Arrived, 40);
    again.place = Some(RollCallPlace::Post("高速路口卡口".into()));
    let (_, moved) = store.record_answer(again).await.unwrap().unwrap();
    assert_eq!(moved.arrived_at, Some(T0 + 20 * MINUTE));
    assert_eq!(moved.place, Some(RollCallPlace::Post("高速路口卡口".into())));

    // Li arrives straight away, after the assembly deadline, through an account.
    let mut by_lead = answer(id, li.person, Arrived, 35);
    by_lead.by = Some(COMMANDER);
    store.record_answer(by_lead).await.unwrap().unwrap();

    // Not a member (a resident of the town, or a member of no incident): nothing happens.
    let outsider = insert(store, resident("路人", 9000, &s.world.house_a)).await;
    assert_eq!(store.record_answer(answer(id, outsider.id, Arrived, 21)).await.unwrap(), None);
    assert_eq!(store.record_answer(answer(id + 1000, wang.person, Arrived, 21)).await.unwrap(), None);

    let stored = store.members(id).await.unwrap();
    assert_eq!(stored[0], moved);
    assert_eq!((stored[1].status, stored[1].arrived_at), (Some(Arrived), Some(T0 + 35 * MINUTE)));
    assert!(stored[2..].iter().all(|m| m.status.is_none()));

    // One arrival entry per person who arrived, at the first arrival, with its text.
    let arrivals: Vec<_> =
        store.timeline(id).await.unwrap().into_iter().filter(|e| e.kind == TimelineKind::Arrival).collect();
    assert_eq!(arrivals.len(), 2);
    assert_eq!((arrivals[0].at, arrivals[0].by), (T0 + 20 * MINUTE, None));
    assert_eq!(arrivals[0].text, format!("人员{}到达总指挥部", wang.person));
    assert_eq!((arrivals[1].at, arrivals[1].by), (T0 + 35 * MINUTE, Some(COMMANDER)));

    // Every answer stored has its audit entry, committed with it; answers of non-members none.
    let audited = |person| async move {
        let q = bulwark_store::AuditQuery { person: Some(person), limit: 100, ..Default::default() };
        store.audit_entries(&q).await.unwrap().into_iter().filter(|e| e.operation == "roll_call_answer").count()
    };
    assert_eq!(audited(li.person).await, 1);
    assert!(audited(wang.person).await >= 2, "each of Wang's answers");
    assert_eq!(audited(outsider.id).await, 0);
}

pub async fn command_concurrent_answers_of_one_person_serialize(store: &dyn Store) {
    use RollCallStatus::*;
    let s = command_scene(store).await;
    let id = s.open(store, "a", &s.world.town, T0).await;
    let initial = store.members(id).await.unwrap()[3].clone();
    let p = initial.person;
    // Eight answers of one person at once: a double tap, the queue of a phone coming back online.
    let statuses = [Received, OnMyWay, Arrived, Received, Arrived, OnMyWay, Arrived, Received];
    let a = |i: usize| store.record_answer(answer(id, p, statuses[i], 10 + i as i64));
    let results = tokio::join!(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7));
    let results = [results.0, results.1, results.2, results.3, results.4, results.5, results.6, results.7];
    let pairs: Vec<(MemberState, MemberState)> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();

    // Each answer was decided on the state the previous one left: only one saw the untouched row,
    // only one was the first arrival, and each moved its own "before" by its own answer.
    assert_eq!(pairs.iter().filter(|(b, _)| *b == initial).count(), 1);
    assert_eq!(pairs.iter().filter(|(b, a)| b.arrived_at.is_none() && a.arrived_at.is_some()).count(), 1);
    for (i, (b, a)) in pairs.iter().enumerate() {
        let expected = b.answer(statuses[i], answer(id, p, statuses[i], 0).place, T0 + (10 + i as i64) * MINUTE);
        assert_eq!(*a, expected, "answer {i}");
    }
    let last = store.members(id).await.unwrap()[3].clone();
    assert_eq!(last.status, Some(Arrived));
    assert_eq!(last.answered_at, Some(T0 + 10 * MINUTE));
    assert_eq!(last.arrived_at, Some(T0 + 12 * MINUTE));
    assert_eq!(last.place, Some(RollCallPlace::Headquarters));
    assert!(pairs.iter().any(|(_, a)| *a == last));
    let arrivals = store.timeline(id).await.unwrap().into_iter().filter(|e| e.kind == TimelineKind::Arrival).count();
    assert_eq!(arrivals, 1);
}

pub async fn command_task_changes_append_to_the_timeline(store: &dyn Store) {
    let s = command_scene(store).await;
    let id = s.open(store, "a", &s.world.town, T0).await;
    let tasks = store.tasks(id).await.unwrap();
    let (cadre, _) = s.staff[0];
    let set_up = tasks.iter().find(|t| t.key == "set-up-command").unwrap().clone();

    let change = |task: i64, change: TaskChange, minute: i64, text: &str| NewTaskChange {
        task,
        change,
        at: T0 + minute * MINUTE,
        by: COMMANDER,
        timeline_text: text.to_string(),
    };
    let owned = store
        .update_task(change(
            set_up.id,
            TaskChange { owner: Some(Some(cadre)), status: Some(TaskStatus::InProgress), ..Default::default() },
            10,
            "指定负责人",
        ))
        .await
        .unwrap();
    assert_eq!((owned.owner, owned.status, owned.updated_at), (Some(cadre), TaskStatus::InProgress, T0 + 10 * MINUTE));
    let done = store
        .update_task(change(
            set_up.id,
            TaskChange {
                status: Some(TaskStatus::Done),
                notes: Some("前线指挥部设在太子农庄".into()),
                ..Default::default()
            },
            50,
            "总指挥部和前线指挥部已设立",
        ))
        .await
        .unwrap();
    assert_eq!((done.status, done.closed_at, done.owner), (TaskStatus::Done, Some(T0 + 50 * MINUTE), Some(cadre)));
    assert_eq!(done.notes, "前线指挥部设在太子农庄");
    assert_eq!(store.task(set_up.id).await.unwrap(), Some(done.clone()));
    // A note on a task that is already done is a change, not a second "done".
    store
        .update_task(change(
            set_up.id,
            TaskChange { notes: Some("已上报".into()), ..Default::default() },
            55,
            "补充备注",
        ))
        .await
        .unwrap();

    let unknown = change(set_up.id + 1000, TaskChange { notes: Some("x".into()), ..Default::default() }, 60, "x");
    assert!(matches!(store.update_task(unknown).await, Err(StoreError::NotFound)));

    let entries: Vec<(TimelineKind, Millis, String)> =
        store.timeline(id).await.unwrap().into_iter().skip(1).map(|e| (e.kind, e.at, e.text)).collect();
    assert_eq!(
        entries,
        vec![
            (TimelineKind::TaskChanged, T0 + 10 * MINUTE, "指定负责人".to_string()),
            (TimelineKind::TaskDone, T0 + 50 * MINUTE, "总指挥部和前线指挥部已设立".to_string()),
            (TimelineKind::TaskChanged, T0 + 55 * MINUTE, "补充备注".to_string()),
        ]
    );
    // Other tasks are untouched.
    let others: Vec<_> = store.tasks(id).await.unwrap().into_iter().filter(|t| t.id != set_up.id).collect();
    assert_eq!(others, tasks.into_iter().filter(|t| t.id != set_up.id).collect::<Vec<_>>());
}

pub async fn command_overdue_is_marked_once(store: &dyn Store) {
    let s = command_scene(store).await;
    let id = s.open(store, "a", &s.world.town, T0).await;
    // A second incident an hour later, in the same database: its tasks fall due later.
    let later = s.open(store, "b", &s.world.town, T0 + 60 * MINUTE).await;
    let tasks = store.tasks(id).await.unwrap();
    let by_key = |k: &str| tasks.iter().find(|t| t.key == k).unwrap().clone();
    let close = |key: &str, status: TaskStatus| NewTaskChange {
        task: by_key(key).id,
        change: TaskChange { status: Some(status), notes: Some("已处理".into()), ..Default::default() },
        at: T0 + 20 * MINUTE,
        by: COMMANDER,
        timeline_text: format!("{key} {}", status.as_str()),
    };
    store.update_task(close("assemble", TaskStatus::Done)).await.unwrap();
    store.update_task(close("set-up-command", TaskStatus::Cancelled)).await.unwrap();

    // At 09:01 the 2-hour tasks of the first incident are overdue (a deadline of exactly now is
    // not), the 30-minute one of the second too; done, cancelled and later tasks are not.
    let now = T0 + 121 * MINUTE;
    let mut expected: Vec<i64> = Vec::new();
    for incident in [id, later] {
        for t in store.tasks(incident).await.unwrap() {
            if t.status.is_open() && t.deadline < now {
                expected.push(t.id);
            }
        }
    }
    expected.sort_unstable();
    assert!(expected.len() >= 4, "{expected:?}");
    assert!(expected.contains(&store.tasks(later).await.unwrap()[0].id));
    assert!(!expected.contains(&by_key("assemble").id) && !expected.contains(&by_key("set-up-command").id));

    let (one, two) = tokio::join!(store.mark_overdue(now), store.mark_overdue(now));
    let (one, two) = (one.unwrap(), two.unwrap());
    let mut marked: Vec<i64> = one.iter().chain(&two).map(|t| t.id).collect();
    marked.sort_unstable();
    assert_eq!(marked, expected, "each overdue task is returned by exactly one call");
    assert!(one.iter().chain(&two).all(|t| t.overdue_alerted_at == Some(now) && t.status.is_open()));
    assert!(store.mark_overdue(now + MINUTE).await.unwrap().is_empty());
    for t in &expected {
        assert_eq!(store.task(*t).await.unwrap().unwrap().overdue_alerted_at, Some(now));
    }

    let overdue = |incident| async move {
        store
            .timeline(incident)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == TimelineKind::TaskOverdue)
            .map(|e| (e.at, e.text, e.by))
            .collect::<Vec<_>>()
    };
    let entries = overdue(id).await;
    let titles: HashSet<String> = entries.iter().map(|(_, text, _)| text.clone()).collect();
    assert_eq!(entries.len(), titles.len());
    let first: Vec<_> = one.iter().chain(&two).filter(|t| t.incident == id).collect();
    assert_eq!(titles, first.iter().map(|t| t.title.clone()).collect::<HashSet<_>>());
    assert!(entries.iter().all(|(at, _, by)| *at == now && by.is_none()));

    // Later, the 4-hour tasks follow; nothing is marked twice.
    let next = store.mark_overdue(T0 + 241 * MINUTE).await.unwrap();
    assert!(!next.is_empty());
    assert!(next.iter().all(|t| !expected.contains(&t.id) && t.deadline < T0 + 241 * MINUTE));
}

pub async fn command_incidents_are_scoped_by_area(store: &dyn Store) {
    let s = command_scene(store).await;
    let other_town = new_area(store, "440785102", "东成镇", AreaKind::Town, None).await;
    let first = s.open(store, "a", &s.world.town, T0).await;
    let neighbour = s.open(store, "b", &other_town, T0 + MINUTE).await;
    let second = s.open(store, "c", &s.world.town, T0 + 2 * 60 * MINUTE).await;

    let ids = |scope: Scope| async move {
        store.incidents(&scope).await.unwrap().into_iter().map(|i| i.id).collect::<Vec<IncidentId>>()
    };
    // Newest activation first; the other town's incident is not listed.
    assert_eq!(ids(Scope::of(&s.world.town)).await, vec![second, first]);
    assert_eq!(ids(Scope::of(&other_town)).await, vec![neighbour]);
    // An incident of the town is not one of its village.
    assert!(ids(Scope::of(&s.world.village)).await.is_empty());
    let listed = store.incidents(&Scope::of(&other_town)).await.unwrap();
    assert_eq!(listed[0].area_path, other_town.path);
}

pub async fn command_timeline_in_order(store: &dyn Store) {
    let s = command_scene(store).await;
    let id = s.open(store, "a", &s.world.town, T0).await;
    let figure = store
        .append_timeline(id, T0 + 8 * 60 * MINUTE, TimelineKind::Figure, "截至15时，已采样28369人", None)
        .await
        .unwrap();
    assert_eq!((figure.incident, figure.kind, figure.by), (id, TimelineKind::Figure, None));
    // Written afterwards about something earlier: placed by its time.
    let manual = store
        .append_timeline(id, T0 + 45 * MINUTE, TimelineKind::Manual, "前线指挥部已设在太子农庄", Some(COMMANDER))
        .await
        .unwrap();
    let same_time = store
        .append_timeline(id, T0 + 45 * MINUTE, TimelineKind::Assembly, "30分钟内集结22人", Some(COMMANDER))
        .await
        .unwrap();
    assert!(same_time.id > manual.id);
    let timeline = store.timeline(id).await.unwrap();
    let kinds: Vec<TimelineKind> = timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![TimelineKind::Activated, TimelineKind::Manual, TimelineKind::Assembly, TimelineKind::Figure]
    );
    assert_eq!(timeline[1], manual);
    assert_eq!(timeline[3], figure);
    assert!(matches!(
        store.append_timeline(id + 1000, T0, TimelineKind::Manual, "无", None).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.timeline(id + 1000).await.unwrap().is_empty());
}
