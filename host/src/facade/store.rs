//! Where the facade keeps its state (clients, pending authorizations,
//! codes, sessions, refresh tokens): a key-value store with expiry and an
//! atomic `take`, so a one-time value is redeemed by exactly one request
//! even across replicas.
//!
//! - [`FileStore`]: one file per record in a folder (local use, one
//!   process or several on one machine). `take` is a rename.
//! - [`KubeStore`]: one Secret per record in the server's namespace,
//!   through the server's own service account (shared by every replica,
//!   survives restarts). `take` is a delete with a resourceVersion
//!   precondition.
//!
//! Keys are hashed before they become file or object names.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::seal::digest;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn envelope(key: &str, value: &Value, ttl: Duration) -> Value {
    json!({"key": key, "expires_at": now().saturating_add(ttl.as_secs()), "value": value})
}

/// The value of a stored envelope, if it is the record for `key` and alive.
fn unwrap(key: &str, envelope: Value) -> Option<Value> {
    let alive = envelope
        .get("expires_at")
        .and_then(Value::as_u64)
        .is_some_and(|t| t > now());
    let same = envelope.get("key").and_then(Value::as_str) == Some(key);
    (alive && same).then(|| envelope.get("value").cloned()).flatten()
}

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Stores `value` unless `key` exists (alive); returns whether it did.
    async fn create(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<bool>;
    /// Stores `value`, replacing what was there.
    async fn put(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<()>;
    async fn get(&self, key: &str) -> anyhow::Result<Option<Value>>;
    /// Removes and returns the record; of concurrent takers exactly one
    /// gets it.
    async fn take(&self, key: &str) -> anyhow::Result<Option<Value>>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Removes expired records; returns how many.
    async fn sweep(&self) -> anyhow::Result<usize>;
    /// For logs: `file:<dir>` or `kubernetes:<namespace>`.
    fn describe(&self) -> String;
}

// ------------------------------------------------------------------ file

pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn open(dir: PathBuf) -> anyhow::Result<FileStore> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create the facade store folder {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| anyhow::anyhow!("cannot restrict {}: {e}", dir.display()))?;
        }
        Ok(FileStore { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", digest(key)))
    }

    fn temp(&self) -> PathBuf {
        self.dir.join(format!(".tmp-{}", super::seal::random_token(12)))
    }

    fn write_temp(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<PathBuf> {
        use std::io::Write as _;
        let temp = self.temp();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(envelope(key, value, ttl).to_string().as_bytes())?;
        file.sync_all()?;
        Ok(temp)
    }

    fn read(path: &std::path::Path) -> anyhow::Result<Option<Value>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }
}

#[async_trait::async_trait]
impl Store for FileStore {
    async fn create(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<bool> {
        let path = self.path(key);
        if let Some(existing) = Self::read(&path)? {
            if unwrap(key, existing).is_some() {
                return Ok(false);
            }
            // Expired: only the taker that wins the rename may remove it.
            let _ = self.take(key).await;
        }
        let temp = self.write_temp(key, value, ttl)?;
        // A hard link fails when the name exists: create-if-absent.
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(anyhow::anyhow!("cannot store {}: {e}", path.display())),
        }
    }

    async fn put(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<()> {
        let temp = self.write_temp(key, value, ttl)?;
        std::fs::rename(&temp, self.path(key)).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            anyhow::anyhow!("cannot store a facade record: {e}")
        })
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Value>> {
        Ok(Self::read(&self.path(key))?.and_then(|e| unwrap(key, e)))
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Value>> {
        let claimed = self.temp();
        match std::fs::rename(self.path(key), &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("cannot take a facade record: {e}")),
        }
        let record = Self::read(&claimed)?;
        let _ = std::fs::remove_file(&claimed);
        Ok(record.and_then(|e| unwrap(key, e)))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow::anyhow!("cannot delete a facade record: {e}")),
        }
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale_temp = name.starts_with(".tmp-")
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(600));
            let expired = name.ends_with(".json")
                && Self::read(&path)?
                    .and_then(|e| e.get("expires_at").and_then(Value::as_u64))
                    .is_none_or(|t| t <= now());
            if (stale_temp || expired) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("file:{}", self.dir.display())
    }
}

// ------------------------------------------------------------ kubernetes

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};

/// Label on every record Secret.
pub const RECORD_LABEL: &str = "cnpg-mcp.io/facade-record";

pub struct KubeStore {
    api: Api<Secret>,
    namespace: String,
    prefix: String,
}

impl KubeStore {
    /// Records become Secrets `<prefix>-<hash>` in `namespace`.
    pub fn new(client: kube::Client, namespace: &str, prefix: &str) -> KubeStore {
        KubeStore {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            prefix: prefix.to_string(),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}-{}", self.prefix, &digest(key)[..40])
    }

    fn secret(&self, key: &str, value: &Value, ttl: Duration) -> Secret {
        let record = envelope(key, value, ttl);
        let mut secret = Secret::default();
        secret.metadata.name = Some(self.name(key));
        secret.metadata.labels = Some(
            [
                (RECORD_LABEL.to_string(), "true".to_string()),
                ("app.kubernetes.io/managed-by".to_string(), "cnpg-mcp".to_string()),
            ]
            .into(),
        );
        secret.metadata.annotations =
            Some([("cnpg-mcp.io/expires-at".to_string(), record["expires_at"].to_string())].into());
        secret.type_ = Some("Opaque".into());
        secret.data = Some([("record".to_string(), ByteString(record.to_string().into_bytes()))].into());
        secret
    }

    fn decode(secret: &Secret) -> Option<Value> {
        let bytes = secret.data.as_ref()?.get("record")?;
        serde_json::from_slice(&bytes.0).ok()
    }

    async fn fetch(&self, key: &str) -> anyhow::Result<Option<Secret>> {
        match self.api.get(&self.name(key)).await {
            Ok(secret) => Ok(Some(secret)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace)),
        }
    }

    /// Deletes the object at exactly `resource_version`; false when another
    /// request changed or removed it first.
    async fn delete_exact(&self, name: &str, resource_version: Option<String>) -> anyhow::Result<bool> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version,
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
            Err(e) => Err(anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace)),
        }
    }
}

#[async_trait::async_trait]
impl Store for KubeStore {
    async fn create(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<bool> {
        for _ in 0..2 {
            match self
                .api
                .create(&PostParams::default(), &self.secret(key, value, ttl))
                .await
            {
                Ok(_) => return Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    // Taken, unless what is there has expired.
                    match self.fetch(key).await? {
                        Some(existing) if Self::decode(&existing).and_then(|e| unwrap(key, e)).is_some() => {
                            return Ok(false);
                        }
                        Some(existing) => {
                            self.delete_exact(&self.name(key), existing.metadata.resource_version)
                                .await?;
                        }
                        None => {}
                    }
                }
                Err(e) => return Err(anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace)),
            }
        }
        Ok(false)
    }

    async fn put(&self, key: &str, value: &Value, ttl: Duration) -> anyhow::Result<()> {
        let mut secret = self.secret(key, value, ttl);
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let current = self.fetch(key).await?;
                secret.metadata.resource_version = current.and_then(|s| s.metadata.resource_version);
                self.api
                    .replace(&self.name(key), &PostParams::default(), &secret)
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace))
            }
            Err(e) => Err(anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace)),
        }
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Value>> {
        Ok(self
            .fetch(key)
            .await?
            .and_then(|s| Self::decode(&s))
            .and_then(|e| unwrap(key, e)))
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Value>> {
        let Some(secret) = self.fetch(key).await? else {
            return Ok(None);
        };
        if !self
            .delete_exact(&self.name(key), secret.metadata.resource_version.clone())
            .await?
        {
            return Ok(None);
        }
        Ok(Self::decode(&secret).and_then(|e| unwrap(key, e)))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.api.delete(&self.name(key), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace)),
        }
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        let list = self
            .api
            .list_metadata(&ListParams::default().labels(&format!("{RECORD_LABEL}=true")))
            .await
            .map_err(|e| anyhow::anyhow!("facade store (Secrets in {}): {e}", self.namespace))?;
        let mut removed = 0;
        for item in list.items {
            let expired = item
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("cnpg-mcp.io/expires-at"))
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t <= now());
            if let (true, Some(name)) = (expired, item.metadata.name.clone())
                && self.delete_exact(&name, item.metadata.resource_version.clone()).await?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("kubernetes:{} (Secrets {}-*)", self.namespace, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_store_hands_a_record_to_one_taker_only() {
        let dir = std::env::temp_dir().join(format!("facade-store-{}", super::super::seal::random_token(6)));
        let store = FileStore::open(dir.clone()).unwrap();
        let ttl = Duration::from_secs(60);
        assert!(store.create("code:a", &json!({"n": 1}), ttl).await.unwrap());
        assert!(!store.create("code:a", &json!({"n": 2}), ttl).await.unwrap());
        assert_eq!(store.get("code:a").await.unwrap(), Some(json!({"n": 1})));
        assert_eq!(store.take("code:a").await.unwrap(), Some(json!({"n": 1})));
        assert_eq!(store.take("code:a").await.unwrap(), None);
        store.put("client:x", &json!(1), Duration::from_secs(0)).await.unwrap();
        assert_eq!(store.get("client:x").await.unwrap(), None, "expired records are absent");
        assert_eq!(store.sweep().await.unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
