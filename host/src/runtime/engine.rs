//! The one wasmtime `Engine` of the process and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. CPU budgets are counted in these ticks, and
/// a runaway guest yields to the async executor once per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances a Rust component uses per instantiation (its main module,
/// the WASI adapter and a shim), used to size the pool.
const CORE_INSTANCES_PER_CALL: u32 = 4;

/// Engine-wide sizing, fixed at start-up.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Calls that may run at once (the admission semaphore's size).
    pub max_concurrent_calls: u32,
    /// The largest linear memory any component may be granted, in bytes.
    pub max_memory_bytes: u64,
    /// Try the pooling allocator first (falls back to on-demand when the
    /// address space cannot be reserved).
    pub pooling: bool,
}

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorKind {
    Pooling,
    OnDemand,
}

impl std::fmt::Display for AllocatorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AllocatorKind::Pooling => "pooling",
            AllocatorKind::OnDemand => "on-demand",
        })
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // All guests are WASIp2: no component-model async ABI is needed, and
    // leaving it on costs per-call bookkeeping.
    config.concurrency_support(false);
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(4 << 20);
    config
}

/// Builds the engine: pooling allocator when it can be had, on-demand
/// otherwise. Both share every setting that affects compiled code, so
/// precompiled artifacts stay valid whichever is chosen.
pub fn build_engine(settings: &EngineSettings) -> anyhow::Result<(Engine, AllocatorKind)> {
    if settings.pooling {
        let mut pool = PoolingAllocationConfig::new();
        let calls = settings.max_concurrent_calls.max(1);
        // Headroom for load-time instances (list-tools) and a reload running
        // beside in-flight calls.
        let instances = calls.saturating_mul(2).saturating_add(16);
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_CALL))
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(CORE_INSTANCES_PER_CALL))
            .total_stacks(instances)
            .max_memory_size(usize::try_from(settings.max_memory_bytes).unwrap_or(usize::MAX))
            // Reusing a slot costs page faults for whatever was decommitted
            // and a TLB shootdown per decommit. Keep the small, hot parts
            // resident (zeroed in place) and decommit the rest in batches.
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10)
            .decommit_batch_size(32)
            .pagemap_scan(Enabled::Auto);
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, AllocatorKind::Pooling)),
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                "pooling allocator unavailable, falling back to on-demand allocation"
            ),
        }
    }
    let engine = Engine::new(&base_config()).map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e:#}"))?;
    Ok((engine, AllocatorKind::OnDemand))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a dedicated thread
/// until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
