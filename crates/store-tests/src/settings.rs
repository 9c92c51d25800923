//! Contract tests of [`bulwark_store::SettingsStore`].

use super::T0;
use bulwark_store::Store;

/// Absent until stored; `init_setting` stores only the first value and answers it to every later
/// call; `put_setting` replaces it; keys do not touch each other.
pub async fn settings_init_keeps_the_first_and_put_replaces(store: &dyn Store) {
    let key = "replay_clock";
    assert_eq!(store.setting(key).await.unwrap(), None);
    let first = r#"{"replay_start":1665212400000,"first_real":1700000000000}"#;
    assert_eq!(store.init_setting(key, first, T0).await.unwrap(), first);
    let later = r#"{"replay_start":1665212400000,"first_real":1700000999000}"#;
    assert_eq!(store.init_setting(key, later, T0 + 1).await.unwrap(), first, "the first value stays");
    assert_eq!(store.setting(key).await.unwrap().as_deref(), Some(first));
    store.put_setting(key, later, T0 + 2).await.unwrap();
    assert_eq!(store.setting(key).await.unwrap().as_deref(), Some(later));
    assert_eq!(store.setting("another").await.unwrap(), None);
    assert_eq!(store.init_setting("another", "圣堂镇", T0).await.unwrap(), "圣堂镇");
    assert_eq!(store.setting(key).await.unwrap().as_deref(), Some(later));
}

/// Several servers starting at once: one value wins and every caller is answered that one.
pub async fn settings_concurrent_init_agrees_on_one_value(store: &dyn Store) {
    let answers = tokio::join!(
        store.init_setting("started", "value 0", T0),
        store.init_setting("started", "value 1", T0 + 1),
        store.init_setting("started", "value 2", T0 + 2),
        store.init_setting("started", "value 3", T0 + 3),
    );
    let answers = [answers.0, answers.1, answers.2, answers.3].map(|a| a.expect("an answer"));
    let stored = store.setting("started").await.unwrap().expect("a value stored");
    assert!(answers.iter().all(|a| *a == stored), "every caller gets the stored value: {answers:?} vs {stored}");
}
