//! A real S3-compatible server for the tests: moto's (`pip install "moto[server]"`; `.ci/run`
//! installs it into `target/s3-venv`). One server per test process, a fresh bucket per test;
//! a test that stops its server starts one of its own.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use masthead::config::{MediaLocation, S3Location, S3Settings, Secret};

pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing-secret";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    pub port: u16,
    child: Child,
}

/// Where moto's server is: `MASTHEAD_TEST_MOTO`, `target/s3-venv`, or on PATH.
fn moto_server() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("MASTHEAD_TEST_MOTO") {
        return Ok(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/s3-venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    super::on_path("moto_server").ok_or_else(|| "moto_server not found (pip install \"moto[server]\")".to_string())
}

impl S3Server {
    /// A new server on a free port; `None` (or a panic with CI=true) when moto is not installed.
    pub fn start() -> Option<S3Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
        S3Server::start_on(port)
    }

    /// A server on this port (a restart after `stop`: empty, as moto keeps nothing).
    pub fn start_on(port: u16) -> Option<S3Server> {
        let program = match moto_server() {
            Ok(program) => program,
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("the S3 test server is required when CI=true, but: {why}")
            }
            Err(why) => {
                eprintln!("S3 variant skipped: {why}");
                return None;
            }
        };
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        super::postgres::after_exit(&format!("kill {} 2>/dev/null", child.id()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(S3Server { port, child })
    }

    /// The process' shared server.
    pub fn shared() -> Option<&'static S3Server> {
        static SERVER: OnceLock<Option<S3Server>> = OnceLock::new();
        SERVER.get_or_init(S3Server::start).as_ref()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server at once, as a storage outage would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Creates a bucket (a plain PUT; moto takes unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(response.status().is_success(), "creating bucket {bucket}: {}", response.status());
    }

    /// A new bucket, as the shop's media location (under a prefix, as a deployment might).
    pub async fn new_location(&self) -> MediaLocation {
        let bucket = format!("media-{}", uuid::Uuid::new_v4().simple());
        self.create_bucket(&bucket).await;
        self.location(&bucket)
    }

    pub fn location(&self, bucket: &str) -> MediaLocation {
        MediaLocation::S3(S3Location {
            bucket: bucket.to_string(),
            prefix: "shop/media".into(),
            settings: S3Settings {
                endpoint: Some(self.endpoint()),
                region: Some(REGION.into()),
                access_key_id: Some(ACCESS_KEY.into()),
                secret_access_key: Some(Secret(SECRET_KEY.into())),
            },
        })
    }

    /// The variables a deployment would set for the command line to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
