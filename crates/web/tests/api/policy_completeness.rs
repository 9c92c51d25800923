//! Reliability §3 (d), completeness gate: every operation of the OpenAPI document has a row in
//! the policy table, and every row (except the public and self-service ones) is reachable
//! through the API. An endpoint added later cannot skip authorization unnoticed.

use crate::support::{api_operations, served_document};
use bulwark_domain::access::{Operation, POLICY};
use bulwark_testkit::{Engine, TestServer};
use std::collections::BTreeSet;

/// Operations that need no role: open to anyone, or about the caller's own session.
fn public_or_self(op: Operation) -> bool {
    op.is_public() || matches!(op, Operation::Logout | Operation::Me)
}

async fn policy_completeness(engine: Engine) {
    let server = TestServer::start(engine).await;
    let served = served_document(&server).await;
    let built = serde_json::to_value(bulwark_web::openapi_document()).expect("document serialises");
    assert_eq!(served, built, "the served document is the one the code builds");

    let ops = api_operations(&served);
    assert!(!ops.is_empty(), "the document has operations");
    let mut problems = Vec::new();
    let mut seen_ids = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for op in &ops {
        let where_ = format!("{} {} (operationId {:?})", op.method, op.template, op.operation_id);
        if op.operation_id.is_empty() {
            problems.push(format!("{where_}: no operationId"));
            continue;
        }
        if !seen_ids.insert(op.operation_id.clone()) {
            problems.push(format!("{where_}: operationId used twice"));
        }
        match Operation::parse(op.policy_name()) {
            Some(o) => {
                covered.insert(o.as_str());
                if !POLICY.iter().any(|(row, _)| *row == o) {
                    problems.push(format!("{where_}: {o:?} has no row in POLICY"));
                }
            }
            None => {
                problems.push(format!("{where_}: {:?} is not a bulwark_domain::access::Operation", op.policy_name()))
            }
        }
    }
    for o in Operation::ALL {
        if !public_or_self(o) && !covered.contains(o.as_str()) {
            problems.push(format!("Operation::{o:?} ({}) appears in no operation of the document", o.as_str()));
        }
    }
    println!(
        "policy completeness on {engine:?}: {} API operations, {} policy rows, {} problems",
        ops.len(),
        POLICY.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "policy completeness:\n  {}", problems.join("\n  "));
}

#[tokio::test]
async fn policy_completeness_sqlite() {
    policy_completeness(Engine::Sqlite).await;
}

#[tokio::test]
async fn policy_completeness_postgres() {
    policy_completeness(Engine::Postgres).await;
}
