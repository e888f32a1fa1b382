//! The container image. The static binary (built by
//! `scripts/build-static.sh`, musl, built-in components embedded) serves
//! from an empty root: no shell, no libc, nothing but itself and a writable
//! cache folder. And the image built from `deploy/Dockerfile` — buildah,
//! with the binary handed in as the `build` stage so no base image is
//! pulled — runs under podman as a non-root user on a read-only root with
//! every capability dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cnpg_mcp_tests::deploy::repo_root;
use cnpg_mcp_tests::{Session, free_port, request};
use serde_json::json;

/// The image build context (`out/cnpg-mcp`, CA bundle), built once.
fn static_context() -> PathBuf {
    static CONTEXT: OnceLock<PathBuf> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            let output = Command::new("bash")
                .arg(repo_root().join("scripts/build-static.sh"))
                .env("PROFILE", "debug")
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/build-static.sh");
            assert!(output.status.success(), "static build failed");
            PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
        })
        .clone()
}

/// Whether the ELF file asks for a program interpreter (a dynamic loader).
fn has_interpreter(binary: &Path) -> bool {
    let bytes = std::fs::read(binary).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listening = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        let ok = listening
            && tokio::time::timeout(
                Duration::from_secs(2),
                request(port, "GET", "/healthz", &[], Vec::new()),
            )
            .await
            .is_ok_and(|reply| reply.status == 200);
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never became healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn assert_serves_the_builtin_tools(port: u16) {
    let mut session = Session::open(port).await;
    let listed = session.call("tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in ["get_session_info", "create_postgres_cluster", "create_postgres_role"] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    let result = session.call_tool("get_session_info", json!({})).await;
    assert_eq!(
        result["structuredContent"]["caller"]["subject"],
        json!("local"),
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_static_binary_serves_from_an_empty_root() {
    let context = static_context();
    let binary = context.join("out/cnpg-mcp");
    assert!(!has_interpreter(&binary), "the binary needs a dynamic loader");
    // A root with nothing but the binary and a cache folder owned by the
    // unprivileged user the image runs as.
    let root = cnpg_mcp_tests::tempdir::TempDir::new("empty-root");
    std::fs::copy(&binary, root.path().join("cnpg-mcp")).unwrap();
    std::fs::create_dir(root.path().join("cache")).unwrap();
    std::os::unix::fs::chown(root.path().join("cache"), Some(65532), Some(65532)).unwrap();
    let entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    let version = Command::new("chroot")
        .args(["--userspec=65532:65532"])
        .arg(root.path())
        .args(["/cnpg-mcp", "--version"])
        .output()
        .expect("chroot (the test runs as root)");
    assert!(version.status.success(), "{}", String::from_utf8_lossy(&version.stderr));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("cnpg-mcp "));

    let port = free_port();
    let chroot = run(Command::new("sh").args(["-c", "command -v chroot"]));
    let _server = Process(
        Command::new(chroot)
            .args(["--userspec=65532:65532"])
            .arg(root.path())
            .args([
                "/cnpg-mcp",
                "serve",
                "--port",
                &port.to_string(),
                "--cache-dir",
                "/cache",
            ])
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(port, "the chrooted server").await;
    assert_serves_the_builtin_tools(port).await;
    // Precompiled components went to the writable cache.
    let cached = walk(&root.path().join("cache"));
    assert!(!cached.is_empty(), "nothing cached under /cache");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rmi", "-f", &self.0]).output();
    }
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", &self.0]).output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_builds_from_scratch_and_runs_read_only_as_non_root() {
    let context = static_context();
    let tag = format!("localhost/cnpg-mcp:test-{}", std::process::id());
    // Removed however the test ends (254 MB per debug image).
    let _image = Image(tag.clone());
    run(Command::new("buildah")
        .args(["bud", "--quiet", "-f"])
        .arg(repo_root().join("deploy/Dockerfile"))
        .arg("--build-context")
        .arg(format!("build={}", context.display()))
        .args(["-t", &tag])
        .arg(repo_root()));
    let config = run(Command::new("podman").args(["image", "inspect", "--format", "{{json .Config}}", &tag]));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["User"], json!("65532:65532"));
    assert_eq!(config["Entrypoint"], json!(["/cnpg-mcp"]));
    assert!(config["ExposedPorts"].get("3000/tcp").is_some(), "{config}");
    // Only the binary and the CA bundle: no shell, no libraries.
    let created = run(Command::new("podman").args(["create", &tag]));
    let listing = Command::new("sh")
        .args(["-c", &format!("podman export {created} | tar -t")])
        .output()
        .unwrap();
    let _ = Command::new("podman").args(["rm", "-f", &created]).output();
    let files: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_string)
        .collect();
    let mut files = files;
    files.sort();
    assert_eq!(files, ["cnpg-mcp", "etc/ssl/certs/ca-certificates.crt"], "{files:?}");

    let port = free_port();
    // runc: crun refuses this machine's hybrid cgroup setup. Lowered
    // ulimits: raising them is not permitted here.
    let id = run(Command::new("podman").args([
        "--runtime",
        "runc",
        "run",
        "-d",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/cache:rw,size=64m,mode=1777",
        "--ulimit",
        "nofile=4096:4096",
        "--ulimit",
        "nproc=4096:4096",
        "-e",
        &format!("PORT={port}"),
        "-e",
        "BIND_ADDRESS=127.0.0.1",
        &tag,
    ]));
    let _container = Container(id.clone());
    wait_healthy(port, "the container").await;
    assert_serves_the_builtin_tools(port).await;
    let user = run(Command::new("podman").args([
        "inspect",
        "--format",
        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
        &id,
    ]));
    assert_eq!(user, "65532:65532 true");
}
