//! The publish API, black-box: `POST`, `GET` and `DELETE /api/widgets/{id}`,
//! `GET /api/widgets` and `POST /api/batch` on a real server on port 0, with a
//! real SSE viewer watching what every request sends (or does not send).

mod common;

use common::process::{ServerProcess, TOKEN};
use common::{
    accepted_id, api_config, api_error_problem, assert_api_error, call, eventually, send, seq_of,
    spawn, TestServer, SOON,
};
use protocol::{
    Gauge, List, ListRow, Log, LogLine, Number, Point, Series, SeriesLine, Status, StatusLevel,
    Text, Thresholds, Update, Widget, WidgetKind, WidgetValue,
};
use serde_json::{json, Value};

/// Publishes `body` to `widget` while a viewer watches, and checks the viewer's
/// very next change is the `update` for `widget` with the SSE id the publisher
/// was given. Returns that update and the widget as `GET` shows it afterwards.
async fn publish_watched(server: &TestServer, widget: &str, body: Value) -> (Update, Widget) {
    let mut viewer = server.connect().await;
    viewer.init().await;
    let event_id = server.published(widget, body).await;
    let update = viewer.expect_update(&event_id).await;
    assert_eq!(update.id.as_str(), widget);
    (update, get_widget(server, widget).await)
}

async fn get_widget(server: &TestServer, widget: &str) -> Widget {
    let (status, body) = server.get_json(&format!("/api/widgets/{widget}")).await;
    assert_eq!(status, 200, "GET {widget}: {body}");
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("not a widget ({e}): {body}"))
}

async fn kind_of(server: &TestServer, widget: &str) -> Option<WidgetKind> {
    get_widget(server, widget).await.value.kind()
}

/// The ids of `GET /api/widgets`, in order.
async fn widget_ids(server: &TestServer) -> Vec<String> {
    let (status, body) = server.get_json("/api/widgets").await;
    assert_eq!(status, 200, "{body}");
    body["widgets"]
        .as_array()
        .expect("widgets is an array")
        .iter()
        .map(|w| w["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn number(value: f64) -> Number {
    Number {
        value,
        ..Number::default()
    }
}

// ---------------------------------------------------------------------------
// Each kind's happy path, as publishers, viewers and readers see it.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_number_is_set_with_its_previous_value_for_the_delta() {
    let server = spawn(api_config()).await;
    let body = json!({"value": 42.5, "unit": "ms", "thresholds": {"warn": 100, "critical": 250},
                      "title": "Latency", "expect_every": 60});
    let (first, widget) = publish_watched(&server, "latency", body).await;
    let sent = Number {
        unit: Some("ms".into()),
        thresholds: Some(Thresholds {
            warn: Some(100.0),
            critical: Some(250.0),
        }),
        ..number(42.5)
    };
    assert_eq!(first.value, WidgetValue::Number(sent.clone()));
    assert_eq!(first.title.as_deref(), Some("Latency"));
    assert_eq!(first.expect_every, Some(60));
    assert_eq!(
        widget,
        Widget {
            id: first.id.clone(),
            title: Some("Latency".into()),
            value: WidgetValue::Number(Number {
                recent: vec![Point(first.at, 42.5)],
                ..sent.clone()
            }),
            updated_at: first.at,
            expect_every: Some(60),
        }
    );

    // The next value carries the one it replaced; title, expect_every, unit
    // and thresholds stay when left out, and the update says so to viewers.
    let (second, widget) = publish_watched(&server, "latency", json!({"value": 40})).await;
    let delta = Number {
        previous: Some(42.5),
        value: 40.0,
        ..sent.clone()
    };
    assert_eq!(second.value, WidgetValue::Number(delta.clone()));
    assert_eq!((second.title, second.expect_every), (None, None));
    assert_eq!(widget.title.as_deref(), Some("Latency"));
    assert_eq!(widget.expect_every, Some(60));
    assert_eq!(widget.updated_at, second.at);
    assert_eq!(
        widget.value,
        WidgetValue::Number(Number {
            recent: vec![Point(first.at, 42.5), Point(second.at, 40.0)],
            ..delta
        })
    );

    // An explicit previous wins over the stored value; a new unit and new
    // thresholds replace the old ones.
    let body = json!({"value": 1, "previous": -3, "unit": "s", "thresholds": {"critical": 2}});
    let (third, widget) = publish_watched(&server, "latency", body).await;
    let replaced = Number {
        value: 1.0,
        previous: Some(-3.0),
        unit: Some("s".into()),
        thresholds: Some(Thresholds {
            warn: None,
            critical: Some(2.0),
        }),
        recent: Vec::new(),
    };
    assert_eq!(third.value, WidgetValue::Number(replaced.clone()));
    let WidgetValue::Number(stored) = widget.value else {
        panic!("still a number")
    };
    assert_eq!(
        Number {
            recent: Vec::new(),
            ..stored
        },
        replaced
    );
}

#[actix_web::test]
async fn a_gauge_is_set() {
    let server = spawn(api_config()).await;
    let body = json!({"value": 7, "min": 0, "max": 10, "unit": "jobs", "thresholds": {"warn": 8}});
    let (update, widget) = publish_watched(&server, "queue", body).await;
    let gauge = WidgetValue::Gauge(Gauge {
        value: 7.0,
        min: 0.0,
        max: 10.0,
        unit: Some("jobs".into()),
        thresholds: Some(Thresholds {
            warn: Some(8.0),
            critical: None,
        }),
    });
    assert_eq!(update.value, gauge);
    assert_eq!(widget.value, gauge);

    // A bare value keeps the gauge's range, unit and thresholds (the body
    // fits the widget's kind, so it is not taken for a number).
    let (update, widget) = publish_watched(&server, "queue", json!({"value": 9.5})).await;
    let WidgetValue::Gauge(kept) = &gauge else {
        unreachable!()
    };
    let moved = WidgetValue::Gauge(Gauge {
        value: 9.5,
        ..kept.clone()
    });
    assert_eq!((update.value, widget.value), (moved.clone(), moved));
    // A new max alone keeps the min.
    let (update, _) = publish_watched(&server, "queue", json!({"value": 9.5, "max": 20})).await;
    assert!(matches!(update.value, WidgetValue::Gauge(g) if (g.min, g.max) == (0.0, 20.0)));

    // A new gauge is on 0-100 unless told otherwise.
    let (update, widget) =
        publish_watched(&server, "cpu", json!({"kind": "gauge", "value": 71.5})).await;
    let fresh = WidgetValue::Gauge(Gauge {
        value: 71.5,
        min: 0.0,
        max: 100.0,
        unit: None,
        thresholds: None,
    });
    assert_eq!((update.value, widget.value), (fresh.clone(), fresh));
}

#[actix_web::test]
async fn a_gauge_range_that_clashes_with_the_kept_one_is_refused() {
    let server = spawn(api_config()).await;
    let before = server
        .published("queue", json!({"value": 5, "min": 0, "max": 10}))
        .await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    // min 20 with the kept max 10; max -1 with the kept min 0.
    for body in [
        json!({"value": 5, "min": 20}),
        json!({"value": 5, "max": -1}),
    ] {
        assert_api_error(
            &server.publish_json("queue", body).await,
            422,
            "invalid_value",
            &["`max`", "greater than `min`"],
        );
    }
    let WidgetValue::Gauge(gauge) = get_widget(&server, "queue").await.value else {
        panic!("a gauge")
    };
    assert_eq!((gauge.min, gauge.max), (0.0, 10.0), "unchanged");
    let next = server
        .published("queue", json!({"value": 25, "min": 20, "max": 30}))
        .await;
    assert_eq!(seq_of(&next), seq_of(&before) + 1, "no id was used up");
    viewer.expect_update(&next).await;
}

#[actix_web::test]
async fn a_series_appends_points_and_keeps_its_window() {
    let server = spawn(api_config()).await;
    let (t1, t2) = (1_767_225_600_000_i64, 1_767_225_660_000_i64);
    let body =
        json!({"lines": {"web": [[t1, 31], [t2, 35]], "app": [12]}, "unit": "/min", "window": 3});
    let (first, widget) = publish_watched(&server, "orders", body).await;
    let web = |points: Vec<Point>| SeriesLine {
        name: "web".into(),
        points,
    };
    let app = SeriesLine {
        name: "app".into(),
        points: vec![Point(first.at, 12.0)],
    };
    assert_eq!(
        first.value,
        WidgetValue::Series(Series {
            lines: vec![web(vec![Point(t1, 31.0), Point(t2, 35.0)]), app.clone()],
            window: 3,
            unit: Some("/min".into()),
        })
    );
    assert_eq!(widget.value, first.value);

    // An update carries only its new points; the widget appends them, keeps
    // the last `window` of each line, and its unit.
    let (second, widget) = publish_watched(
        &server,
        "orders",
        json!({"lines": {"web": [36, 37]}, "window": 3}),
    )
    .await;
    let new_points = vec![Point(second.at, 36.0), Point(second.at, 37.0)];
    assert_eq!(
        second.value,
        WidgetValue::Series(Series {
            lines: vec![web(new_points.clone())],
            window: 3,
            unit: Some("/min".into()),
        })
    );
    let mut kept = vec![Point(t2, 35.0)];
    kept.extend(new_points);
    assert_eq!(
        widget.value,
        WidgetValue::Series(Series {
            lines: vec![web(kept), app.clone()],
            window: 3,
            unit: Some("/min".into()),
        })
    );

    // A bare value appends one point now, to the line `value`, keeping the
    // window: the body fits the series, so it is not taken for a number.
    let (third, widget) = publish_watched(&server, "orders", json!({"value": 50})).await;
    assert_eq!(
        third.value,
        WidgetValue::Series(Series {
            lines: vec![SeriesLine {
                name: "value".into(),
                points: vec![Point(third.at, 50.0)]
            }],
            window: 3,
            unit: Some("/min".into()),
        })
    );
    let WidgetValue::Series(series) = widget.value else {
        panic!("still a series")
    };
    let names: Vec<&str> = series.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["web", "app", "value"]);
}

#[actix_web::test]
async fn a_series_gets_at_most_16_lines_even_one_update_at_a_time() {
    let server = spawn(api_config()).await;
    let lines: serde_json::Map<String, Value> =
        (0..16).map(|i| (format!("l{i}"), json!([1]))).collect();
    let before = server.published("many", json!({ "lines": lines })).await;
    assert_api_error(
        &server
            .publish_json("many", json!({"lines": {"l16": [1]}}))
            .await,
        422,
        "invalid_value",
        &["`lines`", "16"],
    );
    // Its own lines still take points.
    let next = server
        .published("many", json!({"lines": {"l0": [2], "l15": [2]}}))
        .await;
    assert_eq!(seq_of(&next), seq_of(&before) + 1);
    let WidgetValue::Series(series) = get_widget(&server, "many").await.value else {
        panic!("a series")
    };
    assert_eq!(series.lines.len(), 16);
}

#[actix_web::test]
async fn a_series_keeps_600_points_per_line_by_default() {
    let server = spawn(api_config()).await;
    let points = |from: usize, to: usize| (from..to).map(|i| json!([i, i])).collect::<Vec<_>>();
    server
        .published("orders", json!({"points": points(0, 400)}))
        .await;
    server
        .published("orders", json!({"points": points(400, 700)}))
        .await;
    let WidgetValue::Series(series) = get_widget(&server, "orders").await.value else {
        panic!("not a series")
    };
    assert_eq!(series.window, 600);
    let kept = &series.lines[0].points;
    assert_eq!(
        series.lines[0].name, "value",
        "`points` is the line `value`"
    );
    assert_eq!(kept.len(), 600);
    assert_eq!(
        kept.first(),
        Some(&Point(100, 100.0)),
        "the oldest were dropped"
    );
    assert_eq!(kept.last(), Some(&Point(699, 699.0)));
}

#[actix_web::test]
async fn a_list_is_set_with_numbers_shown_as_written() {
    let server = spawn(api_config()).await;
    let body = json!({"rows": [{"label": "/", "value": 1204}, {"label": "/pricing", "value": "873"},
                               {"label": "/docs", "value": 1.5}]});
    let (update, widget) = publish_watched(&server, "top-pages", body).await;
    let row = |label: &str, value: &str| ListRow {
        label: label.into(),
        value: value.into(),
    };
    let list = WidgetValue::List(List {
        rows: vec![
            row("/", "1204"),
            row("/pricing", "873"),
            row("/docs", "1.5"),
        ],
    });
    assert_eq!(update.value, list);
    assert_eq!(widget.value, list);

    let (update, widget) = publish_watched(&server, "top-pages", json!({"rows": []})).await;
    let empty = WidgetValue::List(List { rows: vec![] });
    assert_eq!((update.value, widget.value), (empty.clone(), empty));
}

#[actix_web::test]
async fn a_status_is_set_and_replaced() {
    let server = spawn(api_config()).await;
    let (update, widget) = publish_watched(
        &server,
        "build",
        json!({"level": "critical", "message": "main #1432 failed"}),
    )
    .await;
    let failed = WidgetValue::Status(Status {
        level: StatusLevel::Critical,
        message: Some("main #1432 failed".into()),
    });
    assert_eq!((update.value, widget.value), (failed.clone(), failed));

    for (level, expected) in [
        ("ok", StatusLevel::Ok),
        ("warn", StatusLevel::Warn),
        ("unknown", StatusLevel::Unknown),
    ] {
        let (update, widget) = publish_watched(&server, "build", json!({ "level": level })).await;
        let status = WidgetValue::Status(Status {
            level: expected,
            message: None,
        });
        assert_eq!(
            (update.value, widget.value),
            (status.clone(), status),
            "{level}"
        );
    }
}

#[actix_web::test]
async fn a_text_is_set() {
    let server = spawn(api_config()).await;
    let text = "Alice (until Friday 18:00), then Bob — ☎ 555";
    let (update, widget) =
        publish_watched(&server, "oncall", json!({"text": text, "title": "On call"})).await;
    let value = WidgetValue::Text(Text { text: text.into() });
    assert_eq!((update.value, widget.value), (value.clone(), value));
    assert_eq!(widget.title.as_deref(), Some("On call"));
}

#[actix_web::test]
async fn a_log_appends_lines_and_keeps_its_tail() {
    let server = spawn(api_config()).await;
    let (first, widget) = publish_watched(
        &server,
        "deploys",
        json!({"lines": ["v1 to staging", "v1 to production", "v2 to staging"], "max_lines": 3}),
    )
    .await;
    let line = |at: i64, text: &str| LogLine {
        at,
        text: text.into(),
    };
    let sent = vec![
        line(first.at, "v1 to staging"),
        line(first.at, "v1 to production"),
        line(first.at, "v2 to staging"),
    ];
    let log = |lines| {
        WidgetValue::Log(Log {
            lines,
            max_lines: 3,
        })
    };
    assert_eq!(first.value, log(sent.clone()));
    assert_eq!(widget.value, log(sent.clone()));

    let (second, widget) = publish_watched(
        &server,
        "deploys",
        json!({"line": "v2 to production", "max_lines": 3}),
    )
    .await;
    assert_eq!(second.value, log(vec![line(second.at, "v2 to production")]));
    let mut tail = sent[1..].to_vec();
    tail.push(line(second.at, "v2 to production"));
    assert_eq!(
        widget.value,
        log(tail.clone()),
        "the oldest line is dropped"
    );

    // Without max_lines, the widget's bound is kept.
    let (third, widget) =
        publish_watched(&server, "deploys", json!({"line": "v3 to staging"})).await;
    assert_eq!(third.value, log(vec![line(third.at, "v3 to staging")]));
    tail.remove(0);
    tail.push(line(third.at, "v3 to staging"));
    assert_eq!(widget.value, log(tail));
}

#[actix_web::test]
async fn a_log_keeps_200_lines_by_default() {
    let server = spawn(api_config()).await;
    let lines =
        |from: usize, to: usize| (from..to).map(|i| format!("line {i}")).collect::<Vec<_>>();
    server
        .published("errors", json!({"lines": lines(0, 150)}))
        .await;
    server
        .published("errors", json!({"lines": lines(150, 250)}))
        .await;
    let WidgetValue::Log(log) = get_widget(&server, "errors").await.value else {
        panic!("not a log")
    };
    assert_eq!(log.max_lines, 200);
    let texts: Vec<String> = log.lines.into_iter().map(|l| l.text).collect();
    assert_eq!(texts, lines(50, 250));
}

#[actix_web::test]
async fn an_update_of_another_kind_replaces_the_value() {
    let server = spawn(api_config()).await;
    server
        .published(
            "thing",
            json!({"points": [1, 2, 3], "window": 10, "unit": "ms"}),
        )
        .await;
    server.published("thing", json!({"text": "now text"})).await;
    assert_eq!(
        get_widget(&server, "thing").await.value,
        WidgetValue::Text(Text {
            text: "now text".into()
        })
    );
    // A number after a text: no previous from a value of another kind.
    let (update, _) = publish_watched(&server, "thing", json!({"value": 4})).await;
    assert_eq!(update.value, WidgetValue::Number(number(4.0)));
    // Back to a series: the old points and settings are gone.
    let (update, widget) = publish_watched(&server, "thing", json!({"points": [[5, 9]]})).await;
    let fresh = WidgetValue::Series(Series {
        lines: vec![SeriesLine {
            name: "value".into(),
            points: vec![Point(5, 9.0)],
        }],
        window: 600,
        unit: None,
    });
    assert_eq!((update.value, widget.value), (fresh.clone(), fresh));
    // An explicit kind replaces whatever the body would fit.
    let (update, _) =
        publish_watched(&server, "thing", json!({"kind": "number", "value": 4})).await;
    assert_eq!(update.value, WidgetValue::Number(number(4.0)));
}

// ---------------------------------------------------------------------------
// Which kind a body is for.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn the_kind_is_explicit_or_inferred_from_the_fields() {
    use WidgetKind::*;
    let server = spawn(api_config()).await;
    let table = [
        (json!({"level": "ok", "message": "fine"}), Status),
        (json!({"level": "warn"}), Status),
        (json!({"rows": []}), List),
        (json!({"rows": [{"label": "a", "value": 1}]}), List),
        (json!({"text": "hi"}), Text),
        (json!({"line": "deployed"}), Log),
        (json!({"lines": ["a", "b"]}), Log),
        (json!({"line": "x", "max_lines": 5}), Log),
        (json!({"points": [1, [1_767_225_600_000_u64, 2]]}), Series),
        (json!({"lines": {"web": [1]}}), Series),
        (json!({"value": 3, "window": 10}), Series),
        (json!({"value": 5, "min": 0}), Gauge),
        (json!({"value": 5, "max": 10}), Gauge),
        (json!({"value": 5, "min": 1, "max": 10, "unit": "%"}), Gauge),
        (json!({"value": 5, "previous": 4}), Number),
        (json!({"value": 5}), Number),
        (
            json!({"value": -0.5, "unit": "ms", "thresholds": {"warn": 1}}),
            Number,
        ),
        (
            json!({"value": 5, "title": "t", "expect_every": 30}),
            Number,
        ),
        // An explicit kind needs no telling field, and wins over inference.
        (json!({"kind": "series", "value": 3}), Series),
        (json!({"kind": "gauge", "value": 3}), Gauge),
        (json!({"kind": "number", "value": 3}), Number),
        (json!({"kind": "text", "text": "x"}), Text),
        (json!({"kind": "log", "lines": ["a"]}), Log),
        (json!({"kind": "list", "rows": []}), List),
        (json!({"kind": "status", "level": "ok"}), Status),
    ];
    for (i, (body, kind)) in table.iter().enumerate() {
        let id = format!("row-{i}");
        let answer = server.publish_json(&id, body.clone()).await;
        assert_eq!(answer.0, 200, "{body}: {}", answer.1);
        assert_eq!(kind_of(&server, &id).await, Some(*kind), "{body}");
    }
}

#[actix_web::test]
async fn a_body_that_does_not_tell_its_kind_is_refused() {
    let server = spawn(api_config()).await;
    let ambiguous = [
        (json!({"min": 0, "text": "x"}), ["gauge", "text"]),
        (
            json!({"value": 5, "min": 0, "previous": 4}),
            ["gauge", "number"],
        ),
        (json!({"lines": ["a"], "points": [1]}), ["log", "series"]),
        (json!({"level": "ok", "rows": []}), ["status", "list"]),
        (json!({"line": "x", "window": 5}), ["log", "series"]),
    ];
    let mut problems = Vec::new();
    for (body, kinds) in &ambiguous {
        let answer = server.publish_json("confused", body.clone()).await;
        let mentions = ["`kind`", kinds[0], kinds[1]];
        if let Some(p) = api_error_problem(&answer, 422, "unknown_kind", &mentions) {
            problems.push(format!("{body}: {p}"));
        }
    }
    let untelling = [
        json!({}),
        json!({"unit": "ms"}),
        json!({"title": "x", "expect_every": 5}),
    ];
    for body in &untelling {
        let answer = server.publish_json("confused", body.clone()).await;
        if let Some(p) = api_error_problem(&answer, 422, "unknown_kind", &["`kind`"]) {
            problems.push(format!("{body}: {p}"));
        }
    }
    // A `value` that is not a number tells no kind either; the error says why.
    for body in [
        json!({"value": "x"}),
        json!({"value": "42"}),
        json!({"value": true}),
    ] {
        let answer = server.publish_json("confused", body.clone()).await;
        if let Some(p) = api_error_problem(&answer, 422, "invalid_value", &["`value`", "number"]) {
            problems.push(format!("{body}: {p}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_api_error(
        &server.get_json("/api/widgets/confused").await,
        404,
        "not_found",
        &["confused"],
    );
}

/// "A field set to `null` counts as absent" (docs/api.md), for inference too:
/// `{"value": 5, "min": null}` is a number, and `{"text": "x", "level": null}`
/// a text, not an ambiguous body. (Found by this test: nulls used to vote.)
#[actix_web::test]
async fn a_null_field_tells_no_kind() {
    let server = spawn(api_config()).await;
    let table = [
        (json!({"value": 5, "min": null}), WidgetKind::Number),
        (json!({"value": 5, "previous": null}), WidgetKind::Number),
        (json!({"text": "x", "level": null}), WidgetKind::Text),
        (json!({"level": "ok", "rows": null}), WidgetKind::Status),
    ];
    let mut problems = Vec::new();
    for (i, (body, kind)) in table.iter().enumerate() {
        let id = format!("null-{i}");
        let (status, answer) = server.publish_json(&id, body.clone()).await;
        if status != 200 {
            problems.push(format!("{body}: refused with {status} {answer}"));
        } else if kind_of(&server, &id).await != Some(*kind) {
            problems.push(format!(
                "{body}: a {:?}, expected a {kind}",
                kind_of(&server, &id).await
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------
// Errors: the status, the exact body, and nothing changed.
// ---------------------------------------------------------------------------

/// A request the server must refuse.
struct Refused {
    what: &'static str,
    path: String,
    token: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    mentions: Vec<&'static str>,
}

fn refused(
    what: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
    mentions: &[&'static str],
) -> Refused {
    Refused {
        what,
        path: "/api/widgets/orders".into(),
        token: Some(TOKEN),
        body: body.into(),
        status,
        code,
        mentions: mentions.to_vec(),
    }
}

#[rustfmt::skip]
fn refused_publishes() -> Vec<Refused> {
    let long = |n: usize| "x".repeat(n);
    let invalid = |what, body: Value, mentions: &[&'static str]| {
        refused(what, body.to_string(), 422, "invalid_value", mentions)
    };
    let seventeen_lines: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("l{i}"), json!([1]))).collect();
    let rows: Vec<Value> = (0..101)
        .map(|i| json!({"label": i.to_string(), "value": i}))
        .collect();
    let mut too_large = br#"{"value": 1}"#.to_vec();
    too_large.resize(64 * 1024 + 1, b' ');
    vec![
        Refused { token: None, ..refused("no token", r#"{"value": 5}"#, 401, "unauthorized", &["Bearer"]) },
        Refused { token: Some("wrong"), ..refused("wrong token", r#"{"value": 5}"#, 401, "unauthorized", &["Bearer"]) },
        refused("malformed JSON", r#"{"value": 42"#, 400, "invalid_json", &["JSON"]),
        refused("empty body", "", 400, "invalid_json", &["JSON"]),
        refused("trailing text", r#"{"value": 1} x"#, 400, "invalid_json", &["JSON"]),
        refused("not UTF-8", b"\xff\xfe{}".to_vec(), 400, "invalid_json", &["JSON"]),
        Refused { path: "/api/widgets/Orders".into(), ..refused("uppercase id", r#"{"value": 5}"#, 400, "invalid_id", &["\"Orders\""]) },
        Refused { path: "/api/widgets/.orders".into(), ..refused("id starting with a dot", r#"{"value": 5}"#, 400, "invalid_id", &["\".orders\""]) },
        Refused { path: format!("/api/widgets/{}", "a".repeat(65)), ..refused("65-character id", r#"{"value": 5}"#, 400, "invalid_id", &["1-64"]) },
        Refused { path: "/api/widgets/a%20b".into(), ..refused("id with a space", r#"{"value": 5}"#, 400, "invalid_id", &["\"a b\""]) },
        refused("body over 64 KiB", too_large, 413, "body_too_large", &["65536"]),
        invalid("not an object", json!([42]), &["JSON object"]),
        invalid("string value", json!({"kind": "number", "value": "42"}), &["`value`"]),
        refused("non-finite value", r#"{"value": 1e999}"#, 422, "invalid_value", &["`value`", "finite"]),
        refused("non-finite threshold", r#"{"value": 1, "thresholds": {"warn": -1e999}}"#, 422, "invalid_value", &["`thresholds.warn`", "finite"]),
        invalid("unknown field", json!({"value": 1, "colour": "red"}), &["`colour`"]),
        invalid("expect_every 0", json!({"value": 1, "expect_every": 0}), &["`expect_every`"]),
        invalid("expect_every -1", json!({"value": 1, "expect_every": -1}), &["`expect_every`"]),
        invalid("expect_every over 30 days", json!({"value": 1, "expect_every": 2_592_001}), &["`expect_every`"]),
        invalid("title too long", json!({"value": 1, "title": long(201)}), &["`title`"]),
        invalid("title not a string", json!({"value": 1, "title": 5}), &["`title`"]),
        invalid("unit too long", json!({"value": 1, "unit": long(33)}), &["`unit`"]),
        invalid("gauge max not above min", json!({"value": 5, "min": 10, "max": 1}), &["`max`"]),
        invalid("gauge max equal to min", json!({"value": 5, "min": 1, "max": 1}), &["`max`"]),
        invalid("series point a string", json!({"lines": {"a": ["x"]}}), &["`lines.a[0]`"]),
        invalid("series point of 3 items", json!({"lines": {"a": [[1, 2, 3]]}}), &["`lines.a[0]`"]),
        invalid("series point of 1 item", json!({"lines": {"a": [[1]]}}), &["`lines.a[0]`"]),
        invalid("series time before 1970", json!({"points": [[-1, 5]]}), &["`points[0]`"]),
        invalid("series time after 9999", json!({"points": [[253_402_300_800_000_u64, 5]]}), &["`points[0]`"]),
        invalid("series window 1", json!({"kind": "series", "value": 1, "window": 1}), &["`window`"]),
        invalid("series window 10001", json!({"points": [1], "window": 10_001}), &["`window`"]),
        invalid("series of 17 lines", json!({"lines": seventeen_lines }), &["`lines`"]),
        invalid("series of no lines", json!({"lines": {}}), &["`lines`"]),
        invalid("series line of no points", json!({"lines": {"a": []}}), &["`lines.a`"]),
        invalid("series line over its window", json!({"points": [1, 2, 3], "window": 2}), &["`points`"]),
        invalid("series lines over the window", json!({"lines": {"a": [1, 2, 3]}, "window": 2}), &["`lines.a`"]),
        invalid("series line name too long", json!({"lines": {long(65): [1] } }), &["`lines."]),
        invalid("series points and value", json!({"points": [1], "value": 2}), &["`lines`"]),
        invalid("status level unknown", json!({"level": "green"}), &["`level`", "green"]),
        invalid("status without level", json!({"message": "x"}), &["level"]),
        invalid("status message too long", json!({"level": "ok", "message": long(1001)}), &["`message`"]),
        invalid("list row without value", json!({"rows": [{"label": "x"}]}), &["`rows[0]`", "value"]),
        invalid("list row value an object", json!({"rows": [{"label": "x", "value": {}}]}), &["`rows[0].value`"]),
        invalid("list of 101 rows", json!({"rows": rows}), &["`rows`"]),
        invalid("list label too long", json!({"rows": [{"label": long(201), "value": 1}]}), &["`rows[0].label`"]),
        invalid("text not a string", json!({"text": 5}), &["`text`"]),
        invalid("text too long", json!({"text": long(10_001)}), &["`text`"]),
        invalid("log max_lines 0", json!({"lines": ["a"], "max_lines": 0}), &["`max_lines`"]),
        invalid("log max_lines 1001", json!({"line": "a", "max_lines": 1001}), &["`max_lines`"]),
        invalid("log line too long", json!({"line": long(2001)}), &["`line`"]),
        invalid("log lines over max_lines", json!({"lines": ["a", "b"], "max_lines": 1}), &["`lines`"]),
        invalid("log line and lines", json!({"line": "a", "lines": ["b"]}), &["`lines`"]),
        invalid("log line not a string", json!({"kind": "log", "line": 5}), &["`line`"]),
        invalid("kind not a string", json!({"kind": 5, "value": 1}), &["`kind`"]),
        refused("unknown kind", json!({"kind": "hologram", "value": 1}).to_string(), 422, "unknown_kind", &["`kind`", "hologram"]),
        invalid("non-numeric value", json!({"value": "x"}), &["`value`"]),
        refused("untelling body", json!({"unit": "x"}).to_string(), 422, "unknown_kind", &["`kind`"]),
        refused("ambiguous body", json!({"min": 0, "text": "x"}).to_string(), 422, "unknown_kind", &["gauge", "text"]),
    ]
}

#[actix_web::test]
async fn every_refused_publish_gets_its_error_and_changes_nothing() {
    let server = spawn(api_config()).await;
    let before = server
        .published("orders", json!({"value": 1, "title": "Orders"}))
        .await;
    let mut viewer = server.connect().await;
    viewer.init().await;

    let mut problems = Vec::new();
    for case in refused_publishes() {
        let answer = server
            .post_raw(&case.path, case.token, case.body.clone())
            .await;
        if let Some(problem) = api_error_problem(&answer, case.status, case.code, &case.mentions) {
            problems.push(format!("{}: {problem}", case.what));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // Nothing changed...
    let (_, all) = server.get_json("/api/widgets").await;
    assert_eq!(all["last_event_id"], before.as_str(), "no change was made");
    assert_eq!(
        widget_ids(&server).await,
        ["orders"],
        "no widget was created"
    );
    let orders = get_widget(&server, "orders").await;
    assert_eq!(orders.title.as_deref(), Some("Orders"));
    assert!(matches!(orders.value, WidgetValue::Number(n) if n.value == 1.0));
    // ...and nothing was sent: the next change the viewer gets is the next
    // publish, with the id right after the last good one.
    let next = server.published("orders", json!({"value": 2})).await;
    assert_eq!(seq_of(&next), seq_of(&before) + 1, "no id was used up");
    viewer.expect_update(&next).await;
}

#[actix_web::test]
async fn a_request_is_checked_token_then_id_then_size_then_syntax() {
    let server = spawn(api_config()).await;
    let mut oversized_garbage = b"{not json".to_vec();
    oversized_garbage.resize(64 * 1024 + 1, b'x');
    let to = |id: &str| format!("/api/widgets/{id}");
    assert_api_error(
        &server
            .post_raw(&to("Bad!"), Some("wrong"), oversized_garbage.clone())
            .await,
        401,
        "unauthorized",
        &[],
    );
    assert_api_error(
        &server
            .post_raw(&to("Bad"), Some(TOKEN), oversized_garbage.clone())
            .await,
        400,
        "invalid_id",
        &[],
    );
    assert_api_error(
        &server
            .post_raw(&to("good"), Some(TOKEN), oversized_garbage)
            .await,
        413,
        "body_too_large",
        &[],
    );
    assert_api_error(
        &server
            .post_raw(&to("good"), Some(TOKEN), br#"{"kind": "hologram""#.to_vec())
            .await,
        400,
        "invalid_json",
        &[],
    );
}

#[actix_web::test]
async fn the_body_limit_is_64_kib_by_default() {
    let server = spawn(api_config()).await;
    let mut body = br#"{"value": 1}"#.to_vec();
    body.resize(64 * 1024, b' ');
    let answer = server
        .post_raw("/api/widgets/big", Some(TOKEN), body.clone())
        .await;
    assert_eq!(answer.0, 200, "exactly 64 KiB is accepted: {}", answer.1);
    body.push(b' ');
    assert_api_error(
        &server.post_raw("/api/widgets/big", Some(TOKEN), body).await,
        413,
        "body_too_large",
        &["65536"],
    );
}

#[actix_web::test]
async fn the_body_limit_is_configurable_and_holds_for_chunked_bodies_and_batches() {
    let mut config = api_config();
    config.max_body_bytes = 100;
    let server = spawn(config).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    let padded = |json: &str, len: usize| {
        let mut body = json.as_bytes().to_vec();
        body.resize(len, b' ');
        body
    };
    let publish = padded(r#"{"value": 1}"#, 100);
    let batch = padded(r#"{"updates": [{"id": "b", "value": 2}]}"#, 100);
    let chunked = |body: Vec<u8>| {
        let (a, b) = body.split_at(body.len() / 2);
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(a.to_vec()), Ok(b.to_vec())];
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
    };
    let post = |path: &str, body: reqwest::Body| {
        reqwest::Client::new()
            .post(server.url(path))
            .bearer_auth(TOKEN)
            .body(body)
    };

    // At the limit: accepted, whether the length is given or the body chunked.
    let mut ids = vec![
        accepted_id(
            &server
                .post_raw("/api/widgets/a", Some(TOKEN), publish.clone())
                .await,
            "a",
        ),
        accepted_id(
            &send(post("/api/widgets/a", chunked(publish.clone()))).await,
            "a",
        ),
    ];
    let (status, body) = server
        .post_raw("/api/batch", Some(TOKEN), batch.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    ids.push(body["event_ids"][0].as_str().unwrap().to_owned());

    // One byte over: refused, however it comes.
    let over = |mut body: Vec<u8>| {
        body.push(b' ');
        body
    };
    for (what, answer) in [
        (
            "publish",
            server
                .post_raw("/api/widgets/a", Some(TOKEN), over(publish.clone()))
                .await,
        ),
        (
            "chunked publish",
            send(post("/api/widgets/a", chunked(over(publish.clone())))).await,
        ),
        (
            "batch",
            server
                .post_raw("/api/batch", Some(TOKEN), over(batch.clone()))
                .await,
        ),
        (
            "chunked batch",
            send(post("/api/batch", chunked(over(batch)))).await,
        ),
    ] {
        if let Some(problem) = api_error_problem(&answer, 413, "body_too_large", &["100 bytes"]) {
            panic!("{what}: {problem}");
        }
    }

    // The viewer saw exactly the accepted ones, then the next.
    ids.push(server.published("a", json!({"value": 3})).await);
    for id in &ids {
        viewer.expect_update(id).await;
    }
}

#[actix_web::test]
async fn publishes_that_would_exceed_max_widgets_are_refused() {
    let mut config = api_config();
    config.max_widgets = 3;
    let server = spawn(config).await;
    for id in ["a", "b", "c"] {
        server.published(id, json!({"value": 1})).await;
    }
    let mut viewer = server.connect().await;
    viewer.init().await;

    assert_api_error(
        &server.publish_json("d", json!({"value": 1})).await,
        422,
        "too_many_widgets",
        &["3", "--max-widgets"],
    );
    // Updating a widget that exists is fine.
    let updated = server.published("a", json!({"value": 2})).await;
    viewer.expect_update(&updated).await;
    // A batch that would create one too many applies nothing, not even its
    // updates of existing widgets.
    assert_api_error(
        &server
            .batch(json!([{"id": "a", "value": 5}, {"id": "e", "value": 1}]))
            .await,
        422,
        "too_many_widgets",
        &["3"],
    );
    assert!(
        matches!(get_widget(&server, "a").await.value, WidgetValue::Number(n) if n.value == 2.0)
    );
    // Deleting one makes room.
    let (status, body) = server.delete_widget("c", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    viewer
        .expect_remove("c", body["event_id"].as_str().unwrap())
        .await;
    let created = server.published("d", json!({"value": 1})).await;
    viewer.expect_update(&created).await;
    assert_eq!(widget_ids(&server).await, ["a", "b", "d"]);
}

#[actix_web::test]
async fn unknown_api_endpoints_and_methods_get_json_errors() {
    let server = spawn(api_config()).await;
    assert_api_error(
        &server.get_json("/api/widget").await,
        404,
        "not_found",
        &["/api/widget"],
    );
    // A method a route does not have: a JSON 405.
    for (method, path) in [
        (reqwest::Method::POST, "/api/widgets"),
        (reqwest::Method::PUT, "/api/widgets/x"),
        (reqwest::Method::PATCH, "/api/widgets/x"),
        (reqwest::Method::GET, "/api/batch"),
        (reqwest::Method::DELETE, "/api/dashboards"),
    ] {
        let answer = call(
            method.clone(),
            &server.url(path),
            Some(TOKEN),
            Some(b"{}".to_vec()),
        )
        .await;
        if let Some(problem) =
            api_error_problem(&answer, 405, "method_not_allowed", &[method.as_str(), path])
        {
            panic!("{method} {path}: {problem}");
        }
    }
    assert_eq!(widget_ids(&server).await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------
// Batches.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_batch_applies_in_order_with_consecutive_ids() {
    let server = spawn(api_config()).await;
    let before = server.published("a", json!({"value": 10})).await;
    let mut viewer = server.connect().await;
    viewer.init().await;

    let (status, body) = server
        .batch(json!([
            {"id": "a", "value": 1},
            {"id": "b", "text": "hello"},
            {"id": "a", "value": 2},
            {"id": "c", "points": [[1, 1]]},
            {"id": "c", "points": [[2, 2]]},
            {"id": "a", "value": 3, "title": "A"},
        ]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["event_ids"],
        "{body}"
    );
    let ids: Vec<String> = body["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    let seqs: Vec<u64> = ids.iter().map(|id| seq_of(id)).collect();
    let first = seq_of(&before) + 1;
    assert_eq!(
        seqs,
        (first..first + 6).collect::<Vec<_>>(),
        "consecutive ids"
    );

    // Viewers get them back to back, in order, each with its id; the numbers'
    // `previous` is chained through the batch.
    let mut previous_of_a = Vec::new();
    for id in &ids {
        let update = viewer.expect_update(id).await;
        if let WidgetValue::Number(n) = update.value {
            previous_of_a.push(n.previous);
        }
    }
    assert_eq!(previous_of_a, [Some(10.0), Some(1.0), Some(2.0)]);

    let a = get_widget(&server, "a").await;
    assert_eq!(a.title.as_deref(), Some("A"));
    let WidgetValue::Number(a) = a.value else {
        panic!("a is a number")
    };
    assert_eq!((a.value, a.previous), (3.0, Some(2.0)));
    let recent: Vec<f64> = a.recent.iter().map(|p| p.1).collect();
    assert_eq!(recent, [10.0, 1.0, 2.0, 3.0]);
    let WidgetValue::Series(c) = get_widget(&server, "c").await.value else {
        panic!("c is a series")
    };
    assert_eq!(c.lines[0].points, [Point(1, 1.0), Point(2, 2.0)]);
    let (_, all) = server.get_json("/api/widgets").await;
    assert_eq!(all["last_event_id"], ids[5].as_str());
    assert_eq!(widget_ids(&server).await, ["a", "b", "c"]);
}

#[actix_web::test]
async fn a_batch_with_one_bad_update_applies_nothing_and_sends_nothing() {
    let server = spawn(api_config()).await;
    let before = server.published("a", json!({"value": 10})).await;
    let mut viewer = server.connect().await;
    viewer.init().await;

    let good = r#"{"id": "a", "value": 100}, {"id": "z", "value": 1}"#;
    let batch = |rest: &str| format!(r#"{{"updates": [{good}, {rest}]}}"#).into_bytes();
    let thousand_and_one = vec![json!({"id": "a", "value": 1}); 1001];
    let case = |what, body, status, code, mentions: &[&'static str]| Refused {
        path: "/api/batch".into(),
        ..refused(what, body, status, code, mentions)
    };
    #[rustfmt::skip]
    let cases = vec![
        case("bad level", batch(r#"{"id": "y", "level": "green"}"#), 422, "invalid_value", &["`updates[2].level`"]),
        case("bad id", batch(r#"{"id": "Bad", "value": 1}"#), 400, "invalid_id", &["`updates[2].id`", "\"Bad\""]),
        case("no id", batch(r#"{"value": 1}"#), 422, "invalid_value", &["`updates[2].id`"]),
        case("numeric id", batch(r#"{"id": 5, "value": 1}"#), 422, "invalid_value", &["`updates[2].id`"]),
        case("non-finite", batch(r#"{"id": "y", "value": 1e999}"#), 422, "invalid_value", &["`updates[2].value`"]),
        case("wrong type", batch(r#"{"id": "a", "kind": "number", "value": "x"}"#), 422, "invalid_value", &["`updates[2].value`"]),
        case("unknown kind", batch(r#"{"id": "y", "kind": "hologram"}"#), 422, "unknown_kind", &["`updates[2].kind`"]),
        case("untelling", batch(r#"{"id": "y"}"#), 422, "unknown_kind", &["`updates[2].kind`"]),
        case("missing field", batch(r#"{"id": "y", "message": "x"}"#), 422, "invalid_value", &["`updates[2]`", "level"]),
        case("not an object", batch("5"), 422, "invalid_value", &["`updates[2]`"]),
        case("empty", br#"{"updates": []}"#.to_vec(), 422, "invalid_value", &["`updates`"]),
        case("1001 updates", json!({"updates": thousand_and_one}).to_string().into_bytes(), 422, "invalid_value", &["`updates`", "1000"]),
        case("updates not a list", br#"{"updates": 5}"#.to_vec(), 422, "invalid_value", &["`updates`"]),
        case("no updates", b"{}".to_vec(), 422, "invalid_value", &["updates"]),
        case("unknown field", br#"{"updates": [{"id": "a", "value": 1}], "x": 1}"#.to_vec(), 422, "invalid_value", &["`x`"]),
        case("malformed JSON", batch(r#"{"id": "y""#), 400, "invalid_json", &["JSON"]),
        Refused { token: None, ..case("no token", batch(r#"{"id": "y", "value": 1}"#), 401, "unauthorized", &[]) },
        Refused { token: Some("wrong"), ..case("wrong token", batch(r#"{"id": "y", "value": 1}"#), 401, "unauthorized", &[]) },
    ];
    let mut problems = Vec::new();
    for case in cases {
        let answer = server.post_raw(&case.path, case.token, case.body).await;
        if let Some(problem) = api_error_problem(&answer, case.status, case.code, &case.mentions) {
            problems.push(format!("{}: {problem}", case.what));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    assert!(
        matches!(get_widget(&server, "a").await.value, WidgetValue::Number(n) if n.value == 10.0)
    );
    assert_eq!(widget_ids(&server).await, ["a"], "z was not created");
    let next = server.published("a", json!({"value": 11})).await;
    assert_eq!(seq_of(&next), seq_of(&before) + 1, "no id was used up");
    let update = viewer.expect_update(&next).await;
    assert!(matches!(update.value, WidgetValue::Number(n) if n.previous == Some(10.0)));
}

// ---------------------------------------------------------------------------
// Authentication.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn publishing_needs_one_of_the_configured_tokens() {
    let mut config = api_config();
    config.publish_tokens = vec![
        "alpha-publish-token-1".into(),
        " beta-publish-token-22 ".into(),
        "".into(),
    ];
    let server = spawn(config).await;
    let body = || br#"{"value": 1}"#.to_vec();
    let publish = |token: Option<&'static str>| {
        let server = &server;
        async move { server.post_raw("/api/widgets/w", token, body()).await }
    };

    // No token and a wrong one get the very same answer.
    let missing = publish(None).await;
    assert_api_error(&missing, 401, "unauthorized", &["Bearer"]);
    for wrong in [
        "gamma",
        "alph",
        "alpha-publish-token-1a",
        "alpha-publish-token-1,beta-publish-token-22",
        "",
        "ALPHA",
    ] {
        let answer = publish(Some(wrong)).await;
        assert_eq!(answer, missing, "token {wrong:?}");
    }
    for header in [
        "alpha-publish-token-1",
        "Basic alpha-publish-token-1",
        "Bearer",
        "Bearer ",
        "Beareralpha-publish-token-1",
        "Token alpha-publish-token-1",
    ] {
        let request = reqwest::Client::new()
            .post(server.url("/api/widgets/w"))
            .header("Authorization", header)
            .body(body());
        assert_eq!(send(request).await, missing, "Authorization: {header}");
    }
    assert_api_error(
        &server.get_json("/api/widgets/w").await,
        404,
        "not_found",
        &[],
    );

    // Every configured token works (spaces around it are not part of it),
    // and the scheme's name is case-insensitive (RFC 9110).
    let first = accepted_id(&publish(Some("alpha-publish-token-1")).await, "w");
    let second = accepted_id(&publish(Some("beta-publish-token-22")).await, "w");
    assert_eq!(seq_of(&second), seq_of(&first) + 1);
    for header in [
        "bearer alpha-publish-token-1",
        "BEARER beta-publish-token-22",
        "Bearer   alpha-publish-token-1  ",
    ] {
        let request = reqwest::Client::new()
            .post(server.url("/api/widgets/w"))
            .header("Authorization", header)
            .body(body());
        assert_eq!(send(request).await.0, 200, "Authorization: {header}");
    }

    // Batches and deletes need one too.
    let batch = || br#"{"updates": [{"id": "w", "value": 2}]}"#.to_vec();
    assert_eq!(server.post_raw("/api/batch", None, batch()).await, missing);
    assert_eq!(
        server.post_raw("/api/batch", Some("gamma"), batch()).await,
        missing
    );
    assert_eq!(
        server
            .post_raw("/api/batch", Some("beta-publish-token-22"), batch())
            .await
            .0,
        200
    );
    assert_eq!(server.delete_widget("w", None).await, missing);
    assert_eq!(server.delete_widget("w", Some("gamma")).await, missing);
    assert_eq!(
        get_widget(&server, "w").await.id.as_str(),
        "w",
        "not deleted"
    );
    assert_eq!(
        server
            .delete_widget("w", Some("alpha-publish-token-1"))
            .await
            .0,
        200
    );

    // Reads are open.
    for path in ["/api/widgets", "/api/dashboards", "/healthz"] {
        assert_eq!(server.get_json(path).await.0, 200, "{path}");
    }
    let mut viewer = server.connect().await;
    viewer.init().await;
}

#[actix_web::test]
async fn a_generated_token_is_printed_once_and_never_logged() {
    let (server, stdout) = ServerProcess::start_bare_printing(
        &[
            "--addr",
            "127.0.0.1:0",
            "--host-metrics",
            "false",
            "--static-dir",
            "/nonexistent",
        ],
        &[],
    )
    .await;
    let prefix =
        "Publish token (generated for this run only; set PULSEBOARD_PUBLISH_TOKEN to keep one): ";
    let printed_token = || {
        let printed = stdout.lock().unwrap().clone();
        printed
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::to_owned)
    };
    eventually(SOON, "the generated token is printed", || {
        let found = printed_token().is_some();
        async move { found }
    })
    .await;
    let token = printed_token().expect("printed");
    assert_eq!(token.len(), 64, "{token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token:?}");

    let publish = |token: Option<String>| {
        let base = server.base.clone();
        async move {
            call(
                reqwest::Method::POST,
                &format!("{base}/api/widgets/w"),
                token.as_deref(),
                Some(br#"{"value": 1}"#.to_vec()),
            )
            .await
        }
    };
    accepted_id(&publish(Some(token.clone())).await, "w");
    assert_eq!(publish(Some(TOKEN.into())).await.0, 401);
    assert_eq!(publish(None).await.0, 401);

    let printed = stdout.lock().unwrap().clone();
    assert_eq!(
        printed.lines().filter(|l| l.starts_with(prefix)).count(),
        1,
        "printed once:\n{printed}"
    );
    assert!(
        !server.log().contains(&token),
        "the token is in the log:\n{}",
        server.log()
    );
}

#[actix_web::test]
async fn configured_tokens_never_reach_the_log() {
    let secret = "s3cret-publish-token";
    let presented = "a-wrong-guess-of-the-token";
    let server = ServerProcess::start_bare(
        &[
            "--addr",
            "127.0.0.1:0",
            "--host-metrics",
            "false",
            "--static-dir",
            "/nonexistent",
        ],
        &[("PULSEBOARD_PUBLISH_TOKEN", secret), ("RUST_LOG", "debug")],
    )
    .await;
    let publish = |token: &'static str| {
        let base = server.base.clone();
        async move {
            call(
                reqwest::Method::POST,
                &format!("{base}/api/widgets/w"),
                Some(token),
                Some(br#"{"value": 1}"#.to_vec()),
            )
            .await
        }
    };
    assert_eq!(publish(secret).await.0, 200);
    assert_eq!(publish(presented).await.0, 401);
    // The refusal is logged (so the log is being written)...
    eventually(SOON, "the refusal is logged", || {
        let logged = server.log().contains("unauthorized");
        async move { logged }
    })
    .await;
    // ...but neither the configured token nor the one presented.
    let log = server.log();
    assert!(!log.contains(secret), "configured token logged:\n{log}");
    assert!(!log.contains(presented), "presented token logged:\n{log}");
}

// ---------------------------------------------------------------------------
// Reading and deleting.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn widgets_are_read_one_or_all() {
    let server = spawn(api_config()).await;
    let (status, empty) = server.get_json("/api/widgets").await;
    assert_eq!(status, 200);
    assert_eq!(
        empty,
        json!({"epoch": &server.hub.epoch(), "last_event_id": null, "widgets": []})
    );

    server.published("x", json!({"value": 1})).await;
    server.published("y", json!({"text": "why"})).await;
    let last = server.published("x", json!({"value": 2})).await;
    let (status, all) = server.get_json("/api/widgets").await;
    assert_eq!(status, 200);
    let mut keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["epoch", "last_event_id", "widgets"]);
    assert_eq!(all["epoch"], server.hub.epoch().as_str());
    assert_eq!(all["last_event_id"], last.as_str());
    // In the order they were first published; each as GET one shows it.
    assert_eq!(widget_ids(&server).await, ["x", "y"]);
    for (i, id) in ["x", "y"].iter().enumerate() {
        let (status, one) = server.get_json(&format!("/api/widgets/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(one, all["widgets"][i], "{id}");
    }

    assert_api_error(
        &server.get_json("/api/widgets/nope").await,
        404,
        "not_found",
        &["`nope`"],
    );
    assert_api_error(
        &server.get_json("/api/widgets/Nope").await,
        400,
        "invalid_id",
        &["\"Nope\""],
    );

    // A stream resumed from the list's last_event_id continues from exactly
    // that state.
    let mut viewer = server.resume_by_query(&last).await;
    let next = server.published("y", json!({"text": "because"})).await;
    viewer.expect_update(&next).await;
}

#[actix_web::test]
async fn delete_removes_a_widget_and_sends_remove() {
    let server = spawn(api_config()).await;
    server.published("a", json!({"value": 1})).await;
    server.published("b", json!({"value": 2})).await;
    let mut viewer = server.connect().await;
    viewer.init().await;

    let (status, body) = server.delete_widget("a", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["event_id", "widget"]);
    let removed = accepted_id(&(status, body), "a");
    viewer.expect_remove("a", &removed).await;

    assert_api_error(
        &server.get_json("/api/widgets/a").await,
        404,
        "not_found",
        &["`a`"],
    );
    assert_eq!(widget_ids(&server).await, ["b"]);
    let (_, all) = server.get_json("/api/widgets").await;
    assert_eq!(all["last_event_id"], removed.as_str());

    // Deleting what is not there: 404, and no event.
    assert_api_error(
        &server.delete_widget("a", Some(TOKEN)).await,
        404,
        "not_found",
        &["`a`"],
    );
    assert_api_error(
        &server.delete_widget("never", Some(TOKEN)).await,
        404,
        "not_found",
        &["`never`"],
    );
    assert_api_error(
        &server.delete_widget("A", Some(TOKEN)).await,
        400,
        "invalid_id",
        &["\"A\""],
    );
    let next = server.published("a", json!({"value": 5})).await;
    assert_eq!(seq_of(&next), seq_of(&removed) + 1);
    // Published again, it is a new widget: no previous, and last in order.
    let update = viewer.expect_update(&next).await;
    assert_eq!(update.value, WidgetValue::Number(number(5.0)));
    assert_eq!(widget_ids(&server).await, ["b", "a"]);
}

#[actix_web::test]
async fn many_publishers_at_once_get_distinct_ids_in_stream_order() {
    let server = spawn(api_config()).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    let publishes = (0..40).map(|i| {
        let server = &server;
        async move {
            let widget = format!("w{}", i % 4);
            server.published(&widget, json!({ "value": i })).await
        }
    });
    let ids: Vec<String> = futures_util::future::join_all(publishes).await;
    let mut seqs: Vec<u64> = ids.iter().map(|id| seq_of(id)).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "distinct, gap-free ids");
    // The stream delivers them in id order, each id being one a publisher got.
    for seq in 1..=40 {
        let id = format!("{}-{seq}", &server.hub.epoch());
        viewer.expect_update(&id).await;
    }
}

/// A batch does what its updates do one by one: an item's current kind is the
/// one the earlier items gave the widget, so `[{"id": "b", "points": [[1,
/// 1]]}, {"id": "b", "value": 2}]` appends the point 2 to the new series.
/// (Found by this test: items used to see the store as before the batch.)
#[actix_web::test]
async fn a_batch_does_what_its_updates_do_one_by_one() {
    let server = spawn(api_config()).await;
    server
        .published("gauge-1", json!({"value": 5, "min": 0, "max": 10}))
        .await;
    server
        .published("gauge-2", json!({"value": 5, "min": 0, "max": 10}))
        .await;
    let scenarios = [
        (
            "new",
            vec![json!({"points": [[1, 1]]}), json!({"value": 2})],
        ),
        ("gauge", vec![json!({"text": "x"}), json!({"value": 7})]),
    ];
    let mut problems = Vec::new();
    for (name, bodies) in scenarios {
        let (one_by_one, batched) = match name {
            "new" => ("new-1".to_owned(), "new-2".to_owned()),
            _ => ("gauge-1".to_owned(), "gauge-2".to_owned()),
        };
        for body in &bodies {
            server.published(&one_by_one, body.clone()).await;
        }
        let items: Vec<Value> = bodies
            .iter()
            .map(|body| {
                let mut item = body.clone();
                item["id"] = json!(batched);
                item
            })
            .collect();
        let (status, answer) = server.batch(Value::Array(items)).await;
        assert_eq!(status, 200, "{answer}");
        let expected = get_widget(&server, &one_by_one).await.value;
        let got = get_widget(&server, &batched).await.value;
        // Times differ; the kind and the values must not.
        let strip = |value: &WidgetValue| {
            let mut json = serde_json::to_value(value).unwrap();
            if let Some(lines) = json.get_mut("lines").and_then(Value::as_array_mut) {
                for line in lines {
                    for point in line["points"].as_array_mut().unwrap() {
                        point[0] = json!(0);
                    }
                }
            }
            if let Some(recent) = json.get_mut("recent").and_then(Value::as_array_mut) {
                for point in recent {
                    point[0] = json!(0);
                }
            }
            json
        };
        if strip(&got) != strip(&expected) {
            problems.push(format!(
                "{name}: one by one {}, in a batch {}",
                strip(&expected),
                strip(&got)
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// An update that leaves `window` (`max_lines`) out is bounded by the one the
/// widget keeps, not by the default: a series kept at window 1000 takes 700
/// new points, a log kept at 500 lines takes 300 new ones. (Found by this
/// test: the default bound used to apply.)
#[actix_web::test]
async fn an_update_within_the_kept_bounds_is_accepted() {
    let server = spawn(api_config()).await;
    server
        .published("long", json!({"points": [1], "window": 1000}))
        .await;
    server
        .published("tail", json!({"line": "first", "max_lines": 500}))
        .await;
    let points: Vec<usize> = (0..700).collect();
    let lines: Vec<String> = (0..300).map(|i| format!("line {i}")).collect();
    let mut problems = Vec::new();
    for (widget, body) in [
        ("long", json!({ "points": points })),
        ("tail", json!({ "lines": lines })),
    ] {
        let (status, answer) = server.publish_json(widget, body).await;
        if status != 200 {
            problems.push(format!("{widget}: {status} {answer}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let WidgetValue::Series(long) = get_widget(&server, "long").await.value else {
        panic!("a series")
    };
    assert_eq!((long.window, long.lines[0].points.len()), (1000, 701));
    let WidgetValue::Log(tail) = get_widget(&server, "tail").await.value else {
        panic!("a log")
    };
    assert_eq!((tail.max_lines, tail.lines.len()), (500, 301));
}

/// In a batch, an update that only clashes with the settings its widget keeps
/// (found when applying) is refused naming its item, `updates[1].max`, and
/// the batch is refused whole. (Found by this test: the item was not named.)
#[actix_web::test]
async fn a_batch_error_found_when_applying_names_its_item() {
    let server = spawn(api_config()).await;
    server
        .published("g", json!({"value": 1, "min": 5, "max": 10}))
        .await;
    let lines: serde_json::Map<String, Value> =
        (0..16).map(|i| (format!("l{i}"), json!([1]))).collect();
    server.published("s", json!({ "lines": lines })).await;
    let mut problems = Vec::new();
    for (item, field) in [
        (
            json!({"id": "g", "value": 1, "min": 50}),
            "`updates[1].max`",
        ),
        (
            json!({"id": "s", "lines": {"l16": [1]}}),
            "`updates[1].lines`",
        ),
    ] {
        let answer = server.batch(json!([{"id": "new", "value": 1}, item])).await;
        if let Some(problem) = api_error_problem(&answer, 422, "invalid_value", &[field]) {
            problems.push(problem);
        }
    }
    assert_api_error(
        &server.get_json("/api/widgets/new").await,
        404,
        "not_found",
        &[],
    );
    assert!(problems.is_empty(), "{problems:#?}");
}
