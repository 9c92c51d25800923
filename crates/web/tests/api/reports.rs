//! The daily report through the API, on both engines: activation at 07:00 on 6 October, answers
//! that morning and the next, a task done late, a round with samples; then the report of each day
//! as a printable page (Chinese and English), a Word document read back from its zip and a PDF
//! read back through poppler's `pdftotext`. A past day's figures stop at its end; a day after
//! today, an unknown format or another town's incident are refused.

use crate::{
    command::{activate, add_staff},
    support::register,
};
use bulwark_testkit::{Client, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::io::Read;

const MINUTE: i64 = 60_000;

async fn fetch(client: &Client, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = client.request(Method::GET, path).send().await.expect("request");
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

fn text_of(html: &[u8]) -> String {
    String::from_utf8(html.to_vec()).expect("utf-8")
}

fn docx_text(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    zip.by_name("word/document.xml").expect("document.xml").read_to_string(&mut xml).unwrap();
    xml
}

fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (Debian: apt-get install poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().collect()
}

async fn daily_report(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    add_staff(&server).await;
    let commander = server.login("commander").await;
    let working = server.login("working_group").await;
    let incident = activate(&commander).await;
    let id = incident["id"].as_i64().unwrap();
    let rollcall = format!("/api/v1/incidents/{id}/rollcall");
    let (a, b) = (&f.people["A"], &f.people["B"]);

    // 07:10 one arrives in time; 07:40 another arrives late and the assembly task is done late.
    server.clock.advance(10 * MINUTE);
    let (status, _) =
        working.post(&rollcall, json!({"person_id": a[0], "status": "arrived", "place": "headquarters"})).await;
    assert_eq!(status, StatusCode::OK);
    server.clock.advance(30 * MINUTE);
    let (status, _) =
        working.post(&rollcall, json!({"person_id": b[0], "status": "arrived", "place": "forward_post"})).await;
    assert_eq!(status, StatusCode::OK);
    let assembly =
        incident["tasks"].as_array().unwrap().iter().find(|t| t["key"] == "assemble").expect("assembly task");
    let (status, task) = working
        .send(Method::PATCH, &format!("/api/v1/tasks/{}", assembly["id"]), Some(json!({"status": "done"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");

    // A round in village one, two people sampled at 08:00.
    let (status, round) = commander
        .post("/api/v1/rounds", json!({"name": "第一轮全员核酸", "areas": [f.code("village1")], "pool_size": 10}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": f.code("village1"), "hours": "00:00-24:00",
                   "lanes": [{"name": "1号", "kind": "normal"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    server.clock.advance(20 * MINUTE);
    let sampler = server.login("sampler").await;
    for (n, person) in b.iter().take(2).enumerate() {
        let body = json!({"round": round["id"], "site": site["id"], "lane": site["lanes"][0]["id"],
            "tube": "EP7000001", "person": {"person_id": person}});
        let (status, r) = register(&sampler, &format!("0190a5b2-0000-7000-8000-{:012}", 900 + n), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }

    // The lab finds the pool positive: a notable figure in the incident's timeline.
    let lab = server.login("lab").await;
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP7000001", "result": "阳性"}])).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, timeline) = commander.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let figure = timeline.as_array().unwrap().iter().find(|e| e["kind"] == "figure").expect("a figure entry");
    assert!(figure["text"].as_str().unwrap().starts_with("检出核酸检测异常混管1管：EP7000001"), "{figure}");

    // The next day at 09:00 a third member arrives.
    server.clock.advance(25 * 60 * MINUTE);
    // Sessions do not last a day: sign in again.
    let (commander, working) = (server.login("commander").await, server.login("working_group").await);
    let (status, _) =
        working.post(&rollcall, json!({"person_id": a[1], "status": "arrived", "place": "headquarters"})).await;
    assert_eq!(status, StatusCode::OK);

    // Today's report (7 Oct, as of 09:00): three arrived, one in time; the round's two people.
    let (status, kind, body) = fetch(&commander, &format!("/api/v1/incidents/{id}/report")).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&body));
    assert!(kind.starts_with("text/html"), "{kind}");
    let html = text_of(&body);
    assert!(html.contains("截至10月7日9时，一号镇共完成2人核酸检测采样工作。"), "{html}");
    assert!(html.contains("应到12人，已应答3人，已到岗3人，其中在集结时限（7时30分）前到岗1人"), "{html}");
    assert!(html.contains("第一轮全员核酸"));
    assert!(!html.contains("<script"), "the printable page runs no script");

    // 6 October's report stops at midnight: the third arrival is not in it, the late task is.
    let (status, _, body) =
        fetch(&commander, &format!("/api/v1/incidents/{id}/report?date=2022-10-06&format=html")).await;
    assert_eq!(status, StatusCode::OK);
    let html = text_of(&body);
    assert!(html.contains("截至10月7日0时"), "{html}");
    assert!(html.contains("已到岗2人，其中在集结时限（7时30分）前到岗1人"), "{html}");
    assert!(html.contains("超时完成"), "the assembly task was done late: {html}");
    assert!(html.contains("检出核酸检测异常混管1管：EP7000001"), "the day's events: {html}");
    assert!(html.contains("异常混管1管"), "{html}");

    // English on asking.
    let (status, _, body) = fetch(&commander, &format!("/api/v1/incidents/{id}/report?lang=en")).await;
    assert_eq!(status, StatusCode::OK);
    let html = text_of(&body);
    assert!(html.contains("As of 09:00 on 7 Oct, 2 people in"), "{html}");

    // Word: the same sentences, in a real .docx.
    let (status, kind, body) = fetch(&commander, &format!("/api/v1/incidents/{id}/report?format=docx")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    let xml = docx_text(&body);
    assert!(xml.contains("截至10月7日9时，一号镇共完成2人核酸检测采样工作。"), "{xml}");
    assert!(xml.contains("湴朗村委会采样点"));

    // PDF, typeset with the machine's CJK font and read back.
    let (status, kind, body) =
        fetch(&commander, &format!("/api/v1/incidents/{id}/report?date=2022-10-06&format=pdf")).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&body));
    assert_eq!(kind, "application/pdf");
    let text = pdf_text(&body);
    assert!(text.contains("一号镇疫情防控工作日报"), "{text}");
    assert!(text.contains("截至10月7日0时，一号镇共完成2人核酸检测采样工作。"), "{text}");

    // Refusals: a day not yet begun or before the incident, a bad date or format; another town.
    for (query, field) in
        [("date=2022-10-08", "date"), ("date=2022-10-05", "date"), ("date=7.10", "date"), ("format=xls", "format")]
    {
        let (status, body) = commander.get(&format!("/api/v1/incidents/{id}/report?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let other = server.login("commander_two").await;
    let (status, _) = other.get(&format!("/api/v1/incidents/{id}/report")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let grid_worker = server.login("gridworker_a").await;
    let (status, _) = grid_worker.get(&format!("/api/v1/incidents/{id}/report")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The page with the app's navigation, the date picker and the downloads.
    let (status, _, body) = fetch(&commander, &format!("/incidents/{id}/report?date=2022-10-06")).await;
    assert_eq!(status, StatusCode::OK);
    let page = text_of(&body);
    assert!(page.contains("id=\"report-pdf\"") && page.contains("format=docx"), "{page}");
    assert!(page.contains("截至10月7日0时"));
}

#[tokio::test]
async fn daily_report_sqlite() {
    daily_report(Engine::Sqlite).await;
}

#[tokio::test]
async fn daily_report_postgres() {
    daily_report(Engine::Postgres).await;
}
