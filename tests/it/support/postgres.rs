//! A PostgreSQL server for the tests: `TEST_DATABASE_URL` when set, otherwise a
//! throwaway cluster started once per test binary (when `initdb` and `pg_ctl`
//! can be found) and removed by a watchdog when the test process exits.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

/// The admin URL of the server (a database the tests may connect to to create others), or why there is none.
pub fn server_url() -> Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(url),
            _ => start_throwaway_cluster(),
        })
        .clone()
}

pub fn find_tool(name: &str) -> Option<PathBuf> {
    // Debian installs the server binaries outside PATH.
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| versions.flatten().map(|v| v.path().join("bin").join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    super::on_path(name).or_else(|| debian.into_iter().find(|p| p.is_file()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn pg_command(tool: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(tool);
        command
    } else {
        Command::new(tool)
    }
}

fn start_throwaway_cluster() -> Result<String, String> {
    Cluster::start_new().map(|cluster| cluster.url)
}

/// A PostgreSQL cluster of the tests' own, which a test may stop and start again (an outage).
pub struct Cluster {
    pub url: String,
    pg_ctl: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    options: String,
    root: bool,
}

impl Cluster {
    /// Creates and starts a cluster in a fresh folder; it is stopped and removed when the test
    /// process exits.
    pub fn start_new() -> Result<Cluster, String> {
        let (Some(initdb), Some(pg_ctl)) = (find_tool("initdb"), find_tool("pg_ctl")) else {
            return Err("no TEST_DATABASE_URL and no initdb/pg_ctl found".into());
        };
        let root = is_root();
        let dir =
            std::env::temp_dir().join(format!("masthead-pg-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if root {
            let status = Command::new("chown").arg("postgres").arg(&dir).status();
            if !matches!(status, Ok(s) if s.success()) {
                return Err("cannot hand the cluster folder to the postgres user".into());
            }
        }
        let data = dir.join("data");
        let output = pg_command(&initdb, root)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "masthead", "-E", "UTF8", "--no-sync"])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !output.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("finding a free port: {e}"))?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            dir.display()
        );
        let cluster =
            Cluster { url: format!("postgres://masthead@127.0.0.1:{port}/postgres"), pg_ctl, data, dir, options, root };
        cluster.start()?;
        spawn_watchdog(&cluster.pg_ctl, &cluster.data, &cluster.dir, root);
        Ok(cluster)
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let output = pg_command(&self.pg_ctl, self.root)
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &self.options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if !output.status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&output.stderr)));
        }
        Ok(())
    }

    /// Freezes the server and its connections' processes (`SIGSTOP`): connections stay open and
    /// nothing answers, as with a server that hangs or a network that drops everything.
    pub fn pause(&self) -> Result<(), String> {
        self.signal_all("STOP")
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&self) -> Result<(), String> {
        self.signal_all("CONT")
    }

    fn signal_all(&self, signal: &str) -> Result<(), String> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).map_err(|e| e.to_string())?;
        let postmaster = pid_file.lines().next().unwrap_or_default().trim().to_string();
        // The postmaster's children, from /proc (no process tools needed).
        let mut pids = vec![postmaster.clone()];
        for entry in std::fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'.
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
            if after.split_whitespace().nth(1) == Some(postmaster.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let status = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {}", pids.join(" "))])
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{signal} failed"))
        }
    }

    /// Stops the server at once (connections are cut), as an outage would.
    pub fn stop(&self) -> Result<(), String> {
        let output = pg_command(&self.pg_ctl, self.root)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if !output.status.success() {
            return Err(format!("pg_ctl stop failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        Ok(())
    }
}

/// Stops the cluster and removes its folder once this test process has exited, however it exits.
fn spawn_watchdog(pg_ctl: &Path, data: &Path, dir: &Path, root: bool) {
    let runner = if root { "runuser -u postgres -- " } else { "" };
    after_exit(&format!(
        "{runner}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    ));
}

/// Runs a shell command in a detached process once this test process has exited.
pub fn after_exit(command: &str) {
    let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; {command}", pid = std::process::id());
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
