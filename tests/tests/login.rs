//! `cnpg-mcp login`, `logout` and `whoami`, and `token` / `connect` on a
//! person's cached sign-in, against the real OpenID provider of the suite
//! (npm `oidc-provider`) and against our own facade:
//!
//! - the browser sign-in (authorization code + PKCE, loopback redirect)
//!   driven by a headless stand-in for the browser (`BROWSER`), with the
//!   client registered on the spot (RFC 7591);
//! - the device sign-in (RFC 8628) approved through the IdP's own
//!   verification pages;
//! - the cache file's permissions, refresh with rotation, `connect` acting
//!   as the person, revocation on logout, and the advice to log in again
//!   when a refresh is refused;
//! - an authorization response with a tampered `state`, another `iss`, or
//!   no `iss` although the server promises one, refused; a Client ID
//!   Metadata Document refused where the server takes none (the facade,
//!   which takes them, is in `facade.rs`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cnpg_mcp_tests::idp::{INITIAL_ACCESS_TOKEN, Idp, IdpOptions, decode_jwt};
use cnpg_mcp_tests::tempdir::TempDir;
use cnpg_mcp_tests::{Server, Session, binary, free_port, request};
use serde_json::{Value, json};

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// `cnpg-mcp ARGS` with its sign-ins kept in `config`, no machine
/// credentials in the environment, and the headless browser as `BROWSER`.
fn cnpg_mcp(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env("CNPG_MCP_CONFIG_DIR", config)
        .env("BROWSER", clients_dir().join("headless_browser.py"))
        .env_remove("CNPG_MCP_CLIENT_ID")
        .env_remove("CNPG_MCP_CLIENT_SECRET")
        .env_remove("CNPG_MCP_LOGIN_CLIENT_ID")
        .stdin(Stdio::null());
    command
}

fn run(config: &Path, args: &[&str]) -> Output {
    cnpg_mcp(config, args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", stderr(output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The one sign-in file under `config` (beside it, its lock file once a
/// refresh happened).
fn signin_file(config: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(config.join("signins"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn signin(config: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(signin_file(config)).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if request(port, "GET", "/readyz", &[], Vec::new()).await.status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server whose tokens come straight from `idp`.
async fn server_of(idp: &Idp) -> (Server, String) {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let server = Server::start_on(
        port,
        &[
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oidc-scope",
            "mcp:read",
        ],
    );
    wait_ready(port).await;
    (server, resource)
}

/// The refresh token grant at `token_url` for a public client.
async fn refresh_status(token_url: &str, client_id: &str, refresh_token: &str) -> (u16, Value) {
    let (port, path) = split(token_url);
    let form = cnpg_mcp_tests::idp::form_encode(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ]);
    let reply = request(
        port,
        "POST",
        &path,
        &[("content-type", "application/x-www-form-urlencoded")],
        form.into_bytes(),
    )
    .await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

/// `http://127.0.0.1:PORT/path?q` -> (PORT, "/path?q").
fn split(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
    (port.parse().unwrap(), format!("/{path}"))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| cnpg_mcp::facade::form_decode(&format!("v={value}"))[0].1.clone())
    })
}

/// One MCP exchange through `connect` on stdio.
fn exchange(stdin: &mut impl Write, stdout: &mut impl BufRead, message: Value) -> Value {
    writeln!(stdin, "{message}").unwrap();
    stdin.flush().unwrap();
    if message.get("id").is_none() {
        return Value::Null;
    }
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_through_the_browser_and_token_connect_and_logout_use_the_sign_in() {
    let idp = Idp::start().unwrap();
    let (_server, resource) = server_of(&idp).await;
    let home = TempDir::new("login-config");
    let config = home.path();

    // Before any sign-in, `token` without a secret says what to do.
    let before = run(config, &["token", "--url", &resource]);
    assert!(!before.status.success());
    assert!(stderr(&before).contains("cnpg-mcp login --url"), "{}", stderr(&before));

    let login = run(config, &["login", "--url", &resource]);
    succeeded(&login);
    assert!(stderr(&login).contains("as alice"), "{}", stderr(&login));

    // The cache: 0600 in a 0700 folder, keyed by URL and issuer.
    let file = signin_file(config);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&config.join("signins")), 0o700);
    let first = signin(config);
    assert_eq!(first["issuer"], json!(idp.issuer));
    assert_eq!(first["url"], json!(resource));
    let first_refresh = first["refresh_token"].as_str().unwrap().to_string();
    let client_id = first["client_id"].as_str().unwrap().to_string();

    let whoami: Value = serde_json::from_str(&succeeded(&run(config, &["whoami", "--url", &resource]))).unwrap();
    assert_eq!(whoami["subject"], json!("alice"), "{whoami}");
    assert_eq!(whoami["issuer"], json!(idp.issuer), "{whoami}");
    assert!(whoami["groups"].as_array().unwrap().contains(&json!("dba")), "{whoami}");
    assert!(
        whoami["scopes"].as_array().unwrap().contains(&json!("mcp:read")),
        "{whoami}"
    );
    assert!(whoami["expires_in"].as_i64().unwrap() > 60, "{whoami}");

    // `token` always hands out a fresh token: the refresh token rotates,
    // and the old one is spent.
    let token = succeeded(&run(config, &["token", "--url", &resource]));
    let (_, claims) = decode_jwt(&token).unwrap();
    assert_eq!(claims["sub"], json!("alice"), "{claims}");
    assert_eq!(claims["aud"], json!(resource), "{claims}");
    let second = signin(config);
    let second_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh, "the refresh token was not rotated");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(mode(&file), 0o600, "a rewritten cache file keeps its permissions");

    // Several processes refreshing at once take turns (a lock beside the
    // cache file): none replays a spent refresh token, so the grant lives.
    let racers: Vec<Child> = (0..4)
        .map(|_| {
            cnpg_mcp(config, &["token", "--url", &resource])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for racer in racers {
        succeeded(&racer.wait_with_output().unwrap());
    }
    succeeded(&run(config, &["token", "--url", &resource]));
    assert_eq!(mode(&file.with_extension("lock")), 0o600);

    // `connect` on stdio acts as the person.
    let mut bridge = cnpg_mcp(config, &["connect", "--url", &resource])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let mut stdout = BufReader::new(bridge.stdout.take().unwrap());
    let init = exchange(
        &mut stdin,
        &mut stdout,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "login-test", "version": "1"}}}),
    );
    assert!(init["result"]["serverInfo"]["name"].is_string(), "{init}");
    exchange(
        &mut stdin,
        &mut stdout,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    let info = exchange(
        &mut stdin,
        &mut stdout,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "get_session_info", "arguments": {}}}),
    );
    let caller = &info["result"]["structuredContent"]["caller"];
    assert_eq!(caller["subject"], json!("alice"), "{info}");
    assert_eq!(caller["client_id"], json!(client_id), "{info}");
    drop(stdin);
    assert!(bridge.wait().unwrap().success());

    // `connect --listen` too.
    let local = free_port();
    let mut listener = cnpg_mcp(
        config,
        &["connect", "--url", &resource, "--listen", &format!("127.0.0.1:{local}")],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", local)).is_err() {
        assert!(Instant::now() < deadline, "connect --listen did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut through = Session::open(local).await;
    let info = through.call_tool("get_session_info", json!({})).await;
    assert_eq!(info["structuredContent"]["caller"]["subject"], json!("alice"), "{info}");
    let _ = listener.kill();
    let _ = listener.wait();

    // The documented Inspector script without --token uses the sign-in.
    let output = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-inspector.sh"))
        .args([
            "--transport",
            "http",
            "--url",
            &resource,
            "--binary",
            binary().to_str().unwrap(),
        ])
        .env("HOME", config)
        .env("CNPG_MCP_CONFIG_DIR", config)
        .env_remove("CNPG_MCP_CLIENT_SECRET")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("get_session_info") && text.contains("alice"), "{text}");

    // Logout revokes the refresh token at the IdP and forgets the sign-in.
    let current_refresh = signin(config)["refresh_token"].as_str().unwrap().to_string();
    succeeded(&run(config, &["logout", "--url", &resource]));
    assert!(!file.exists() && !file.with_extension("lock").exists());
    let (status, answer) = refresh_status(&idp.token_url(), &client_id, &current_refresh).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (400, json!("invalid_grant")),
        "{answer}"
    );
    let after = run(config, &["whoami", "--url", &resource]);
    assert!(!after.status.success());
    assert!(stderr(&after).contains("cnpg-mcp login --url"), "{}", stderr(&after));

    // The spent refresh token of a rotation is refused; the IdP takes its
    // reuse for a replay and ends the grant (RFC 9700 §4.14.2), so the
    // next refresh is refused too, which ends in the advice to sign in
    // again.
    succeeded(&run(config, &["login", "--url", &resource]));
    // Signing in again ends the grant of the sign-in it replaces.
    let replaced = signin(config);
    succeeded(&run(config, &["login", "--url", &resource]));
    let (status, answer) = refresh_status(
        &idp.token_url(),
        replaced["client_id"].as_str().unwrap(),
        replaced["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (400, json!("invalid_grant")),
        "{answer}"
    );
    let cached = signin(config);
    let spent = cached["refresh_token"].as_str().unwrap();
    succeeded(&run(config, &["token", "--url", &resource]));
    assert_ne!(signin(config)["refresh_token"], json!(spent));
    let (status, answer) = refresh_status(&idp.token_url(), cached["client_id"].as_str().unwrap(), spent).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (400, json!("invalid_grant")),
        "{answer}"
    );
    let refused = run(config, &["token", "--url", &resource]);
    assert!(!refused.status.success());
    let text = stderr(&refused);
    assert!(
        text.contains("could not be refreshed") && text.contains("cnpg-mcp login --url"),
        "{text}"
    );

    // A running `connect` whose token falls due and cannot be refreshed
    // answers the client's request with the same advice.
    let mut bridge = cnpg_mcp(config, &["connect", "--url", &resource])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let mut stdout = BufReader::new(bridge.stdout.take().unwrap());
    let init = exchange(
        &mut stdin,
        &mut stdout,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "login-test", "version": "1"}}}),
    );
    assert!(init["result"].is_object(), "{init}");
    let mut due = signin(config);
    due["expires_at"] = json!(0);
    std::fs::write(signin_file(config), due.to_string()).unwrap();
    let answer = exchange(
        &mut stdin,
        &mut stdout,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    assert_eq!(answer["id"], json!(2), "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cnpg-mcp login --url"), "{answer}");
    drop(stdin);
    let _ = bridge.wait();
}

/// Reads `child`'s stderr until a line starting with `prefix`; that line
/// and everything read.
fn read_until(reader: &mut impl BufRead, prefix: &str) -> (String, String) {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("no line starting with {prefix:?}:\n{seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return (rest.trim().to_string(), seen);
        }
    }
}

fn finish(mut child: Child, mut reader: impl BufRead) -> (bool, String) {
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    let status = child.wait().unwrap();
    (status.success(), rest)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_with_a_device_code_approved_on_the_idps_verification_page() {
    let idp = Idp::start().unwrap();
    assert!(idp.discovery().await.unwrap()["device_authorization_endpoint"].is_string());
    let (_server, resource) = server_of(&idp).await;
    let home = TempDir::new("login-device");
    let config = home.path();
    let mut child = cnpg_mcp(config, &["login", "--url", &resource, "--device", "--timeout", "60"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let (complete, _) = read_until(&mut reader, "or open");
    let approval = Command::new("python3")
        .arg(clients_dir().join("device_approve.py"))
        .arg(&complete)
        .output()
        .unwrap();
    assert!(
        approval.status.success(),
        "{}{}",
        String::from_utf8_lossy(&approval.stdout),
        String::from_utf8_lossy(&approval.stderr)
    );
    let (ok, log) = finish(child, reader);
    assert!(ok, "{log}");
    assert!(log.contains("as alice"), "{log}");
    assert_eq!(mode(&signin_file(config)), 0o600);
    let whoami: Value = serde_json::from_str(&succeeded(&run(config, &["whoami", "--url", &resource]))).unwrap();
    assert_eq!(whoami["subject"], json!("alice"), "{whoami}");
    assert_eq!(whoami["refreshable"], json!(true), "{whoami}");
    // The device grant's refresh token works (and rotates) like any other.
    let before = signin(config)["refresh_token"].clone();
    let token = succeeded(&run(config, &["token", "--url", &resource]));
    assert_eq!(decode_jwt(&token).unwrap().1["sub"], json!("alice"));
    assert_ne!(signin(config)["refresh_token"], before);
}

/// Starts `login --no-browser`, and answers its loopback redirect with the
/// query `tamper` makes of the genuine state; what login said and whether
/// it succeeded.
async fn answer_redirect(resource: &str, tamper: impl Fn(&str) -> String) -> (bool, String) {
    let home = TempDir::new("login-tamper");
    let mut child = cnpg_mcp(
        home.path(),
        &["login", "--url", resource, "--no-browser", "--timeout", "30"],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let (url, _) = read_until(&mut reader, "http");
    let url = format!("http{url}");
    let redirect = query_param(&url, "redirect_uri").unwrap();
    let state = query_param(&url, "state").unwrap();
    assert_eq!(query_param(&url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&url, "resource").as_deref(), Some(resource));
    let (port, path) = split(&redirect);
    let reply = request(port, "GET", &format!("{path}?{}", tamper(&state)), &[], Vec::new()).await;
    assert_eq!(reply.status, 200);
    let (ok, log) = finish(child, reader);
    assert!(
        !home.path().join("signins").exists() || std::fs::read_dir(home.path().join("signins")).unwrap().count() == 0
    );
    (ok, log)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorization_response_with_a_tampered_state_or_another_issuer_is_refused() {
    let idp = Idp::start().unwrap();
    let (_server, resource) = server_of(&idp).await;
    let issuer = cnpg_mcp_tests::idp::form_encode_component(&idp.issuer);
    let (ok, log) = answer_redirect(&resource, |_| format!("code=abc&state=forged&iss={issuer}")).await;
    assert!(!ok && log.contains("state does not match"), "{log}");
    let (ok, log) = answer_redirect(&resource, |state| {
        format!("code=abc&state={state}&iss=http%3A%2F%2F127.0.0.1%3A9")
    })
    .await;
    assert!(!ok && log.contains("from issuer http://127.0.0.1:9"), "{log}");
    // This IdP takes no Client ID Metadata Documents: a URL as client id
    // is refused before any browser is involved.
    let home = TempDir::new("login-cimd");
    let refused = run(
        home.path(),
        &[
            "login",
            "--url",
            &resource,
            "--no-browser",
            "--client-id",
            "https://client.example/cnpg-mcp.json",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not accept Client ID Metadata Documents"),
        "{}",
        stderr(&refused)
    );
    // oidc-provider promises `iss` (RFC 9207): an answer without it is refused.
    let (ok, log) = answer_redirect(&resource, |state| format!("code=abc&state={state}")).await;
    assert!(!ok && log.contains("has no iss"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_through_the_facade_and_logout_revokes_there() {
    let idp = Idp::start_with(IdpOptions {
        dcr_token: true,
        ..IdpOptions::default()
    })
    .unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let resource = format!("{issuer}/mcp");
    let store = TempDir::new("login-facade-store");
    let grant_dir = TempDir::new("login-facade-grant");
    let grant_file = grant_dir.path().join("translator.grant.toml");
    std::fs::write(
        &grant_file,
        "[limits]\nmemory_mib = 16\ntimeout_ms = 20000\n\n[http]\nprivate_addresses = true\n",
    )
    .unwrap();
    let store_arg = format!("file:{}", store.path().display());
    let registration = idp.registration_url();
    let _server = Server::start_on(
        port,
        &[
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oauth-facade",
            "--facade-store",
            &store_arg,
            "--facade-translator-grant",
            grant_file.to_str().unwrap(),
            "--dcr-proxy-url",
            &registration,
            "--dcr-initial-access-token",
            INITIAL_ACCESS_TOKEN,
        ],
    );
    wait_ready(port).await;
    let home = TempDir::new("login-facade");
    let config = home.path();
    let login = run(config, &["login", "--url", &resource]);
    succeeded(&login);
    let cached = signin(config);
    assert_eq!(
        cached["issuer"],
        json!(issuer),
        "the facade is the authorization server"
    );
    let whoami: Value = serde_json::from_str(&succeeded(&run(config, &["whoami", "--url", &resource]))).unwrap();
    assert_eq!(whoami["issuer"], json!(issuer), "{whoami}");
    let token = succeeded(&run(config, &["token", "--url", &resource]));
    let mut session = Session::open_with_token(port, &token).await;
    let info = session.call_tool("get_session_info", json!({})).await;
    assert_eq!(info["structuredContent"]["caller"]["issuer"], json!(issuer), "{info}");
    assert_eq!(
        info["structuredContent"]["caller"]["username"],
        json!("alice"),
        "{info}"
    );
    let rotated = signin(config);
    assert_ne!(
        rotated["refresh_token"], cached["refresh_token"],
        "the facade rotates refresh tokens"
    );

    succeeded(&run(config, &["logout", "--url", &resource]));
    let (status, answer) = refresh_status(
        &format!("{issuer}/token"),
        rotated["client_id"].as_str().unwrap(),
        rotated["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (400, json!("invalid_grant")),
        "{answer}"
    );
}
