//! The sign-in cache: one JSON file per server URL and issuer under the
//! user's config folder (`$CNPG_MCP_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/cnpg-mcp`, else `~/.config/cnpg-mcp`), in
//! `signins/`. Files are created 0600 in a 0700 folder and replaced
//! atomically (write beside, then rename), so a reader never sees half a
//! file and no other user can read a refresh token.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// One cached sign-in. Deliberately not `Debug`: it holds tokens.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignIn {
    /// The MCP endpoint signed in to, as given to `login --url`.
    pub url: String,
    pub issuer: String,
    /// The RFC 8707 resource the tokens are for.
    pub resource: String,
    pub client_id: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
    pub scope: Option<String>,
}

/// The folder holding the user's cnpg-mcp configuration.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("CNPG_MCP_CONFIG_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Ok(dir.join("cnpg-mcp"));
    }
    let home = var("HOME").context("no HOME: set CNPG_MCP_CONFIG_DIR to say where sign-ins are kept")?;
    Ok(home.join(".config").join("cnpg-mcp"))
}

fn signins_dir() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("signins"))
}

/// The file of the sign-in to `url` at `issuer`: named by a hash, so a URL
/// never has to be escaped into a file name.
pub fn path_for(url: &str, issuer: &str) -> anyhow::Result<PathBuf> {
    let digest = sha2::Sha256::digest(format!("{url}\n{issuer}").as_bytes());
    Ok(signins_dir()?.join(format!("{}.json", &hex::encode(digest)[..32])))
}

/// Writes `signin` to its file (0600), creating the folders (0700).
pub fn save(signin: &SignIn) -> anyhow::Result<PathBuf> {
    let dir = signins_dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = path_for(&signin.url, &signin.issuer)?;
    let temporary = path.with_extension(format!("json.{}", std::process::id()));
    let text = serde_json::to_vec_pretty(signin)?;
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        // A file left by an older version with wider permissions is narrowed.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    };
    if let Err(error) = write() {
        let _ = std::fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(path)
}

/// The sign-in to `url` (at `issuer`, when given), if there is one.
pub fn find(url: &str, issuer: Option<&str>) -> anyhow::Result<Option<(PathBuf, SignIn)>> {
    if let Some(issuer) = issuer {
        let path = path_for(url, issuer)?;
        return Ok(read(&path)?.map(|signin| (path, signin)));
    }
    let dir = signins_dir()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Some(signin) = read(&path)?
            && signin.url == url
        {
            found.push((path, signin));
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => anyhow::bail!("{url} has sign-ins at several issuers; pass --issuer to choose one"),
    }
}

fn read(path: &Path) -> anyhow::Result<Option<SignIn>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("{} is not a sign-in", path.display()))?,
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Holds the sign-in's lock file (`flock`) until dropped, so that two
/// processes never spend the same refresh token: with rotation, the second
/// use would be taken for a replay and could end the whole grant.
pub struct RefreshLock {
    _file: std::fs::File,
}

/// Waits (up to 30 s) for the lock of the sign-in to `url` at `issuer`.
pub async fn lock(url: &str, issuer: &str) -> anyhow::Result<RefreshLock> {
    let path = path_for(url, issuer)?.with_extension("lock");
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(RefreshLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!("{} stayed locked by another cnpg-mcp for 30 s", path.display())
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

/// Deletes a sign-in file and its lock file (gone already is fine).
pub fn remove(path: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path.with_extension("lock"));
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot delete {}", path.display()))
        }
        _ => Ok(()),
    }
}
