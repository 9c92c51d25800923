//! Languages: Chinese (the default) and English, chosen with the `lang` cookie. Translations are
//! Fluent files in `locales/`, embedded at compile time.

use axum::http::HeaderMap;
use fluent_templates::{Loader, static_loader};
use unic_langid::LanguageIdentifier;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "zh-CN",
        // Fluent wraps arguments in Unicode isolation marks by default; in HTML they only get in the way.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Zh,
    En,
}

impl Lang {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Lang {
        match crate::auth::cookie(headers, "lang").as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn id(self) -> LanguageIdentifier {
        self.code().parse().expect("valid language identifiers")
    }
}

/// A translator for one request, handed to templates as `t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tr(pub Lang);

impl Tr {
    /// The message for `key`; the key itself if it is missing (a test checks none is).
    pub(crate) fn get(&self, key: &str) -> String {
        LOCALES.try_lookup(&self.0.id(), key).unwrap_or_else(|| key.to_string())
    }

    /// The message for `key` with one argument `n`.
    pub(crate) fn n(&self, key: &str, n: impl std::fmt::Display) -> String {
        let mut args = std::collections::HashMap::new();
        args.insert(std::borrow::Cow::Borrowed("n"), fluent_templates::fluent_bundle::FluentValue::from(n.to_string()));
        LOCALES.try_lookup_with_args(&self.0.id(), key, &args).unwrap_or_else(|| key.to_string())
    }

    /// The message for `key` with named arguments.
    pub(crate) fn args(&self, key: &str, args: &[(&'static str, String)]) -> String {
        let args = args
            .iter()
            .map(|(k, v)| {
                (std::borrow::Cow::Borrowed(*k), fluent_templates::fluent_bundle::FluentValue::from(v.clone()))
            })
            .collect();
        LOCALES.try_lookup_with_args(&self.0.id(), key, &args).unwrap_or_else(|| key.to_string())
    }

    pub(crate) fn lang(&self) -> &'static str {
        self.0.code()
    }

    pub(crate) fn is_zh(&self) -> bool {
        self.0 == Lang::Zh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message key that a template or handler asks for exists in both languages, and both
    /// files hold the same keys.
    #[test]
    fn every_key_exists_in_both_languages() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut sources = String::new();
        for dir in ["templates", "src/pages", "src/exports"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                sources.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        let mut used = Vec::new();
        for call in [".get(\"", ".n(\"", ".args(\""] {
            for (i, _) in sources.match_indices(call) {
                let rest = &sources[i + call.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_') {
                    used.push(key.to_string());
                }
            }
        }
        assert!(used.len() > 50, "found only {} keys: is the scan broken?", used.len());
        for key in &used {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(&Tr(lang).n(key, 1), key, "{key} is missing in {}", lang.code());
            }
        }
        let keys = |lang: &str| -> Vec<String> {
            let text = std::fs::read_to_string(format!("{root}/locales/{lang}/main.ftl")).unwrap();
            let mut k: Vec<String> =
                text.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_string())).collect();
            k.sort();
            k
        };
        assert_eq!(keys("zh-CN"), keys("en"));
    }

    #[test]
    fn chinese_is_the_default() {
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Zh);
        assert_eq!(Tr(Lang::Zh).get("login"), "登录");
        assert_eq!(Tr(Lang::En).n("people-count", 3), "3 registered residents");
    }
}
