//! The wire contract: what the server encodes, the SPA decodes to the same value.

use protocol::*;

fn id(s: &str) -> WidgetId {
    WidgetId::parse(s).expect("valid id")
}

fn snapshot() -> Snapshot {
    Snapshot {
        widgets: vec![
            Widget::new(Update {
                id: id("host.cpu"),
                title: Some("CPU".into()),
                value: WidgetValue::Gauge(Gauge {
                    value: 12.5,
                    min: 0.0,
                    max: 100.0,
                    unit: Some("%".into()),
                    thresholds: Some(Thresholds {
                        warn: Some(70.0),
                        critical: Some(90.0),
                    }),
                }),
                at: 1_700_000_000_000,
                expect_every: Some(5),
            }),
            Widget::new(Update {
                id: id("orders"),
                title: None,
                value: WidgetValue::Number(Number {
                    value: 42.0,
                    previous: Some(40.0),
                    ..Number::default()
                }),
                at: 1_700_000_000_001,
                expect_every: None,
            }),
        ],
    }
}

fn every_value() -> Vec<WidgetValue> {
    vec![
        WidgetValue::Number(Number {
            value: -3.25,
            unit: Some("ms".into()),
            recent: vec![Point(1, -3.0), Point(2, -3.25)],
            ..Number::default()
        }),
        WidgetValue::Gauge(Gauge {
            value: 7.0,
            min: -10.0,
            max: 10.0,
            unit: None,
            thresholds: None,
        }),
        WidgetValue::Series(Series {
            lines: vec![SeriesLine {
                name: "rx".into(),
                points: vec![Point(1, 2.0), Point(2, 3.5)],
            }],
            window: 300,
            unit: Some("B/s".into()),
        }),
        WidgetValue::List(List {
            rows: vec![ListRow {
                label: "1m".into(),
                value: "0.50".into(),
            }],
        }),
        WidgetValue::Status(Status {
            level: StatusLevel::Warn,
            message: Some("disk 91%".into()),
        }),
        WidgetValue::Text(Text {
            text: "deployed v1.2 ✓".into(),
        }),
        WidgetValue::Log(Log {
            lines: vec![LogLine {
                at: 3,
                text: "deploy started".into(),
            }],
            max_lines: 50,
        }),
    ]
}

fn view() -> View {
    View {
        dashboards: vec![DashboardSpec {
            name: id("ops"),
            title: Some("Operations".into()),
            widgets: vec![WidgetSpec {
                id: id("orders"),
                title: Some("Orders".into()),
                kind: Some(WidgetKind::Series),
                unit: Some("/min".into()),
                size: Size(2, 1),
                thresholds: None,
                expect_every: Some(60),
            }],
            unsorted: true,
            kiosk: true,
        }],
        dashboard: Some("ops".into()),
        playlists: vec![PlaylistSpec {
            name: id("lobby"),
            entries: vec![PlaylistEntry {
                dashboard: id("ops"),
                seconds: 30,
            }],
        }],
        snapshot: snapshot(),
    }
}

fn every_event() -> Vec<ServerEvent> {
    let epoch = "a1b2c3".to_string();
    let last = Some(EventId {
        epoch: epoch.clone(),
        seq: 17,
    });
    let mut events = vec![
        ServerEvent::Init(Init {
            protocol_version: PROTOCOL_VERSION,
            epoch: epoch.clone(),
            last_event_id: last.clone(),
            heartbeat_ms: 15_000,
            build: Some("d08d6976370bd525".into()),
            view: view(),
        }),
        ServerEvent::Remove(Remove { id: id("orders") }),
        ServerEvent::Reset(Reset {
            epoch,
            last_event_id: last,
            build: None,
            view: View {
                dashboard: None,
                ..view()
            },
        }),
        ServerEvent::Heartbeat(Heartbeat {
            server_time: 1_700_000_000_000,
        }),
        ServerEvent::Shutdown(Shutdown {
            reconnect_after_ms: 500,
        }),
    ];
    let updates: Vec<Update> = every_value()
        .into_iter()
        .map(|value| Update {
            id: id("w-1"),
            title: Some("W".into()),
            value,
            at: 5,
            expect_every: Some(30),
        })
        .collect();
    events.extend(updates.iter().cloned().map(ServerEvent::Update));
    events.push(ServerEvent::Updates(updates));
    events
}

#[test]
fn every_variant_round_trips_through_encode_and_decode() {
    for event in every_event() {
        let encoded = event.encode().expect("encodes");
        assert_eq!(encoded.name, event.name());
        let decoded = ServerEvent::decode(encoded.name, &encoded.data).expect("decodes");
        assert_eq!(decoded, event, "round trip of {}", encoded.data);
    }
}

#[test]
fn event_names_are_stable() {
    let names: Vec<&str> = every_event().iter().map(ServerEvent::name).collect();
    let stable = [
        "init",
        "update",
        "remove",
        "reset",
        "heartbeat",
        "shutdown",
        "updates",
    ];
    for expected in stable {
        assert!(names.contains(&expected), "{expected} missing");
    }
    assert_eq!(ServerEvent::NAMES, stable);
}

#[test]
fn wire_format_is_as_documented() {
    let event = ServerEvent::Update(Update {
        id: id("orders"),
        title: None,
        value: WidgetValue::Number(Number {
            value: 42.0,
            ..Number::default()
        }),
        at: 9,
        expect_every: None,
    });
    assert_eq!(
        event.encode().unwrap().data,
        r#"{"id":"orders","value":{"kind":"number","value":42.0},"at":9}"#
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let data = r#"{"server_time": 12, "added_in_v9": {"x": [1, 2]}}"#;
    let event = ServerEvent::decode("heartbeat", data).expect("decodes");
    assert_eq!(event, ServerEvent::Heartbeat(Heartbeat { server_time: 12 }));

    let data = r#"{"id":"a","value":{"kind":"gauge","value":1,"future":true},"at":1,"extra":1}"#;
    assert!(ServerEvent::decode("update", data).is_ok());
}

#[test]
fn wall_screen_fields_are_optional_both_ways() {
    // From a server that predates builds, playlists and kiosk dashboards.
    let old = r#"{"protocol_version":1,"epoch":"e1","heartbeat_ms":15000,
        "dashboards":[{"name":"ops","widgets":[]}],"snapshot":{"widgets":[]}}"#;
    let ServerEvent::Init(init) = ServerEvent::decode("init", old).expect("decodes") else {
        panic!("not an init");
    };
    assert_eq!(init.build, None);
    assert!(init.view.playlists.is_empty());
    assert!(!init.view.dashboards[0].kiosk);
    // Left out again when unset, so an old client sees what it always saw.
    let data = ServerEvent::Init(init).encode().unwrap().data;
    assert!(!data.contains("build") && !data.contains("playlists") && !data.contains("kiosk"));

    let reset = r#"{"epoch":"e1","build":"0123abcd","snapshot":{"widgets":[]},
        "playlists":[{"name":"lobby","entries":[{"dashboard":"ops","seconds":30}]}]}"#;
    let ServerEvent::Reset(reset) = ServerEvent::decode("reset", reset).expect("decodes") else {
        panic!("not a reset");
    };
    assert_eq!(reset.build.as_deref(), Some("0123abcd"));
    assert_eq!(reset.view.playlists[0].entries[0].seconds, 30);
}

#[test]
fn unknown_widget_kind_decodes_as_unknown() {
    let data = r#"{"id":"a","value":{"kind":"hologram","depth":3},"at":1}"#;
    match ServerEvent::decode("update", data).expect("decodes") {
        ServerEvent::Update(u) => assert_eq!(u.value, WidgetValue::Unknown),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn malformed_payloads_are_errors_not_panics() {
    let cases = [
        ("init", ""),
        ("init", "{"),
        ("update", "null"),
        (
            "update",
            r#"{"id":"BAD ID","value":{"kind":"text","text":""},"at":1}"#,
        ),
        (
            "update",
            r#"{"id":"a","value":{"kind":"number","value":"x"},"at":1}"#,
        ),
        ("heartbeat", "[]"),
        (
            "reset",
            r#"{"epoch":"e","last_event_id":"no-dash-number","snapshot":{"widgets":[]}}"#,
        ),
        ("shutdown", "\u{0}"),
    ];
    for (name, data) in cases {
        assert!(
            matches!(
                ServerEvent::decode(name, data),
                Err(DecodeError::Malformed { .. })
            ),
            "{name} {data:?} should be malformed"
        );
    }
    assert!(matches!(
        ServerEvent::decode("nope", "{}"),
        Err(DecodeError::UnknownEvent(_))
    ));
}

#[test]
fn widget_ids_are_validated() {
    for good in ["a", "host.cpu", "0-x_y.z", &"a".repeat(64)] {
        assert!(WidgetId::parse(good).is_ok(), "{good}");
    }
    for bad in ["", "A", "-a", ".a", "a b", "a/b", "é", &"a".repeat(65)] {
        assert!(WidgetId::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn event_ids_parse_and_print() {
    let parsed: EventId = "ff00-42".parse().unwrap();
    assert_eq!(
        parsed,
        EventId {
            epoch: "ff00".into(),
            seq: 42
        }
    );
    assert_eq!(parsed.to_string(), "ff00-42");
    for bad in ["", "42", "-42", "ff-", "ff-x", "f f-1", "ff--1"] {
        assert!(bad.parse::<EventId>().is_err(), "{bad}");
    }
}

#[test]
fn series_updates_append_within_the_window() {
    let mut snapshot = Snapshot::default();
    let series = |points: Vec<Point>| {
        WidgetValue::Series(Series {
            lines: vec![SeriesLine {
                name: "cpu".into(),
                points,
            }],
            window: 3,
            unit: None,
        })
    };
    let update = |points, at| Update {
        id: id("s"),
        title: None,
        value: series(points),
        at,
        expect_every: None,
    };
    snapshot.apply_update(update(vec![Point(1, 1.0), Point(2, 2.0)], 2));
    snapshot.apply_update(update(vec![Point(3, 3.0), Point(4, 4.0)], 4));
    let widget = snapshot.get("s").unwrap();
    assert_eq!(
        widget.value,
        series(vec![Point(2, 2.0), Point(3, 3.0), Point(4, 4.0)])
    );
    assert_eq!(widget.updated_at, 4);
}

#[test]
fn numbers_remember_the_previous_value() {
    let old = WidgetValue::Number(Number {
        value: 1.0,
        ..Number::default()
    });
    let mut new = WidgetValue::Number(Number {
        value: 2.0,
        ..Number::default()
    });
    new.complete_from(&old);
    assert_eq!(
        new,
        WidgetValue::Number(Number {
            value: 2.0,
            previous: Some(1.0),
            ..Number::default()
        })
    );
}

#[test]
fn numbers_keep_their_recent_values_for_a_sparkline() {
    let mut snapshot = Snapshot::default();
    for at in 0..(NUMBER_RECENT as i64 + 5) {
        snapshot.apply_update(Update {
            id: id("n"),
            title: None,
            value: WidgetValue::Number(Number {
                value: at as f64,
                ..Number::default()
            }),
            at,
            expect_every: None,
        });
    }
    let WidgetValue::Number(number) = &snapshot.get("n").unwrap().value else {
        panic!("not a number");
    };
    assert_eq!(number.recent.len(), NUMBER_RECENT);
    assert_eq!(number.recent.first(), Some(&Point(5, 5.0)));
    assert_eq!(number.recent.last(), Some(&Point(64, 64.0)));
}

#[test]
fn logs_append_and_keep_their_tail() {
    let mut snapshot = Snapshot::default();
    let log = |texts: &[&str]| {
        WidgetValue::Log(Log {
            lines: texts
                .iter()
                .map(|t| LogLine {
                    at: 1,
                    text: t.to_string(),
                })
                .collect(),
            max_lines: 3,
        })
    };
    let update = |value| Update {
        id: id("deploys"),
        title: None,
        value,
        at: 1,
        expect_every: Some(60),
    };
    snapshot.apply_update(update(log(&["a", "b"])));
    snapshot.apply_update(update(log(&["c", "d"])));
    let widget = snapshot.get("deploys").unwrap();
    assert_eq!(widget.value, log(&["b", "c", "d"]));
    assert_eq!(widget.expect_every, Some(60));
}

#[test]
fn thresholds_rank_values_in_either_direction() {
    let high_is_bad = Thresholds {
        warn: Some(70.0),
        critical: Some(90.0),
    };
    assert_eq!(high_is_bad.level(10.0), StatusLevel::Ok);
    assert_eq!(high_is_bad.level(70.0), StatusLevel::Warn);
    assert_eq!(high_is_bad.level(95.0), StatusLevel::Critical);
    let low_is_bad = Thresholds {
        warn: Some(20.0),
        critical: Some(5.0),
    };
    assert_eq!(low_is_bad.level(50.0), StatusLevel::Ok);
    assert_eq!(low_is_bad.level(20.0), StatusLevel::Warn);
    assert_eq!(low_is_bad.level(1.0), StatusLevel::Critical);
    let only_critical = Thresholds {
        warn: None,
        critical: Some(3.0),
    };
    assert_eq!(only_critical.level(2.0), StatusLevel::Ok);
    assert_eq!(only_critical.level(3.0), StatusLevel::Critical);
}

#[test]
fn kinds_have_stable_names() {
    for kind in WidgetKind::ALL {
        assert_eq!(WidgetKind::parse(kind.as_str()), Some(kind));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
    }
    assert_eq!(WidgetKind::parse("hologram"), None);
}

#[test]
fn remove_and_kind_change() {
    let mut snapshot = snapshot();
    snapshot.apply_update(Update {
        id: id("orders"),
        title: None,
        value: WidgetValue::Text(Text { text: "x".into() }),
        at: 1,
        expect_every: None,
    });
    assert_eq!(
        snapshot.get("orders").unwrap().value,
        WidgetValue::Text(Text { text: "x".into() })
    );
    assert_eq!(snapshot.get("orders").unwrap().title, None);
    snapshot.remove(&id("orders"));
    assert!(snapshot.get("orders").is_none());
    assert_eq!(snapshot.widgets.len(), 1);
}
