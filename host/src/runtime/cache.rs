//! Precompiled-artifact cache: compiling a component takes hundreds of
//! milliseconds, loading a cached artifact a few.
//!
//! Keyed by sha256 of the component bytes and the engine's compatibility
//! hash (wasmtime version, target, every setting that changes code), so a
//! changed component or a changed engine never picks up a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A folder of precompiled components owned by this process's user.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_hash: String,
}

/// Feeds `Hash` output into sha256, a hasher that is stable across builds
/// and processes (unlike the std default hasher's seed guarantees).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ArtifactCache {
    /// `dir = None` disables caching (every start compiles).
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);
        ArtifactCache { dir, engine_hash }
    }

    /// Returns the compiled component, from the cache when possible.
    /// A cache that cannot be read or written only costs time, never
    /// correctness: compilation then happens in memory.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, bool)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, wasm)?, false));
        };
        let digest = hex::encode(Sha256::digest(wasm));
        let path = dir.join(format!("{digest}-{}.cwasm", self.engine_hash));
        if path.is_file() {
            // SAFETY: the file was written by `store` below from
            // `Engine::precompile_component` output, in a folder created
            // with owner-only permissions, and is replaced only by atomic
            // rename (never modified in place while mapped). wasmtime
            // additionally checks the header and engine compatibility and
            // returns an error for a mismatch.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, true)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %format!("{error:#}"),
                        "ignoring unusable precompiled artifact");
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        if let Err(error) = store(dir, &path, &compiled) {
            tracing::warn!(dir = %dir.display(), %error, "cannot write the precompile cache");
        }
        // SAFETY: `compiled` is the unmodified output of
        // `Engine::precompile_component` on this very engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, false))
    }
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
