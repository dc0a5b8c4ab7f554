//! The README's deployment chapter, exercised: the systemd units pass systemd's own checks, the
//! example settings file starts the real binary and runs the documented commands (backup,
//! migrate on upgrade, a clean stop), and the nginx site in front of the shop serves it over TLS
//! and hides an address a client forged.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::{on_path, Backend, TestApp};

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(name)).expect("a deploy file")
}

/// A tool the chapter needs: on PATH (or in /usr/sbin); with CI=true its absence fails the test.
fn tool(name: &str) -> Option<PathBuf> {
    let found = on_path(name).or_else(|| Some(PathBuf::from(format!("/usr/sbin/{name}"))).filter(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required when CI=true");
        eprintln!("deployment check skipped: {name} not found");
    }
    found
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("masthead-deploy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port()
}

#[test]
fn the_systemd_units_pass_systemd_analyze() {
    let Some(analyze) = tool("systemd-analyze") else { return };
    let dir = scratch();
    let binary = env!("CARGO_BIN_EXE_masthead");
    let units = ["masthead.service", "masthead-backup.service", "masthead-backup.timer"];
    for unit in units {
        std::fs::write(dir.join(unit), deploy_file(unit).replace("/usr/local/bin/masthead", binary)).expect("copied");
    }
    let output = Command::new(&analyze)
        .arg("verify")
        .args(units.iter().map(|u| dir.join(u)))
        .output()
        .expect("systemd-analyze runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !said.contains("masthead"), "systemd-analyze verify: {said}");
    // systemd's own score of what the service could reach if compromised: "OK" is below 2.0 here.
    let output = Command::new(&analyze)
        .args(["security", "--offline=true", "--threshold=20"])
        .arg(dir.join("masthead.service"))
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    let level: f64 = report
        .lines()
        .find_map(|l| l.split("masthead.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in {report}"));
    assert!(level < 2.0, "exposure {level}: {report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The example settings file with this machine's folders and a free port in place of the
/// deployment's own.
fn settings_file(dir: &Path, port: u16) -> PathBuf {
    let text = deploy_file("masthead.env")
        .replace("/var/lib/masthead", &dir.join("data").to_string_lossy())
        .replace("/usr/local/share/masthead", &dir.join("site").to_string_lossy())
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{port}"));
    let path = dir.join("masthead.env");
    std::fs::write(&path, text).expect("written");
    path
}

/// A command as the README writes it: the settings file read by the shell, then masthead.
fn with_settings(settings: &Path, args: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", &format!("set -a; . '{}'; exec \"$MASTHEAD\" {args}", settings.display())]);
    command.env("MASTHEAD", env!("CARGO_BIN_EXE_masthead"));
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_file_serves_the_shop_and_the_documented_commands_work() {
    let dir = scratch();
    // The README's installation of the site files: the templates and static folders, copied.
    let site = dir.join("site");
    std::fs::create_dir_all(&site).expect("a folder");
    let copied = Command::new("cp")
        .args(["-r", "templates", "static"])
        .arg(&site)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cp");
    assert!(copied.success());
    let port = free_port();
    let settings = settings_file(&dir, port);

    let mut shop =
        with_settings(&settings, "serve").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starts");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the shop did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let home = client.get(format!("http://127.0.0.1:{port}/")).send().await.expect("the home page");
    assert_eq!(home.status(), 200);
    assert!(home.text().await.expect("HTML").contains("Socialist Worker Subscriptions"), "the file's shop name");

    // The nightly backup's command, while the shop runs.
    let archive = dir.join("backups").join("shop.tar.gz");
    std::fs::create_dir_all(archive.parent().expect("a folder")).expect("a folder");
    let output = with_settings(&settings, &format!("backup '{}'", archive.display())).output().expect("runs");
    assert!(output.status.success() && archive.is_file(), "{}", String::from_utf8_lossy(&output.stderr));

    // systemctl stop sends SIGTERM: the shop finishes and exits cleanly.
    let stopped = Command::new("kill").args(["-TERM", &shop.id().to_string()]).status().expect("kill");
    assert!(stopped.success());
    let status = shop.wait().expect("it exits");
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");

    // An upgrade: migrations (run again here, with nothing new) before the new binary serves.
    let output = with_settings(&settings, "migrate").output().expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_the_shop_over_tls_and_hides_forged_addresses() {
    let (Some(nginx), Some(openssl), Some(curl)) = (tool("nginx"), tool("openssl"), tool("curl")) else { return };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.trusted_proxies = masthead::client_address::TrustedProxies::parse("127.0.0.1").expect("a network");
    })
    .await
    .expect("SQLite");
    let dir = scratch();
    let made = Command::new(&openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=shop.example.org"])
        .arg("-keyout")
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(dir.join("fullchain.pem"))
        .output()
        .expect("openssl");
    assert!(made.status.success());
    let (http, https) = (free_port(), free_port());
    let shop_address = app.address.trim_start_matches("http://");
    let site = deploy_file("nginx.conf")
        .replace("127.0.0.1:3000", shop_address)
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen 443 ssl http2;", &format!("listen 127.0.0.1:{https} ssl http2;"))
        .replace("/etc/letsencrypt/live/shop.example.org", &dir.to_string_lossy())
        .lines()
        .filter(|l| !l.contains("[::]"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("site.conf"), site).expect("written");
    let main = format!(
        "pid {d}/nginx.pid; error_log {d}/error.log; user root;\nevents {{}}\nhttp {{ access_log off; \
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; include {d}/site.conf; }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("written");
    let checked = Command::new(&nginx).arg("-t").arg("-c").arg(dir.join("nginx.conf")).output().expect("nginx -t");
    assert!(checked.status.success(), "nginx -t: {}", String::from_utf8_lossy(&checked.stderr));
    let server = Command::new(&nginx)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let _stop = StopOnDrop(server);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let curl = |args: &[&str]| {
        let output = Command::new(&curl)
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
            .args(["--resolve", &format!("shop.example.org:{https}:127.0.0.1")])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let base = format!("https://shop.example.org:{https}");
    assert!(curl(&[&format!("{base}/")]).starts_with("200"), "the shop over TLS");
    let plain = curl(&[
        "--resolve",
        &format!("shop.example.org:{http}:127.0.0.1"),
        &format!("http://shop.example.org:{http}/cart"),
    ]);
    assert!(plain.starts_with("301 https://shop.example.org/cart"), "plain HTTP goes to HTTPS: {plain}");

    // A client forging X-Forwarded-For through nginx is seen by its real address.
    let forged = ["-H", "X-Forwarded-For: 6.6.6.6", "-d", "email=someone@example.org"];
    let answer = curl(&[&forged[..], &[&format!("{base}/account/login")]].concat());
    assert!(answer.starts_with("303"), "{answer}");
    let keys: Vec<(String,)> = sqlx::query_as("SELECT limiter_key FROM attempt_counts WHERE kind = 'sign_in_link'")
        .fetch_all(&app.db.pool)
        .await
        .expect("counted");
    assert!(keys.iter().any(|(k,)| k == "ip:127.0.0.1") && !keys.iter().any(|(k,)| k.contains("6.6.6.6")), "{keys:?}");
    // A large upload is passed to the shop (which judges it), not refused by nginx.
    let big = dir.join("big.pdf");
    std::fs::write(&big, vec![b'x'; 12 * 1024 * 1024]).expect("written");
    let answer =
        curl(&["--data-binary", &format!("@{}", big.display()), &format!("{base}/admin/issues/sw-2017-01/pdf")]);
    assert!(!answer.starts_with("413") && !answer.starts_with("000"), "{answer}");

    let _ = std::fs::remove_dir_all(&dir);
}

/// Stops nginx however the test ends: SIGTERM, so the master stops its workers too (a SIGKILL
/// would leave them running).
struct StopOnDrop(std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The deployment chapter of the README: what it names exists, and its files agree with each other.
fn deployment_chapter() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let start = readme.find("## Deploying on your own server").expect("the chapter");
    let end = start + readme[start..].find("\n## Running on PostgreSQL").expect("the next chapter");
    readme[start..end].to_string()
}

#[test]
fn the_deployment_chapter_names_only_what_exists() {
    let chapter = deployment_chapter();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Every file of deploy/ it names is there.
    let named: Vec<&str> = chapter
        .match_indices("deploy/")
        .map(|(at, _)| {
            let rest = &chapter[at..];
            &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c))).unwrap_or(rest.len())]
        })
        .collect();
    assert!(named.len() >= 5, "{named:?}");
    for file in &named {
        let path = root.join(file.trim_end_matches('.'));
        assert!(
            path.is_file() || (file.ends_with('/') && path.is_dir()),
            "the README names {file}, which is not there"
        );
    }
    // Every masthead command it gives is one the binary has.
    let mut commands = Vec::new();
    let mut in_code = false;
    for line in chapter.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        for (at, _) in line.match_indices("masthead ") {
            let before = &line[..at];
            if before.ends_with("exec ") || before.trim().is_empty() || before.ends_with("&& ") {
                let words: Vec<&str> = line[at + 9..].split_whitespace().take(2).collect();
                commands.push(words);
            }
        }
    }
    assert!(commands.len() >= 6, "{commands:?}");
    for words in commands {
        let mut args: Vec<&str> =
            words.into_iter().filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-')).collect();
        let help = Command::new(env!("CARGO_BIN_EXE_masthead")).args(&args).arg("--help").output().expect("runs");
        if !help.status.success() && args.len() == 2 {
            args.pop();
        }
        let help = Command::new(env!("CARGO_BIN_EXE_masthead")).args(&args).arg("--help").output().expect("runs");
        assert!(help.status.success(), "masthead {args:?} is not a command");
    }
    // The files agree: the unit reads the settings file the chapter installs, runs the binary it
    // installs, nginx passes to the address the settings listen on, which is the one proxy trusted.
    let unit = deploy_file("masthead.service");
    let settings = deploy_file("masthead.env");
    let nginx = deploy_file("nginx.conf");
    assert!(
        unit.contains("EnvironmentFile=/etc/masthead/masthead.env") && chapter.contains("/etc/masthead/masthead.env")
    );
    assert!(unit.contains("ExecStart=/usr/local/bin/masthead serve") && chapter.contains("/usr/local/bin/masthead"));
    assert!(unit.contains("StateDirectory=masthead") && settings.contains("MASTHEAD_DATA_DIR=/var/lib/masthead"));
    assert!(
        deploy_file("masthead-backup.service").contains("/var/backups/masthead")
            && chapter.contains("/var/backups/masthead")
    );
    let listen = settings.lines().find_map(|l| l.strip_prefix("MASTHEAD_ADDR=")).expect("an address");
    assert!(nginx.contains(&format!("server {listen};")), "nginx passes to {listen}");
    let proxy = listen.split(':').next().expect("a host");
    assert!(settings.contains(&format!("MASTHEAD_TRUSTED_PROXIES={proxy}")));
    assert!(
        settings.contains("MASTHEAD_SITE_DIR=/usr/local/share/masthead")
            && chapter.contains("/usr/local/share/masthead")
    );
    // Every variable the settings file sets (or shows) is one the configuration table explains.
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    for line in settings.lines() {
        let line = line.trim_start_matches("# ");
        if let Some((name, _)) = line.split_once('=') {
            if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                assert!(
                    readme.contains(&format!("| `{name}` |")) || name.starts_with("AWS_"),
                    "{name} is not in the README's table"
                );
            }
        }
    }
}
