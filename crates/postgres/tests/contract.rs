//! The storage contract suite against PostgreSQL: one fresh database per test.

mod common;

bulwark_store_tests::contract_tests!(fixture = common::fresh_store().await);
