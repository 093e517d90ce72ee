//! Static files for people: the demo course at `/` and the JavaScript client
//! (`@coderun/client` and `<coderun-snippet>`) under `/client/`.
//!
//! The files live in `clients/js/` and are embedded in the binary with
//! `include_bytes!`, so `coderun serve` serves them from any working
//! directory and a release binary is all there is to deploy. The paths under
//! `/client/` are stable: course pages on other sites load
//! `/client/snippet.js` as an ES module, so those answers carry
//! `Access-Control-Allow-Origin: *` (module scripts are fetched with CORS).
//! That header never goes on `/rpc` (spec §5.1); these are public files.
//!
//! The URLs are not versioned, so every answer is `Cache-Control: no-cache`
//! with an `ETag`: a browser keeps its copy and revalidates it, and gets a
//! `304` until the server is upgraded.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file and the path it is served at.
struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

macro_rules! demo {
    ($path:literal, $file:literal, $type:expr) => {
        Asset { path: $path, body: include_bytes!(concat!("../../../clients/js/demo/", $file)), content_type: $type }
    };
}

macro_rules! client {
    ($file:literal) => {
        Asset {
            path: concat!("/client/", $file),
            body: include_bytes!(concat!("../../../clients/js/src/", $file)),
            content_type: JS,
        }
    };
}

/// Every file served. The test at the bottom checks that each module of
/// `clients/js/src/` is here, since the modules import one another.
static ASSETS: &[Asset] = &[
    demo!("/", "index.html", HTML),
    demo!("/course.css", "course.css", CSS),
    demo!("/course.js", "course.js", JS),
    demo!("/favicon.svg", "favicon.svg", SVG),
    client!("coderun.js"),
    client!("client.js"),
    client!("connection.js"),
    client!("describe.js"),
    client!("editing.js"),
    client!("editor.js"),
    client!("emitter.js"),
    client!("errors.js"),
    client!("highlight.js"),
    client!("job.js"),
    client!("page.js"),
    client!("protocol.js"),
    client!("run-console.js"),
    client!("snippet-styles.js"),
    client!("snippet.js"),
    client!("upgrade.js"),
];

/// Routes for every embedded file.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        let etag = etag(asset.body);
        router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &etag, &headers) }))
    })
}

fn serve(asset: &'static Asset, etag: &str, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::ETAG, HeaderValue::from_str(etag).expect("an etag is ASCII"));
    if asset.path.starts_with("/client/") {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    }
    if if_none_match(request, etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, asset.body).into_response()
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    let Some(value) = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').map(|tag| tag.trim().trim_start_matches("W/")).any(|tag| tag == etag || tag == "*")
}

/// A strong validator for a body: its 64-bit FNV-1a hash, quoted. Stable
/// across runs and builds, so that servers behind one load balancer agree.
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(path: &str) -> &'static Asset {
        ASSETS.iter().find(|a| a.path == path).unwrap()
    }

    fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let asset = asset(path);
        let mut request = HeaderMap::new();
        if let Some(tag) = if_none_match {
            request.insert(header::IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        serve(asset, &etag(asset.body), &request)
    }

    #[test]
    fn every_client_module_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/js/src");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".js") {
                let path = format!("/client/{name}");
                assert!(ASSETS.iter().any(|a| a.path == path), "{name} is not served: add it to ASSETS");
            }
        }
    }

    #[test]
    fn the_course_page_is_html_revalidated_by_etag() {
        let response = get("/", None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], HTML);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let tag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get("/", Some(&tag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], tag.as_str());
        assert_eq!(get("/", Some("\"something-else\"")).status(), StatusCode::OK);
    }

    #[test]
    fn client_modules_are_javascript_loadable_from_other_origins() {
        let response = get("/client/snippet.js", None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(get("/client/snippet.js", Some("W/\"0000000000000000\", *")).status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn etags_differ_by_content_and_are_quoted() {
        assert_ne!(etag(b"a"), etag(b"b"));
        assert!(etag(b"").starts_with('"') && etag(b"").ends_with('"'));
    }
}
