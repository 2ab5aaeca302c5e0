//! The dashboard's static files, compiled into the binary so it works offline: the stylesheet,
//! Barter's scripts and the vendored Lightweight Charts library (Apache-2.0, see `NOTICE.md`).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Every served file: (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/web/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/app.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/charts.js"),
    ),
    (
        "simulator.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/simulator.js"),
    ),
    (
        "lightweight-charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/lightweight-charts.standalone.production.js"),
    ),
    (
        "LICENSE-lightweight-charts.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/web/LICENSE-lightweight-charts.txt"),
    ),
];

/// `GET /assets/{file}`: one of [`FILES`]; no session needed (they hold no data).
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = (*bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Short enough that a new binary's files are picked up soon after an upgrade.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charting_library_keeps_its_licence_header() {
        let (_, _, library) = FILES
            .iter()
            .find(|(name, _, _)| *name == "lightweight-charts.js")
            .expect("vendored");
        let head = String::from_utf8_lossy(&library[..200]);
        assert!(head.contains("Licensed under Apache License 2.0"), "{head}");
        assert!(head.contains("v5.2.1"), "{head}");
    }
}
