//! The plan editor as a form (no JSON to hand-edit at 3 am): the title and assembly limit, per
//! working group its name, lead and the teams that staff it, per task its title and how many hours
//! after activation it is due, a box to remove it, and an empty row to add one. Saving makes the
//! next version; fields are named `g{i}.name`, `g{i}.t{j}.title`, `g{i}.new.hours` and so on.

use super::{OrPage, PageCaller, PageError};
use crate::AppState;
use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::{AppError, command::plans};
use bulwark_domain::{
    command::{Plan, TaskTemplate},
    workforce::Team,
};
use std::collections::HashMap;

/// Hours as the form shows them: `0.5`, `2`, `24`.
pub(crate) fn hours(minutes: u32) -> String {
    let h = f64::from(minutes) / 60.0;
    if minutes.is_multiple_of(60) {
        format!("{}", minutes / 60)
    } else {
        format!("{h:.2}").trim_end_matches('0').to_owned()
    }
}

fn minutes(field: &str, raw: &str) -> Result<u32, AppError> {
    let h: f64 = raw
        .trim()
        .replace('，', ".")
        .parse()
        .map_err(|_| AppError::invalid(field, "hours after activation, such as 0.5, 2 or 24"))?;
    if !(0.0..=24.0 * 30.0).contains(&h) {
        return Err(AppError::invalid(field, "hours after activation, 0 to 720"));
    }
    Ok((h * 60.0).round() as u32)
}

/// The plan with the form's changes applied (validation happens when it is saved).
pub(crate) fn apply(mut plan: Plan, form: &[(String, String)]) -> Result<Plan, AppError> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    let mut teams: HashMap<usize, Vec<Team>> = HashMap::new();
    for (k, v) in form {
        if let Some(i) = k.strip_prefix('g').and_then(|r| r.strip_suffix(".teams")).and_then(|i| i.parse().ok()) {
            let team = Team::parse(v)
                .ok_or_else(|| AppError::invalid(k.clone(), "cadre, grid_worker, volunteer or sampler"))?;
            teams.entry(i).or_default().push(team);
        } else {
            values.insert(k.as_str(), v.as_str());
        }
    }
    let get = |k: &str| values.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(t) = get("title") {
        plan.title = t.to_owned();
    }
    if let Some(m) = get("assembly_minutes") {
        plan.assembly_minutes =
            m.parse().map_err(|_| AppError::invalid("assembly_minutes", "whole minutes, such as 30"))?;
    }
    let mut used_keys: Vec<String> = plan.groups.iter().flat_map(|g| g.tasks.iter().map(|t| t.key.clone())).collect();
    for (i, group) in plan.groups.iter_mut().enumerate() {
        let f = |name: &str| format!("g{i}.{name}");
        if let Some(v) = get(&f("name")) {
            group.name = v.to_owned();
        }
        if let Some(v) = get(&f("lead")) {
            group.lead = v.to_owned();
        }
        // The team boxes come with the group (a hidden marker says the group was in the form).
        if get(&f("shown")).is_some() {
            group.teams = teams.remove(&i).unwrap_or_default();
        }
        let mut kept = Vec::with_capacity(group.tasks.len() + 1);
        for (j, mut task) in std::mem::take(&mut group.tasks).into_iter().enumerate() {
            let t = |name: &str| format!("g{i}.t{j}.{name}");
            if get(&t("remove")).is_some() {
                continue;
            }
            if let Some(v) = get(&t("title")) {
                task.title = v.to_owned();
            }
            if let Some(v) = get(&t("hours")) {
                task.due_minutes = minutes(&t("hours"), v)?;
            }
            kept.push(task);
        }
        if let Some(title) = get(&f("new.title")) {
            let field = f("new.hours");
            let due_minutes = minutes(
                &field,
                get(&field)
                    .ok_or_else(|| AppError::invalid(field.clone(), "hours after activation for the new task"))?,
            )?;
            let key = (1..).map(|n| format!("{}-{n}", group.key)).find(|k| !used_keys.contains(k)).expect("a free key");
            used_keys.push(key.clone());
            kept.push(TaskTemplate { key, title: title.to_owned(), title_en: String::new(), due_minutes });
        }
        group.tasks = kept;
    }
    Ok(plan)
}

/// `POST /plans/{key}/edit`: the form's changes to version `base` saved as the next version
/// (refused if another version was saved since).
pub(crate) async fn save(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(key): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    // The version the form was opened on; without one (a hand-made request), the latest.
    let base: Option<u32> = match form.iter().find(|(k, _)| k == "base") {
        Some((_, v)) => Some(v.parse().map_err(|_| AppError::invalid("base", "a plan version")).or_page(caller.lang)?),
        None => None,
    };
    let stored = plans::get(state.store.as_ref(), &caller.actor, &key, base, now).await.or_page(caller.lang)?;
    let base = stored.version;
    let plan = apply(stored.plan, &form).or_page(caller.lang)?;
    let (saved, _) =
        plans::save_edited(state.store.as_ref(), &caller.actor, plan, base, now).await.or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/plans/{}", saved.plan.key)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_domain::command::golden_24_hours;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn edits_add_and_remove_tasks() {
        let plan = golden_24_hours();
        let first = plan.groups[0].tasks[0].title.clone();
        let second = plan.groups[0].tasks[1].clone();
        let edited = apply(
            plan.clone(),
            &form(&[
                ("title", "镇级预案"),
                ("assembly_minutes", "20"),
                ("g0.name", "综合组"),
                ("g0.shown", "1"),
                ("g0.teams", "cadre"),
                ("g0.teams", "volunteer"),
                ("g0.t0.title", " 20分钟内集结 "),
                ("g0.t0.hours", "0.33"),
                ("g0.t1.remove", "on"),
                ("g0.new.title", "通报周边镇街"),
                ("g0.new.hours", "1.5"),
                ("g1.new.title", ""),
            ]),
        )
        .unwrap();
        assert_eq!((edited.title.as_str(), edited.assembly_minutes), ("镇级预案", 20));
        let g = &edited.groups[0];
        assert_eq!((g.name.as_str(), &g.teams), ("综合组", &vec![Team::Cadre, Team::Volunteer]));
        assert_eq!((g.tasks[0].title.as_str(), g.tasks[0].due_minutes), ("20分钟内集结", 20));
        assert_ne!(g.tasks[0].title, first);
        assert!(!g.tasks.iter().any(|t| t.key == second.key), "removed");
        let added = g.tasks.last().unwrap();
        assert_eq!(
            (added.title.as_str(), added.due_minutes, added.key.as_str()),
            ("通报周边镇街", 90, "coordination-1")
        );
        assert_eq!(edited.groups[1], plan.groups[1], "an untouched group stays as it was");
        assert!(edited.validate().is_ok());
    }

    #[test]
    fn bad_hours_name_the_field() {
        let err = apply(golden_24_hours(), &form(&[("g2.t0.hours", "两小时")])).unwrap_err();
        assert!(matches!(err, AppError::Invalid { ref field, .. } if field == "g2.t0.hours"), "{err:?}");
        let err = apply(golden_24_hours(), &form(&[("g2.new.title", "新任务")])).unwrap_err();
        assert!(matches!(err, AppError::Invalid { ref field, .. } if field == "g2.new.hours"), "{err:?}");
    }

    #[test]
    fn hours_read_back() {
        assert_eq!(
            (hours(30), hours(120), hours(20), hours(90)),
            ("0.5".into(), "2".into(), "0.33".into(), "1.5".into())
        );
    }
}
