//! The set-up calls: log in, and open a round and a site with its lanes, as the demo's commander.

use crate::{
    http::{Conn, Response},
    plan::Target,
};
use serde_json::{Value, json};

/// The demo town (圣堂镇) and the village used when the area tree cannot be read.
pub const DEMO_TOWN: &str = "440785101";
const DEMO_VILLAGE: &str = "440785101200";

fn expect(response: Response, statuses: &[u16], what: &str) -> anyhow::Result<Value> {
    if !statuses.contains(&response.status) {
        anyhow::bail!("{what}: status {}: {}", response.status, String::from_utf8_lossy(&response.body));
    }
    response.json().map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

pub async fn login(conn: &mut Conn, username: &str, password: &str) -> anyhow::Result<String> {
    let answer =
        conn.post_json("/api/v1/auth/login", None, &json!({"username": username, "password": password})).await?;
    let body = expect(answer, &[200, 201], &format!("logging in as {username}"))?;
    body["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("login answer without a token: {body}"))
}

/// A village (12-digit code) under `town` from `GET /api/v1/areas`, whatever shape the tree has:
/// the first `"code"` string of that length below the town.
pub async fn a_village(conn: &mut Conn, token: &str, town: &str) -> anyhow::Result<String> {
    let answer = conn.get("/api/v1/areas", Some(token)).await?;
    let tree = expect(answer, &[200], "reading the area tree")?;
    let mut codes = Vec::new();
    collect_codes(&tree, &mut codes);
    Ok(codes
        .into_iter()
        .filter(|c| c.len() == 12 && c.starts_with(town))
        .min()
        .unwrap_or_else(|| DEMO_VILLAGE.to_string()))
}

fn collect_codes(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("code", Value::String(code)) => out.push(code.clone()),
                    _ => collect_codes(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_codes(v, out)),
        _ => {}
    }
}

pub fn id_of(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Opens a round over the town with pool size 10; answers its id.
pub async fn open_round(conn: &mut Conn, token: &str, name: &str, town: &str) -> anyhow::Result<i64> {
    let round = conn
        .post_json(
            "/api/v1/rounds",
            Some(token),
            &json!({"name": name, "areas": [town], "pool_size": crate::plan::POOL_SIZE}),
        )
        .await?;
    let round = expect(round, &[200, 201], "opening a round")?;
    id_of(&round["id"]).ok_or_else(|| anyhow::anyhow!("round without an id: {round}"))
}

/// Opens a round over the town with pool size 10, and a site in `village` with a normal lane and
/// a green channel; registrations go to the normal lane.
pub async fn set_up(conn: &mut Conn, token: &str, name: &str, town: &str, village: &str) -> anyhow::Result<Target> {
    let round = open_round(conn, token, name, town).await?;
    let site = conn
        .post_json(
            "/api/v1/sites",
            Some(token),
            &json!({
                "name": name,
                "area": village,
                "serves": [village],
                "hours": "00:00-24:00",
                "lanes": [{"name": "1", "kind": "normal"}, {"name": "绿色通道", "kind": "green_channel"}],
            }),
        )
        .await?;
    let site = expect(site, &[200, 201], "setting up a site")?;
    let lane = site["lanes"]
        .as_array()
        .and_then(|lanes| lanes.first())
        .and_then(|lane| id_of(&lane["id"]))
        .ok_or_else(|| anyhow::anyhow!("site without lanes: {site}"))?;
    let site = id_of(&site["id"]).ok_or_else(|| anyhow::anyhow!("site without an id: {site}"))?;
    Ok(Target { round, site, lane })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_anywhere_in_the_tree() {
        let tree = json!({"areas":[{"code":"440785","children":[{"code":"440785101","children":[
            {"code":"440785101201","name":"x"},{"code":"440785101200","children":[{"code":"440785101200-G01"}]}]}]}]});
        let mut codes = Vec::new();
        collect_codes(&tree, &mut codes);
        assert_eq!(codes.len(), 5);
        let village = codes.into_iter().filter(|c| c.len() == 12 && c.starts_with(DEMO_TOWN)).min();
        assert_eq!(village.as_deref(), Some("440785101200"));
    }
}
