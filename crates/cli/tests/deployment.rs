//! The deployment files agree with the server they deploy: the workflow calls the seed's three
//! endpoints in order with the token and fails on a failed call; `fly.toml` and the
//! `Dockerfile` use the environment `barter serve` reads, which is exercised here for real, and
//! the image ships the release binary stripped of its debug info. (The Dockerfile is otherwise
//! checked by reading: the tests need no Docker engine.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_workflow_calls_the_three_endpoints_in_the_seeds_order_and_fails_on_failure() {
    let workflow = read(".github/workflows/daily.yml");
    let at = |route: &str| {
        workflow
            .find(&format!("$BARTER_URL{route}\""))
            .unwrap_or_else(|| panic!("the workflow calls {route}"))
    };
    let (sync, trade, close) = (
        at("/api/sync_data"),
        at("/api/sync_new_trades"),
        at("/api/sync_close_positions"),
    );
    assert!(sync < trade && trade < close, "sync → trade → close");
    assert!(workflow.contains("BARTER_API_TOKEN: ${{ secrets.BARTER_API_TOKEN }}"));
    assert_eq!(
        workflow
            .matches("Authorization: Bearer $BARTER_API_TOKEN")
            .count(),
        3,
        "every call sends the token"
    );
    assert_eq!(workflow.matches("curl --fail-with-body").count(), 3);
    assert_eq!(
        workflow.matches("set -euo pipefail").count(),
        3,
        "each step stops at its first failure"
    );
    assert_eq!(
        workflow
            .matches(r#"jq -e '.status == "succeeded" or .status == "partial"'"#)
            .count(),
        3,
        "a failed (or unfinished) job fails its step"
    );
    assert!(workflow.contains("cron: \"10 0 * * *\""));
}

#[test]
fn fly_toml_and_the_dockerfile_use_the_servers_interface() {
    let fly: toml::Table = read("fly.toml").parse().expect("fly.toml is TOML");
    let env = fly["env"].as_table().expect("[env]");
    let bind = env["BARTER_SERVER__BIND"].as_str().expect("bind");
    let port: i64 = bind
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let service = fly["http_service"].as_table().expect("[http_service]");
    assert_eq!(service["internal_port"].as_integer(), Some(port));
    assert_eq!(service["checks"][0]["path"].as_str(), Some("/healthz"));
    let database = env["BARTER_DATABASE_URL"].as_str().expect("database");
    let mount = fly["mounts"][0]["destination"].as_str().expect("a volume");
    let file = database.strip_prefix("sqlite://").expect("SQLite");
    assert!(
        file.starts_with(mount),
        "the database {file} is on the volume {mount}"
    );
    assert!(
        !read("fly.toml").contains("BARTER_API_TOKEN ="),
        "the token is a secret, not in the file"
    );

    let docker = read("Dockerfile");
    assert_eq!(
        docker.matches("\nFROM ").count() + docker.starts_with("FROM ") as usize,
        2
    );
    let needles = [
        format!("BARTER_SERVER__BIND={bind}"),
        format!("BARTER_DATABASE_URL={database}"),
        format!("EXPOSE {port}"),
        "cargo build --release --locked -p barter-cli".to_owned(),
        "CMD [\"serve\"]".to_owned(),
        "VOLUME /data".to_owned(),
    ];
    for needle in &needles {
        assert!(docker.contains(needle), "Dockerfile has {needle}");
    }
    assert!(
        docker
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .all(|l| !l.contains("BARTER_API_TOKEN")),
        "no token baked into the image (only comments mention it)"
    );
}

#[test]
fn the_image_ships_the_release_binary_without_its_debug_info() {
    let docker = read("Dockerfile");
    let code: Vec<&str> = docker
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let code = code.join("\n");
    let runtime = code.rfind("\nFROM ").expect("a runtime stage");
    let (build, runtime) = code.split_at(runtime);
    let built = build
        .find("cargo build --release --locked -p barter-cli")
        .expect("the build stage builds the release binary");
    let stripped = build
        .find("strip --strip-debug target/release/barter")
        .expect("the build stage strips the binary's debug info");
    assert!(built < stripped, "stripped after it is built");
    assert!(
        runtime.contains("COPY --from=build /src/target/release/barter /usr/local/bin/barter"),
        "the runtime stage copies the stripped binary"
    );
    // The profile keeps line tables for perf and local backtraces; only the image drops them.
    let cargo: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let release = cargo["profile"]["release"]
        .as_table()
        .expect("[profile.release]");
    assert_eq!(
        release.get("strip"),
        None,
        "the release profile keeps its debug info"
    );
    // The README says how big it is and how to reproduce the figure.
    let readme = read("README.md");
    assert!(
        readme.contains("strip --strip-debug"),
        "the README's Docker section has the size command"
    );
}

/// Runs `barter` with `args` and `env`; returns its exit status and stderr.
fn barter(args: &[&str], env: &[(&str, String)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("BARTER_API_TOKEN")
        .output()
        .expect("barter runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_container_environment_starts_a_server_and_bad_setups_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // As the image does: an absolute SQLite URL, a config path, the bind from the environment.
    let env = vec![
        (
            "BARTER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("data/barter.db").display()),
        ),
        (
            "BARTER_CONFIG",
            dir.path().join("barter.toml").display().to_string(),
        ),
        ("BARTER_SERVER__BIND", "127.0.0.1:0".to_owned()),
    ];
    let (ok, stderr) = barter(&["init"], &env);
    assert!(ok, "{stderr}");

    let (ok, stderr) = barter(&["serve"], &env);
    assert!(!ok, "no token, no server");
    assert!(stderr.contains("BARTER_API_TOKEN"), "{stderr}");
    let (ok, stderr) = barter(&["serve", "--no-auth", "--bind", "0.0.0.0:0"], &env);
    assert!(!ok, "--no-auth on a public address is refused");
    assert!(stderr.contains("loopback"), "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_barter"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BARTER_API_TOKEN", "container-token-0123456789abcdef0123")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address");
    let base = line
        .trim()
        .strip_prefix("barter serve listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("health");
    let refused = client
        .get(format!("{base}/api/instruments"))
        .send()
        .await
        .expect("api");
    let allowed = client
        .get(format!("{base}/api/instruments"))
        .bearer_auth("container-token-0123456789abcdef0123")
        .send()
        .await
        .expect("api");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(allowed.status().as_u16(), 200);
    assert!(
        dir.path().join("data/barter.db").exists(),
        "the database is where the URL says"
    );
}
