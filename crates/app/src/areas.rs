//! The area tree's use cases: read the tree, and the town's own grids (create, rename, merge).

use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    areas::{Area, AreaCode, AreaKind, NewArea, parse_area_name},
};
use bulwark_store::Store;

/// The area with this code, as the actor may see it: a code that names no area is refused like
/// one outside the scope (403, audited), so refusals do not tell which codes exist. When
/// `ancestors_too`, an area that contains the actor's scope is returned as well (a grid worker
/// asking for her village); otherwise the area must lie inside the scope.
pub async fn resolve_area(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    field: &str,
    code: &str,
    ancestors_too: bool,
    now: Millis,
) -> AppResult<Area> {
    let code = AreaCode::parse(code).map_err(|e| AppError::invalid(field, e))?;
    match store.area_by_code(&code).await? {
        Some(area) if actor.scope.contains(&area) || (ancestors_too && area.contains_path(&actor.scope.path)) => {
            Ok(area)
        }
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

/// The areas inside the actor's scope (households left out), shallowest first.
pub async fn tree(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<Area>> {
    actor.authorize(store, Operation::AreasRead, now).await?;
    Ok(store.areas_within(&actor.scope, false).await?)
}

/// One area inside the actor's scope, with its ancestors inside the scope (for the breadcrumb)
/// and its children.
pub struct AreaDetail {
    pub area: Area,
    pub ancestors: Vec<Area>,
    pub children: Vec<Area>,
    pub people: u64,
}

pub async fn detail(store: &dyn Store, actor: &Actor, code: &str, now: Millis) -> AppResult<AreaDetail> {
    actor.authorize(store, Operation::AreasRead, now).await?;
    let area = resolve_area(store, actor, Operation::AreasRead, "code", code, false, now).await?;
    // Only the part of the path inside the scope: a grid worker does not see the county.
    let ancestors = store.ancestors(area.id).await?.into_iter().filter(|a| actor.scope.contains(a)).collect();
    let children = store.children(area.id).await?;
    let people = store.count_people(&bulwark_domain::access::Scope::of(&area)).await?;
    Ok(AreaDetail { area, ancestors, children, people })
}

/// Creates an area (in practice a grid or a household) under `parent`, inside the actor's scope.
pub async fn create(
    store: &dyn Store,
    actor: &Actor,
    parent: &str,
    code: &str,
    name: &str,
    kind: &str,
    now: Millis,
) -> AppResult<Area> {
    actor.authorize(store, Operation::AreasManage, now).await?;
    let parent = resolve_area(store, actor, Operation::AreasManage, "parent", parent, false, now).await?;
    let kind = AreaKind::parse(kind).ok_or_else(|| AppError::invalid("kind", "grid or household"))?;
    parent.check_child(kind).map_err(|e| AppError::invalid("kind", e))?;
    let code = AreaCode::parse(code).map_err(|e| AppError::invalid("code", e))?;
    let name = parse_area_name(name).map_err(|e| AppError::invalid("name", e))?;
    let area = store.create_area(NewArea { code, name, kind, parent: Some(parent.id) }).await?;
    actor.record_change(store, Operation::AreasManage, format!("created {} {}", kind.as_str(), area.code), now).await?;
    Ok(area)
}

pub async fn rename(store: &dyn Store, actor: &Actor, code: &str, name: &str, now: Millis) -> AppResult<Area> {
    actor.authorize(store, Operation::AreasManage, now).await?;
    let area = resolve_area(store, actor, Operation::AreasManage, "code", code, false, now).await?;
    if area.id == actor.scope.area {
        return Err(actor.deny(store, Operation::AreasManage, None, now).await);
    }
    let name = parse_area_name(name).map_err(|e| AppError::invalid("name", e))?;
    let renamed = store.rename_area(area.id, &name).await?;
    actor.record_change(store, Operation::AreasManage, format!("renamed {}", area.code), now).await?;
    Ok(renamed)
}

/// Merges grid `from` into grid `into` (same village): people, households, staff and accounts
/// move; `from` disappears. Returns how many people moved.
pub async fn merge(store: &dyn Store, actor: &Actor, from: &str, into: &str, now: Millis) -> AppResult<u64> {
    actor.authorize(store, Operation::AreasManage, now).await?;
    let source = resolve_area(store, actor, Operation::AreasManage, "code", from, false, now).await?;
    let target = resolve_area(store, actor, Operation::AreasManage, "into", into, false, now).await?;
    source.check_merge_into(&target).map_err(|e| AppError::invalid("into", e))?;
    let moved = store.merge_grid(source.id, target.id).await?;
    let detail = format!("merged grid {} into {} ({moved} people moved)", source.code, target.code);
    actor.record_change(store, Operation::AreasManage, detail, now).await?;
    Ok(moved)
}
