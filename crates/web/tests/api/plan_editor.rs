//! The plan editor form through a cookie session, on both engines: the commander changes the
//! golden-24-hours plan from its page (a task's title and hours, a team, a task removed, one
//! added) and gets the next version; a form opened on an older version is refused rather than
//! overwriting what someone saved since; bad hours name the field; a working-group member may
//! read the plan but not save it.

use crate::support::browser;
use bulwark_testkit::{Engine, TestServer};
use reqwest::{StatusCode, header};

async fn plan_editor(engine: Engine) {
    let server = TestServer::start(engine).await;
    let commander = browser(&server, "commander").await;
    let url = |p: &str| format!("{}{p}", server.url);

    let page = commander.get(url("/plans/golden-24h")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"plan-form\"") && page.contains("name=\"g0.t0.hours\" value=\"0.5\""), "{page}");

    let form = [
        ("base", "0"),
        ("title", "镇级突发疫情应急预案"),
        ("assembly_minutes", "20"),
        ("g0.shown", "1"),
        ("g0.name", "综合协调组"),
        ("g0.lead", "镇长"),
        ("g0.teams", "cadre"),
        ("g0.teams", "volunteer"),
        ("g0.t0.title", "全体工作人员20分钟内集结完毕"),
        ("g0.t0.hours", "0.33"),
        ("g0.t1.remove", "on"),
        ("g0.new.title", "通报相邻镇街"),
        ("g0.new.hours", "1.5"),
    ];
    let r = commander.post(url("/plans/golden-24h/edit")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()[header::LOCATION], "/plans/golden-24h");

    let saved: serde_json::Value =
        commander.get(url("/api/v1/plans/golden-24h")).send().await.unwrap().json().await.unwrap();
    assert_eq!((saved["title"].as_str(), saved["assembly_minutes"].as_u64()), (Some("镇级突发疫情应急预案"), Some(20)));
    let g = &saved["groups"][0];
    assert_eq!(g["lead"], "镇长");
    assert_eq!(g["teams"], serde_json::json!(["cadre", "volunteer"]));
    let tasks = g["tasks"].as_array().unwrap();
    assert_eq!(
        (tasks[0]["title"].as_str(), tasks[0]["due_minutes"].as_u64()),
        (Some("全体工作人员20分钟内集结完毕"), Some(20))
    );
    assert!(!tasks.iter().any(|t| t["key"] == "set-up-command"), "removed: {tasks:?}");
    let added = tasks.last().unwrap();
    assert_eq!((added["title"].as_str(), added["due_minutes"].as_u64()), (Some("通报相邻镇街"), Some(90)));
    let list: serde_json::Value = commander.get(url("/api/v1/plans")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["version"], 1, "the edit is version 1: {list}");

    // The same form again, still based on version 0: someone saved since, so it is refused.
    let r = commander.post(url("/plans/golden-24h/edit")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("version 1"));

    // Bad hours name the field; nothing is saved.
    let r = commander
        .post(url("/plans/golden-24h/edit"))
        .form(&[("base", "1"), ("g2.t0.hours", "两小时")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("g2.t0.hours"));
    let list: serde_json::Value = commander.get(url("/api/v1/plans")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["version"], 1);

    // A working-group member reads plans but does not change them.
    let member = browser(&server, "working_group").await;
    let page = member.get(url("/plans/golden-24h")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("id=\"plan-form\""));
    let r = member.post(url("/plans/golden-24h/edit")).form(&[("base", "1"), ("title", "改")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn plan_editor_sqlite() {
    plan_editor(Engine::Sqlite).await;
}

#[tokio::test]
async fn plan_editor_postgres() {
    plan_editor(Engine::Postgres).await;
}
