//! `docs/deploy.md` and the deployment files cannot drift from the server:
//! the settings table matches the real flags, the nginx config shown is the
//! one the proxy tests run, and the systemd unit and Dockerfile use settings
//! the server accepts.

use std::path::PathBuf;

use clap::CommandFactory;
use pulseboard::Config;

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The cells of the settings table's row for `--long`, trimmed.
fn row<'a>(doc: &'a str, long: &str) -> Option<Vec<&'a str>> {
    let start = format!("| `--{long}` |");
    let line = doc.lines().find(|line| line.starts_with(&start))?;
    Some(line.trim_matches('|').split(" | ").map(str::trim).collect())
}

#[test]
fn the_settings_table_lists_every_flag_with_its_env_key_and_default() {
    let doc = repo_file("docs/deploy.md");
    let command = Config::command();
    let mut problems = Vec::new();
    let mut documented = 0;
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let Some(cells) = row(&doc, long) else {
            problems.push(format!("--{long} is missing"));
            continue;
        };
        documented += 1;
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let key = if long == "config" {
            "—".to_owned()
        } else {
            format!("`{}`", long.replace('-', "_"))
        };
        if cells.get(1) != Some(&env.as_str()) {
            problems.push(format!(
                "--{long}: env should be {env}, is {:?}",
                cells.get(1)
            ));
        }
        if cells.get(2) != Some(&key.as_str()) {
            problems.push(format!(
                "--{long}: file key should be {key}, is {:?}",
                cells.get(2)
            ));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() {
            let expected = format!("`{}`", defaults.join(","));
            if cells.get(3) != Some(&expected.as_str()) {
                problems.push(format!(
                    "--{long}: default should be {expected}, is {:?}",
                    cells.get(3)
                ));
            }
        }
    }
    // And no row for a flag that does not exist.
    let rows = doc.lines().filter(|l| l.starts_with("| `--")).count();
    if rows != documented {
        problems.push(format!(
            "{rows} flag rows for {documented} flags: a row for an unknown flag"
        ));
    }
    assert!(
        problems.is_empty(),
        "docs/deploy.md:\n{}",
        problems.join("\n")
    );
    assert!(
        documented >= 30,
        "only {documented} flags found: is the parser broken?"
    );
}

#[test]
fn the_nginx_config_shown_is_the_one_the_proxy_tests_run() {
    let doc = repo_file("docs/deploy.md");
    let config = repo_file("deploy/nginx/pulseboard.conf");
    assert!(
        doc.contains(&format!("```nginx\n{config}```")),
        "docs/deploy.md must show deploy/nginx/pulseboard.conf verbatim"
    );
}

#[test]
fn the_systemd_unit_starts_the_server_with_valid_settings() {
    let unit = repo_file("deploy/pulseboard.service");
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert!(args[0].ends_with("/pulseboard"), "{exec}");
    let mut argv = vec!["pulseboard"];
    argv.extend(&args[1..]);
    let config = Config::load_from(argv).unwrap_or_else(|e| panic!("{exec}: {e}"));
    assert_eq!(config.trusted_proxies.len(), 1, "it trusts the local proxy");
}

#[test]
fn the_dockerfile_sets_known_settings_and_the_pinned_trunk() {
    let dockerfile = repo_file("Dockerfile");
    let command = Config::command();
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    let set: Vec<&str> = dockerfile
        .split(|c: char| c.is_whitespace() || c == '=')
        .filter(|word| {
            word.starts_with("PULSEBOARD_")
                && word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .collect();
    assert!(set.len() >= 3, "{set:?}");
    for name in set {
        assert!(
            known.iter().any(|k| k == name),
            "Dockerfile sets unknown {name}"
        );
    }
    let setup = repo_file("scripts/setup.sh");
    let pinned = setup
        .lines()
        .find_map(|line| line.strip_prefix("TRUNK_VERSION="))
        .expect("setup.sh pins trunk");
    assert!(
        dockerfile.contains(&format!("trunk@{pinned}")),
        "the Dockerfile installs trunk {pinned}, as setup.sh does"
    );
}
