//! Query-string helpers shared by the list pages: reading filters, writing links, filter choices.

use std::collections::BTreeSet;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

/// `a=1&b=2` from the pairs whose value is not empty (a leading `?` when any).
pub(super) fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(name, value);
    }
    let query = out.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

/// The query, or the default one and an error for people (ending with `then`) when it could
/// not be read.
pub(super) fn or_default<T: Default>(
    query: Result<Query<T>, QueryRejection>,
    then: &str,
) -> (T, Option<String>) {
    match query {
        Ok(Query(query)) => (query, None),
        Err(rejection) => (
            T::default(),
            Some(format!(
                "The filters could not be read ({}). {then}",
                rejection.body_text()
            )),
        ),
    }
}

/// A query field as given, trimmed; "" when absent.
pub(super) fn trimmed(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_owned()
}

/// A choice in a filter's `<select>`.
pub(super) struct Choice {
    /// What the form sends ("" for all).
    pub value: String,
    /// What the option reads.
    pub label: String,
    /// Whether it is the current filter.
    pub selected: bool,
}

/// `values` as choices after an "All" choice, the one equal to `current` selected (added when
/// it is not among them, so the form shows what is filtered).
pub(super) fn choices(values: BTreeSet<String>, current: &str, all: &str) -> Vec<Choice> {
    let mut values = values;
    if !current.is_empty() {
        values.insert(current.to_owned());
    }
    std::iter::once(Choice {
        value: String::new(),
        label: all.to_owned(),
        selected: current.is_empty(),
    })
    .chain(values.into_iter().map(|v| Choice {
        selected: v == current,
        label: v.clone(),
        value: v,
    }))
    .collect()
}
