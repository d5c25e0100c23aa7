//! `docs/api.md` cannot drift: every `curl` example in it is replayed, in
//! document order, against a real server started with the example config
//! (`docs/examples/pulseboard.toml`), and must get the status written on the
//! `# → <status>` line after it. `scripts/demo.sh --once` must publish every
//! widget kind to that config's dashboard.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{spawn, test_config, SOON};
use pulseboard::Config;

const TOKEN: &str = "docs-example-publish-token";

/// Fewer than this means the parser lost examples, not that the docs have few.
const MIN_EXAMPLES: usize = 20;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test server, set up as the docs say: the example config's dashboards
/// and one known token.
fn doc_config() -> Config {
    let path = repo_root().join("docs/examples/pulseboard.toml");
    let file = pulseboard::config_file::read(&path).expect("the example config is valid");
    assert!(
        file.settings.is_empty(),
        "the example config sets {:?}; apply them here too",
        file.settings
    );
    let mut config = test_config();
    config.dashboards = file.dashboards;
    config.publish_tokens = vec![TOKEN.into()];
    config
}

#[derive(Debug)]
struct Example {
    /// 1-based line of `docs/api.md` where the command starts.
    line: usize,
    command: String,
    status: u16,
}

/// Every line in a fenced code block that starts with `curl`, joined with
/// its `\` continuations, and the status on the line right after it.
fn examples(doc: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut in_code = false;
    let mut lines = doc.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code || !line.trim_start().starts_with("curl ") {
            continue;
        }
        let mut command = line.trim().to_owned();
        let mut next = lines.next();
        while let Some(continued) = command.strip_suffix('\\') {
            command = format!(
                "{} {}",
                continued.trim_end(),
                next.expect("a continuation").1.trim()
            );
            next = lines.next();
        }
        let status = next
            .and_then(|(_, l)| l.trim().strip_prefix("# → "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "docs/api.md:{}: `{command}` has no `# → <status>` line after it",
                    i + 1
                )
            });
        examples.push(Example {
            line: i + 1,
            command,
            status,
        });
    }
    examples
}

/// Splits a command line as a POSIX shell would, for the quoting the docs
/// use, expanding `$NAME` and `${NAME}` from `vars` outside single quotes.
fn shell_words(command: &str, vars: &BTreeMap<&str, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => {
                let escaped = chars.next().expect("a character after \\");
                word.get_or_insert_with(String::new).push(escaped);
                continue;
            }
            '$' if !single => {
                let braced = chars.next_if_eq(&'{').is_some();
                let mut name = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    name.push(c);
                }
                if braced {
                    assert_eq!(chars.next(), Some('}'), "unclosed ${{ in `{command}`");
                }
                let value = vars
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("unknown variable ${name} in `{command}`"));
                word.get_or_insert_with(String::new).push_str(value);
                continue;
            }
            c if c.is_whitespace() && !single && !double => {
                words.extend(word.take());
                continue;
            }
            c => {
                word.get_or_insert_with(String::new).push(c);
                continue;
            }
        }
        // A quote: even `''` makes a (possibly empty) word.
        word.get_or_insert_with(String::new);
    }
    assert!(!single && !double, "unclosed quote in `{command}`");
    words.extend(word);
    words
}

#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// What curl would send for these arguments (the options the docs use).
fn request(words: &[String]) -> Request {
    assert_eq!(words.first().map(String::as_str), Some("curl"));
    let mut method = None;
    let mut url = None;
    let mut headers = Vec::new();
    let mut body = None;
    let mut args = words[1..].iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "-H" | "--header" => {
                let (name, value) = value().split_once(':').expect("a `Name: value` header");
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-d" | "--data" | "--data-raw" => {
                assert!(body.is_none(), "one -d per example");
                body = Some(value().clone());
            }
            "-X" | "--request" => method = Some(value().clone()),
            // Output options: they change nothing the server sees.
            "-N" | "--no-buffer" | "-s" | "--silent" | "-S" | "--show-error" | "-i"
            | "--include" => {}
            other if other.starts_with('-') => panic!("curl option {other} is not replayed"),
            other => {
                assert!(url.is_none(), "two URLs in one example");
                url = Some(other.to_owned());
            }
        }
    }
    // curl's defaults: POST with a body, and a form content type.
    if body.is_some()
        && !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    Request {
        method: method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.into()),
        url: url.expect("a URL"),
        headers,
        body,
    }
}

async fn send(client: &reqwest::Client, request: &Request) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method");
    let mut builder = client.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    // Returns at the headers: a stream's status is known without reading it.
    tokio::time::timeout(SOON, builder.send())
        .await
        .unwrap_or_else(|_| panic!("no answer within {SOON:?}: {request:?}"))
        .unwrap_or_else(|e| panic!("request failed: {e}: {request:?}"))
}

#[actix_web::test]
async fn every_curl_example_gets_the_documented_status() {
    let doc = std::fs::read_to_string(repo_root().join("docs/api.md")).expect("docs/api.md");
    let examples = examples(&doc);
    assert!(
        examples.len() >= MIN_EXAMPLES,
        "only {} curl examples found in docs/api.md: is the parser broken?",
        examples.len()
    );

    let server = spawn(doc_config()).await;
    let vars = BTreeMap::from([("PULSEBOARD", server.base.clone()), ("TOKEN", TOKEN.into())]);
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for example in &examples {
        let request = request(&shell_words(&example.command, &vars));
        let response = send(&client, &request).await;
        let status = response.status().as_u16();
        if status != example.status {
            let streaming = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            let body = if streaming {
                "<a stream>".into()
            } else {
                response.text().await.unwrap_or_default()
            };
            failures.push(format!(
                "docs/api.md:{}: `{}`\n  documented {}, got {status}: {body}",
                example.line, example.command, example.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples disagree with the server:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}

#[test]
fn an_example_without_a_status_is_an_error() {
    let doc = "```sh\ncurl $PULSEBOARD/healthz\n# → 200\ncurl $PULSEBOARD/readyz\n```\n";
    let result = std::panic::catch_unwind(|| examples(doc));
    assert!(result.is_err(), "the second example has no status line");
    let doc = "```sh\ncurl -X DELETE \\\n  $PULSEBOARD/api/widgets/x\n# → 404\n```\n";
    assert_eq!(examples(doc)[0].status, 404);
}

#[test]
fn commands_are_read_as_the_shell_reads_them() {
    let vars = BTreeMap::from([
        ("PULSEBOARD", "http://h:1".to_owned()),
        ("TOKEN", "t".into()),
    ]);
    let words = shell_words(
        r#"curl -H "Authorization: Bearer $TOKEN" -d '{"a": "$TOKEN"}' "${PULSEBOARD}/x?y=1" -X DELETE"#,
        &vars,
    );
    assert_eq!(
        request(&words),
        Request {
            method: "DELETE".into(),
            url: "http://h:1/x?y=1".into(),
            headers: vec![
                ("Authorization".into(), "Bearer t".into()),
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into()
                ),
            ],
            body: Some(r#"{"a": "$TOKEN"}"#.into()),
        }
    );
    let get = request(&shell_words("curl -N $PULSEBOARD/api/events", &vars));
    assert_eq!((get.method.as_str(), get.body), ("GET", None));
}

/// `scripts/demo.sh --once` against an in-process server with the example
/// config: every kind arrives, on every widget the `demo` dashboard declares
/// (so the demo's bodies fit the declared kinds).
#[actix_web::test]
async fn the_demo_publishes_every_kind() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let config = doc_config();
    let declared: Vec<String> = config.dashboards[0]
        .widgets
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    let server = spawn(config).await;

    let output = demo(&["--once", &server.base], Some(TOKEN)).await;
    assert!(output.status.success(), "demo.sh --once failed: {output:?}");

    let list: serde_json::Value = server.get("/api/widgets").await.json().await.unwrap();
    let kinds: BTreeMap<&str, &str> = list["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap(),
                w["value"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    let mut seen: Vec<&str> = kinds.values().copied().collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        ["gauge", "list", "log", "number", "series", "status", "text"],
        "{kinds:?}"
    );
    for id in &declared {
        assert!(kinds.contains_key(id.as_str()), "demo.sh left {id} empty");
    }

    // A refused token stops it with the server's JSON error.
    let output = demo(&["--once", &server.base], Some("not-the-token")).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#""error":"unauthorized""#), "{stderr}");
}

async fn demo(args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(repo_root().join("scripts/demo.sh"))
        .args(args)
        .kill_on_drop(true);
    // The shell running the tests must not change what the demo does.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PULSEBOARD_") {
            command.env_remove(name);
        }
    }
    if let Some(token) = token {
        command.env("PULSEBOARD_TOKEN", token);
    }
    tokio::time::timeout(SOON * 3, command.output())
        .await
        .expect("demo.sh --once finishes")
        .expect("bash runs")
}
