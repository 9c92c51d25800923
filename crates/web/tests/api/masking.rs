//! Reliability §3 (j): masking and minimisation.
//!
//! The responses of the authorization matrix, the list checks and the audit workload (all run
//! here on one server) are scanned for the fixture's canary ID numbers and phones and for any
//! full mobile number or checksum-valid ID number. The only place a full value may appear is the
//! body of a reveal (API or page) answered 200 to a role that may reveal, and only the revealed
//! person's own values. Every reveal is audited with its reason; a reveal without a reason is
//! refused with 422, and roles without `persons_reveal` get 403.
//!
//! A second test types full values where free text goes (a reveal's reason, a username at the
//! login): the audit log must still hold no full ID number or phone (§3 (f) step 7).

use crate::{
    audit_completeness::{read_workload, revealed_person},
    authorization_matrix::run_matrix,
    list_scoping::run_lists,
    support::{Agent, Body, Log, PersonIndex, audit_log, canaries_in, excerpt, sensitive_values},
};
use bulwark_domain::access::{Operation, Role, allows};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

async fn masking_scan(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let _ = run_matrix(&server, &log).await;
    let _ = run_lists(&server, &log).await;
    let _ = read_workload(&server, &log).await;

    // An import whose rows carry canaries: a registered ID number, one with a wrong check
    // character, a canary phone on a row that fails.
    let commander = Agent::bearer(&server, "commander", &log).await;
    let (c_id, c_phone) = f.canaries[&f.people["C"][0]].clone();
    let (a_id, _) = f.canaries[&f.people["A"][1]].clone();
    let wrong_check = format!("{}{}", &a_id[..17], if a_id.ends_with('0') { '1' } else { '0' });
    let csv = format!(
        "name,id_number,phone,grid\n重复,{c_id},,{grid}\n错号,{wrong_check},,{grid}\n坏号,12345,{c_phone},{grid}\n",
        grid = f.code("A")
    );
    let r = commander
        .send(reqwest::Method::POST, "/api/v1/imports/residents?dry_run=true", Body::File(csv.into_bytes()), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Registering someone already registered (inside and outside the scope): the conflict must
    // not echo the number.
    for (document, phone) in [f.canaries[&f.people["A"][3]].clone(), (c_id.clone(), c_phone.clone())] {
        let body = json!({"name": "重复登记", "document_number": document, "phone": phone, "area": crate::support::household(&server, "A")});
        let r = commander.post("/api/v1/persons", body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    }

    // Reveals without a reason, and by roles that may not reveal.
    let grid_worker = Agent::bearer(&server, "gridworker_a", &log).await;
    let target = f.people["A"][2];
    let path = format!("/api/v1/persons/{target}/reveal");
    let mut violations = Vec::new();
    for body in
        [json!({}), json!({"reason": ""}), json!({"reason": "   "}), json!({"reason": "x"}), json!({"reason": null})]
    {
        let r = grid_worker.post(&path, body.clone()).await;
        if r.status != StatusCode::UNPROCESSABLE_ENTITY {
            violations.push(format!("reveal with {body}: expected 422, got {} {}", r.status, excerpt(&r.text)));
        }
    }
    let page_reveal = grid_worker
        .send(
            reqwest::Method::POST,
            &format!("/persons/{target}/reveal"),
            Body::Form(vec![("reason".into(), String::new())]),
            &[],
        )
        .await;
    if page_reveal.status != StatusCode::UNPROCESSABLE_ENTITY {
        violations.push(format!("page reveal without a reason: expected 422, got {}", page_reveal.status));
    }
    for (username, role, scope) in &f.accounts {
        if allows(*role, Operation::PersonsReveal) {
            continue;
        }
        let home = crate::support::home_grid(&server, f.area(scope));
        let agent = Agent::bearer(&server, username, &log).await;
        let r = agent.post(&format!("/api/v1/persons/{}/reveal", f.people[home][0]), json!({"reason": "核对"})).await;
        if r.status != StatusCode::FORBIDDEN {
            violations.push(format!("{username} ({role}) revealing: expected 403, got {}", r.status));
        }
    }

    // The scan.
    let index = PersonIndex::load(&server).await;
    let exchanges = log.exchanges();
    let mut hits: BTreeMap<String, usize> = BTreeMap::new();
    let mut reveals = Vec::new();
    for x in &exchanges {
        let mut found = canaries_in(&server, &x.text);
        found.extend(sensitive_values(&x.text));
        found.sort();
        found.dedup();
        let revealed = revealed_person(x).filter(|_| x.status == StatusCode::OK);
        if let Some(person) = revealed {
            reveals.push((x.agent.clone(), person, x.reason.clone()));
            if !x.role.is_some_and(|r| allows(r, Operation::PersonsReveal)) {
                violations.push(format!("{} ({:?}) was answered a reveal of person {person}", x.agent, x.role));
            }
            let own: Vec<String> =
                index.values.iter().filter(|(_, id)| *id == person).map(|(v, _)| v.clone()).collect();
            found.retain(|v| !own.contains(v));
        }
        // An export writes whole numbers for a role that may reveal them (each is audited as a
        // reveal: the audit completeness suite checks that); for any other role, none.
        if x.status == StatusCode::OK
            && crate::support::is_export(x.route())
            && x.role.is_some_and(|r| allows(r, Operation::PersonsReveal))
        {
            found.clear();
        }
        if !found.is_empty() {
            let role = x.role.map_or("none", Role::as_str);
            *hits.entry(format!("{role} {} {}", x.method, crate::support::excerpt(x.route()))).or_default() += 1;
            violations.push(format!(
                "{} {} {} ({}) shows full values {found:?}: {}",
                x.agent,
                x.method,
                x.path,
                x.status,
                excerpt(&x.text)
            ));
        }
    }

    // Every reveal is audited with its reason.
    let auditor = Agent::bearer(&server, "auditor", &Log::default()).await;
    let mut entries = audit_log(&auditor).await;
    let mut audited = 0;
    for (agent, person, reason) in &reveals {
        let found = entries.iter().position(|e| {
            e["operation"] == "persons_reveal"
                && e["outcome"] == "success"
                && e["username"] == agent.as_str()
                && e["person"] == *person
                && e["detail"].as_str() == reason.as_deref()
        });
        match found {
            Some(i) => {
                entries.remove(i);
                audited += 1;
            }
            None => violations.push(format!(
                "{agent}'s reveal of person {person} (reason {reason:?}) has no audit entry with its reason"
            )),
        }
    }
    // Exports' reveals (reason "export") are matched to their downloads by the audit
    // completeness suite.
    let unanswered = entries
        .iter()
        .filter(|e| e["operation"] == "persons_reveal" && e["outcome"] == "success" && e["detail"] != "export")
        .count();
    if unanswered > 0 {
        violations.push(format!("{unanswered} successful reveal entries match no reveal that was answered"));
    }
    println!(
        "masking scan on {engine:?}: {} responses scanned, full-value hits by role and endpoint {hits:?}, {} reveals, {audited} audited reveals, {} violations",
        exchanges.len(),
        reveals.len(),
        violations.len()
    );
    assert!(!reveals.is_empty(), "the workload revealed someone");
    assert!(violations.is_empty(), "{} violations:\n  {}", violations.len(), violations.join("\n  "));
}

#[tokio::test]
async fn masking_scan_sqlite() {
    masking_scan(Engine::Sqlite).await;
}

#[tokio::test]
async fn masking_scan_postgres() {
    masking_scan(Engine::Postgres).await;
}

/// Full values typed into free text do not end up in the audit log.
async fn free_text_keeps_full_values_out_of_the_audit(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let person = f.people["A"][0];
    let (id_number, phone) = f.canaries[&person].clone();
    let commander = Agent::bearer(&server, "commander", &log).await;
    let reason = format!("回拨 {phone} 核对身份证 {id_number}");
    let r = commander.post(&format!("/api/v1/persons/{person}/reveal"), json!({"reason": reason})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // People sign in with their phone or ID number by mistake.
    let anonymous = Agent::anonymous(&server, &log);
    for username in [phone.clone(), id_number.to_lowercase()] {
        let r = anonymous.post("/api/v1/auth/login", json!({"username": username, "password": PASSWORD})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }

    let auditor = Agent::bearer(&server, "auditor", &log).await;
    let entries = audit_log(&auditor).await;
    let mut violations = Vec::new();
    for e in &entries {
        let text = e.to_string();
        let mut found = canaries_in(&server, &text);
        found.extend(sensitive_values(&text));
        found.sort();
        found.dedup();
        if !found.is_empty() {
            violations.push(format!(
                "audit entry {} ({} by {}) holds {found:?}: {}",
                e["seq"],
                e["operation"],
                e["username"],
                excerpt(&text)
            ));
        }
    }
    let reveal = entries.iter().find(|e| e["operation"] == "persons_reveal" && e["person"] == person);
    if reveal.is_none_or(|e| e["detail"].as_str().is_none_or(str::is_empty)) {
        violations.push("the reveal's entry keeps no reason".into());
    }
    assert!(violations.is_empty(), "{} violations:\n  {}", violations.len(), violations.join("\n  "));
}

#[tokio::test]
async fn free_text_keeps_full_values_out_of_the_audit_sqlite() {
    free_text_keeps_full_values_out_of_the_audit(Engine::Sqlite).await;
}

#[tokio::test]
async fn free_text_keeps_full_values_out_of_the_audit_postgres() {
    free_text_keeps_full_values_out_of_the_audit(Engine::Postgres).await;
}
