//! `/api/openapi.json` describes the API the server really serves.

mod common;

use std::collections::BTreeSet;

use common::{spawn, test_config};
use serde_json::Value;

/// Every API route, as `METHOD path`. Adding a route means adding it here and
/// to the document; the test below proves the two agree with the server.
const ROUTES: [&str; 10] = [
    "GET /api/events",
    "GET /api/widgets",
    "GET /api/widgets/{id}",
    "POST /api/widgets/{id}",
    "DELETE /api/widgets/{id}",
    "POST /api/batch",
    "GET /api/dashboards",
    "GET /api/session",
    "POST /api/session",
    "DELETE /api/session",
];

#[tokio::test]
async fn the_document_lists_every_route_and_each_one_is_served() {
    let server = spawn(test_config()).await;
    let response = server.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')));

    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(documented, expected);

    let client = reqwest::Client::new();
    for route in ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let url = format!("{}{}", server.base, path.replace("{id}", "x"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client.request(method, &url).send().await.unwrap();
        // The API's fallback answers unknown routes with "no endpoint ...".
        let status = response.status();
        if status == 404 {
            let body: Value = response.json().await.unwrap();
            let message = body["message"].as_str().unwrap_or_default();
            assert!(!message.starts_with("no endpoint"), "{route}: {message}");
        }
    }
}

#[tokio::test]
async fn every_publish_body_and_the_error_shape_are_described() {
    let server = spawn(test_config()).await;
    let doc: Value = server.get("/api/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    let bodies: Vec<&str> = schemas["PublishBody"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .filter_map(|s| s["$ref"].as_str())
        .collect();
    for kind in ["Number", "Gauge", "Series", "List", "Status", "Text", "Log"] {
        let reference = format!("#/components/schemas/{kind}Body");
        assert!(bodies.contains(&reference.as_str()), "{kind}: {bodies:?}");
    }
    let error_fields: BTreeSet<&str> = schemas["ErrorBody"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(error_fields, BTreeSet::from(["error", "message"]));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
