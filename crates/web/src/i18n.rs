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

    pub(crate) fn lang(&self) -> &'static str {
        self.0.code()
    }

    pub(crate) fn is_zh(&self) -> bool {
        self.0 == Lang::Zh
    }
}

#[cfg(test)]
pub(crate) fn has_key(lang: Lang, key: &str) -> bool {
    LOCALES.try_lookup(&lang.id(), key).is_some()
}
