//! Mass testing through the API, exactly as the contract of the issue states it, on both engines:
//! rounds, sites, idempotent registrations (201, replay 200, reused key 422, no key 400),
//! the outbox batch, sealing, lab results, progress, coverage, the door-knock list and abnormal
//! pools with their members.

use crate::support::{Agent, Log, audit_log, register};
use bulwark_testkit::{Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Setup {
    round: i64,
    site: i64,
    lane: i64,
    green: i64,
}

async fn setup(server: &TestServer) -> Setup {
    let commander = server.login("commander").await;
    let (status, round) = commander
        .post(
            "/api/v1/rounds",
            json!({"name": "第一轮全员核酸", "areas": [server.fixture.code("village1")], "pool_size": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": server.fixture.code("village1"), "hours": "07:00-22:00",
                   "lanes": [{"name": "1号", "kind": "normal"}, {"name": "绿色通道", "kind": "green_channel"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    Setup {
        round: round["id"].as_i64().unwrap(),
        site: site["id"].as_i64().unwrap(),
        lane: site["lanes"][0]["id"].as_i64().unwrap(),
        green: site["lanes"][1]["id"].as_i64().unwrap(),
    }
}

fn key(n: u32) -> String {
    format!("0190a5b2-0000-7000-8000-{n:012}")
}

async fn contract(engine: Engine) {
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let sampler = server.login("sampler").await;
    let people = &server.fixture.people["A"];
    let body = |tube: &str, person: i64| json!({"round": s.round, "site": s.site, "lane": s.lane, "tube": tube, "person": {"person_id": person}, "device_time": "2022-10-06T08:00:00+08:00"});

    // 201, then a replay answers 200 with the same body; another body with the key is 422.
    let (status, first) = register(&sampler, &key(1), &body("EP0000001", people[0])).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["tube"]["state"], "open");
    assert_eq!(first["tube"]["members"], 1);
    assert_eq!(first["flags"], json!([]));
    assert!(first["registration"]["person"]["document"].as_str().unwrap().contains("********"));
    let (status, second) = register(&sampler, &key(2), &body("EP0000001", people[1])).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (status, replay) = register(&sampler, &key(1), &body("EP0000001", people[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay, first, "a replay answers exactly the original body");
    let (status, reused) = register(&sampler, &key(1), &body("EP0000001", people[2])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    assert_eq!(reused["code"], "idempotency_key_reused");
    let (status, missing) = sampler.post("/api/v1/registrations", body("EP0000001", people[2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{missing}");

    // By ID number, and a visitor registered on the spot.
    let id_number = server.fixture.canaries[&people[2]].0.clone();
    let by_id = json!({"round": s.round, "site": s.site, "lane": s.green, "tube": "EP0000001", "person": {"id_number": id_number}});
    let (status, r) = register(&sampler, &key(3), &by_id).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["registration"]["person"]["id"], people[2]);
    let visitor = json!({"round": s.round, "site": s.site, "tube": "EP0000001",
        "person": {"document_type": "passport", "document_number": "E12345678", "name": "李司机", "phone": "13800138000"}});
    let (status, v) = register(&sampler, &key(4), &visitor).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["flags"], json!(["registered_on_spot"]));
    // Bad input names the field.
    let bad = json!({"round": s.round, "site": s.site, "tube": "管子", "person": {"person_id": people[3]}});
    let (status, e) = register(&sampler, &key(5), &bad).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tube")), "{e}");
    // Nobody with that id, ID number or code: the field is named and nothing is stored (the
    // round's progress below counts the registrations).
    let nobody =
        |person: serde_json::Value| json!({"round": s.round, "site": s.site, "tube": "EP0000003", "person": person});
    for (n, (person, field)) in [
        (json!({"person_id": 999_999_999}), "person.person_id"),
        (json!({"id_number": "11010519491231002X"}), "person.id_number"),
        (json!({"qr": "NOSUCHCODE"}), "person.qr"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, e) = register(&sampler, &key(6 + n as u32), &nobody(person)).await;
        assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{e}");
    }

    // The outbox batch: one answer per item, in order.
    let items = json!({"items": [
        {"key": key(10), "round": s.round, "site": s.site, "tube": "EP0000002", "person": {"person_id": people[3]}},
        {"key": key(13), "round": s.round, "site": s.site, "tube": "EP0000002", "person": {"qr": "NOSUCHCODE"}},
        {"key": key(1), "round": s.round, "site": s.site, "lane": s.lane, "tube": "EP0000001", "person": {"person_id": people[0]}, "device_time": "2022-10-06T08:00:00+08:00"},
        {"key": "not-a-uuid", "round": s.round, "site": s.site, "tube": "EP0000002", "person": {"person_id": people[4]}},
        {"key": key(11), "round": s.round, "site": s.site, "tube": "EP0000002", "person": {"person_id": people[0]}},
        // Round and site as the items before, checked again item by item: a lane of no site, a round of none.
        {"key": key(14), "round": s.round, "site": s.site, "lane": 999_999, "tube": "EP0000002", "person": {"person_id": people[4]}},
        {"key": key(15), "round": 999_999, "site": s.site, "tube": "EP0000002", "person": {"person_id": people[4]}}
    ]});
    let (status, batch) = sampler.post("/api/v1/registrations/batch", items).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let statuses: Vec<i64> =
        batch["results"].as_array().unwrap().iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 422, 200, 422, 201, 422, 422], "{batch}");
    assert_eq!(
        (batch["results"][5]["error"]["field"].as_str(), batch["results"][6]["error"]["field"].as_str()),
        (Some("lane"), Some("round")),
        "{batch}"
    );
    assert_eq!(batch["results"][1]["error"]["field"], "person.qr", "nobody with that code, among scans found: {batch}");
    assert_eq!(batch["results"][2]["body"], first);
    assert_eq!(batch["results"][4]["body"]["flags"], json!(["duplicate_in_round"]));

    // Seal by hand; a late scan is stored and flagged.
    let (status, sealed) = sampler.post("/api/v1/tubes/EP0000002/seal", json!({})).await;
    assert_eq!((status, sealed["state"].as_str()), (StatusCode::OK, Some("sealed")), "{sealed}");
    let (status, late) = register(&sampler, &key(12), &body("EP0000002", people[4])).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(late["flags"], json!(["after_seal"]));

    // Figures.
    let commander = server.login("commander").await;
    let (status, progress) = commander.get(&format!("/api/v1/rounds/{}/progress", s.round)).await;
    assert_eq!(status, StatusCode::OK, "{progress}");
    assert_eq!((progress["sampled"].as_i64(), progress["registrations"].as_i64()), (Some(6), Some(7)), "{progress}");
    let village = server.fixture.code("village1");
    let (status, coverage) = commander.get(&format!("/api/v1/rounds/{}/coverage?area={village}", s.round)).await;
    assert_eq!(status, StatusCode::OK, "{coverage}");
    let grid_a = coverage.as_array().unwrap().iter().find(|c| c["code"] == server.fixture.code("A")).unwrap();
    assert_eq!(
        (grid_a["target"].as_i64(), grid_a["sampled"].as_i64()),
        (Some(people.len() as i64), Some(5)),
        "{coverage}"
    );

    // The grid worker's door-knock list: her residents not yet sampled.
    let grid_worker = server.login("gridworker_a").await;
    let (status, untested) =
        grid_worker.get(&format!("/api/v1/rounds/{}/untested?area={}", s.round, server.fixture.code("A"))).await;
    assert_eq!(status, StatusCode::OK, "{untested}");
    let ids: Vec<i64> = untested.as_array().unwrap().iter().map(|u| u["person_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, people[5..].to_vec());
    let (status, _) = grid_worker
        .post(
            &format!("/api/v1/rounds/{}/door-knocks", s.round),
            json!({"person_id": people[5], "outcome": "cannot_walk", "note": "卧床"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, visits) = grid_worker.get(&format!("/api/v1/rounds/{}/home-visits", s.round)).await;
    assert_eq!(visits[0]["reason"], "door_knock", "{visits}");
    let (status, _) =
        grid_worker.get(&format!("/api/v1/rounds/{}/untested?area={}", s.round, server.fixture.code("B"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another grid's list is refused");

    // Lab results: an abnormal pool lists its members at once.
    let lab = server.login("lab").await;
    let (status, report) = lab
        .post(
            "/api/v1/lab-results",
            json!([{"tube": "EP0000001", "result": "可疑", "ct_orf1ab": 33.1}, {"tube": "EP0000002", "result": "阴性"},
                   {"tube": "EP9999999", "result": "阳性"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["abnormal"], json!(["EP0000001"]));
    assert_eq!(report["review"][0]["reason"], "unknown_tube");
    let (status, pools) = commander.get(&format!("/api/v1/rounds/{}/abnormal-pools", s.round)).await;
    assert_eq!(status, StatusCode::OK, "{pools}");
    assert_eq!(pools[0]["state"], "held");
    assert_eq!(pools[0]["members"].as_array().unwrap().len(), 4, "{pools}");
    assert!(pools[0]["members"].as_array().unwrap().iter().all(|m| m["hold"] == true));
    // A late scan into the abnormal tube shows up on the list at once.
    let (status, late) = register(&sampler, &key(13), &body("EP0000001", people[5])).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(late["flags"], json!(["after_result"]));
    let (_, pools) = commander.get(&format!("/api/v1/rounds/{}/abnormal-pools", s.round)).await;
    assert_eq!(pools[0]["members"].as_array().unwrap().len(), 5);
    // Roles: a lab may not register swabs; a sampler may not read pools' members.
    let (status, _) = register(&lab, &key(14), &body("EP0000003", people[0])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = sampler.get(&format!("/api/v1/rounds/{}/abnormal-pools", s.round)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn testing_contract_sqlite() {
    contract(Engine::Sqlite).await;
}

#[tokio::test]
async fn testing_contract_postgres() {
    contract(Engine::Postgres).await;
}

/// A lab's file in Chinese Excel's CSV (GB18030), then an XLSX with the lab's own headers and a
/// saved mapping: results land, bad rows are named, an abnormal pool is listed.
async fn lab_file_import(engine: Engine) {
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let sampler = server.login("sampler").await;
    let people = &server.fixture.people["A"];
    for (i, p) in people.iter().take(3).enumerate() {
        let body = json!({"round": s.round, "site": s.site, "tube": "EP0000101", "person": {"person_id": p}});
        assert_eq!(register(&sampler, &key(100 + i as u32), &body).await.0, StatusCode::CREATED);
    }
    let body = json!({"round": s.round, "site": s.site, "tube": "EP0000102", "person": {"person_id": people[3]}});
    assert_eq!(register(&sampler, &key(110), &body).await.0, StatusCode::CREATED);

    let lab = server.login("lab").await;
    let csv = "条码号,检测结果,ORF1ab基因Ct值,N基因Ct值,报告时间\r\nEP0000101,阴性,,,2022/10/6 15:30\r\nEP0000102,阴性,,,2022/10/6 15:30\r\nEP001,阳性,30,31,2022/10/6 15:30\r\n";
    let (bytes, _, _) = encoding_rs::GB18030.encode(csv);
    let (status, report) = lab.upload("/api/v1/imports/lab-results", "结果.csv", bytes.into_owned()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["total_rows"].as_i64(), report["imported"].as_i64(), report["rejected"].as_i64()),
        (Some(3), Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["row"], 4);
    assert_eq!(report["errors"][0]["column"], "条码号");
    assert_eq!(report["results"]["applied"], 2);

    // Another lab with its own headers: the mapping is sent once and saved under the lab's name.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["管号", "判定", "采集时间"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "EP0000101").unwrap();
    sheet.write_string(1, 1, "阳性").unwrap();
    sheet.write_string(1, 2, "2022-10-06 09:00").unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    let mapping = r#"{"tube_code":"管号","result":"判定","sampled_at":"采集时间"}"#;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(xlsx.clone()).file_name("江门.xlsx"))
        .text("mapping", mapping);
    let response =
        lab.request(Method::POST, "/api/v1/imports/lab-results?lab=江门检测中心").multipart(form).send().await.unwrap();
    let (status, report) = bulwark_testkit::decode(response).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["results"]["abnormal"], json!(["EP0000101"]), "{report}");
    assert_eq!(
        report["results"]["review"][0]["reason"], "conflict",
        "a positive after a negative is reviewed, and wins"
    );
    // Next time the saved mapping is used without being sent.
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(xlsx).file_name("江门.xlsx"));
    let response =
        lab.request(Method::POST, "/api/v1/imports/lab-results?lab=江门检测中心").multipart(form).send().await.unwrap();
    let (status, report) = bulwark_testkit::decode(response).await;
    assert_eq!((status, report["results"]["unchanged"].as_i64()), (StatusCode::OK, Some(1)), "{report}");

    let commander = server.login("commander").await;
    let (_, pools) = commander.get(&format!("/api/v1/rounds/{}/abnormal-pools", s.round)).await;
    assert_eq!(pools[0]["tube"], "EP0000101");
    assert_eq!(pools[0]["members"].as_array().unwrap().len(), 3, "{pools}");

    // A file of several megabytes (a lab's day runs to 20 MiB per file) goes through the
    // multipart form: 40 rows with a long remark column make 4 MB, past axum's 2 MB default.
    let remark = "备".repeat(35_000);
    let mut big = String::from("条码号,检测结果,报告时间,备注\r\n");
    for _ in 0..40 {
        big.push_str(&format!("EP0000102,阴性,2022/10/6 16:00,{remark}\r\n"));
    }
    assert!(big.len() > 4_000_000);
    let (status, report) = lab.upload("/api/v1/imports/lab-results", "全天.csv", big.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["total_rows"].as_i64(), report["imported"].as_i64()), (Some(40), Some(40)), "{report}");
}

#[tokio::test]
async fn lab_file_import_sqlite() {
    lab_file_import(Engine::Sqlite).await;
}

#[tokio::test]
async fn lab_file_import_postgres() {
    lab_file_import(Engine::Postgres).await;
}

/// `POOLS` abnormal pools of twelve people: every pool once in result order, and each person
/// audited once for the request however many pools she is in. The last person is in the last pool
/// alone, so when her audit fails (`cut_short`) the answer is cut short after the first batch of
/// pools.
async fn abnormal_pools_many<const POOLS: usize>(engine: Engine, cut_short: bool) {
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let sampler = server.login("sampler").await;
    let people: Vec<i64> = server.fixture.people["A"].iter().chain(&server.fixture.people["B"]).copied().collect();
    let last = *people.last().unwrap();
    let member = |n: usize| if n == POOLS - 1 { last } else { people[n % (people.len() - 1)] };
    let tube = |n: usize| format!("EP{:07}", 1000 + n);
    for first in (0..POOLS).step_by(100) {
        let items: Vec<_> = (first..(first + 100).min(POOLS))
            .map(|n| {
                json!({"key": key(1000 + n as u32), "round": s.round, "site": s.site, "tube": tube(n),
                            "person": {"person_id": member(n)}})
            })
            .collect();
        let (status, batch) = sampler.post("/api/v1/registrations/batch", json!({ "items": items })).await;
        assert_eq!(status, StatusCode::OK, "{batch}");
    }
    let results: Vec<_> = (0..POOLS).map(|n| json!({"tube": tube(n), "result": "阳性"})).collect();
    let (status, report) = server.login("lab").await.post("/api/v1/lab-results", json!(results)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let commander = server.login("commander").await;
    let path = format!("/api/v1/rounds/{}/abnormal-pools", s.round);
    let (status, pools) = commander.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{pools}");
    let tubes: Vec<&str> = pools.as_array().unwrap().iter().map(|p| p["tube"].as_str().unwrap()).collect();
    assert_eq!(tubes, (0..POOLS).map(tube).collect::<Vec<_>>(), "every pool once, in result order");
    let members: Vec<i64> =
        pools.as_array().unwrap().iter().map(|p| p["members"][0]["person_id"].as_i64().unwrap()).collect();
    assert_eq!(members, (0..POOLS).map(member).collect::<Vec<_>>());
    let auditor = Agent::bearer(&server, "auditor", &Log::default()).await;
    let read_by_list = |log: &[serde_json::Value]| -> Vec<i64> {
        let mut read: Vec<i64> = log
            .iter()
            .filter(|e| e["operation"] == "abnormal_pools_read")
            .map(|e| e["person"].as_i64().unwrap())
            .collect();
        read.sort_unstable();
        read
    };
    let mut expected = people.clone();
    expected.sort_unstable();
    assert_eq!(read_by_list(&audit_log(&auditor).await), expected, "each member audited once for the request");
    if !cut_short {
        return;
    }

    // The answer goes out a batch of pools at a time (250 pools a batch), each once its members'
    // audit committed: an audit that fails after the first batch cuts the answer short, and shows
    // nobody unaudited.
    server.raw.break_audit_log_for(last).await;
    let mut response = commander.request(Method::GET, &path).send().await.expect("the answer begins");
    assert_eq!(response.status(), StatusCode::OK, "the first batch was audited");
    let mut received = Vec::new();
    let ended = loop {
        match response.chunk().await {
            Ok(Some(piece)) => received.extend_from_slice(&piece),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let received = String::from_utf8_lossy(&received);
    let tail = &received[received.floor_char_boundary(received.len().saturating_sub(300))..];
    assert!(ended.is_err(), "the answer is cut short, not ended as if whole: …{tail}");
    assert!(received.contains(&tube(0)), "the first batch arrived");
    assert!(!received.contains(&tube(POOLS - 1)), "the last pool did not: …{tail}");
    assert!(!received.contains(&format!("\"person_id\":{last}")), "nor its member: …{tail}");
    // Everyone was audited by both lists but her, whom the first list alone showed.
    let mut twice: Vec<i64> = people.iter().chain(people.iter().filter(|&&p| p != last)).copied().collect();
    twice.sort_unstable();
    assert_eq!(read_by_list(&audit_log(&auditor).await), twice, "the second list audited all but her");
}

#[tokio::test]
async fn abnormal_pools_many_sqlite() {
    abnormal_pools_many::<300>(Engine::Sqlite, true).await;
}

#[tokio::test]
async fn abnormal_pools_many_postgres() {
    abnormal_pools_many::<300>(Engine::Postgres, true).await;
}

/// Six batches of pools: after the first, those read while an audit commits are audited together,
/// and every piece still goes out once, in order.
#[tokio::test]
async fn abnormal_pools_in_many_batches_sqlite() {
    abnormal_pools_many::<1_500>(Engine::Sqlite, false).await;
}

#[tokio::test]
async fn abnormal_pools_in_many_batches_postgres() {
    abnormal_pools_many::<1_500>(Engine::Postgres, false).await;
}
