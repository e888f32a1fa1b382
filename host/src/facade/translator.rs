//! The DCR-translation component of the facade (world `dcr-translator`):
//! loaded once, instantiated fresh for every registration in a store of its
//! own with the grant's memory, CPU and time limits, and given outbound
//! HTTP only through [`super::outbound`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::outbound::{Exchange, OutboundHooks, OutboundPolicy};
use crate::runtime::grant::{CallLimits, ComponentGrant};
use crate::runtime::state::TrackingLimits;

mod bindings {
    wasmtime::component::bindgen!({
        world: "dcr-translator",
        path: "../wit",
        imports: { default: trappable },
        exports: { default: async },
    });
}

use bindings::cnpg::mcp::{config, logging, types};
pub use bindings::exports::cnpg::mcp::dcr::{Registration, RegistrationError, TokenAuth, UpstreamClient};

/// Built-in translators: (name, component, default grant).
pub static BUILTIN: &[(&str, &[u8], &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_translators.rs"));

/// Store data of one registration.
pub struct TranslatorState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    limits: TrackingLimits,
    cpu_ticks_left: u64,
    config: Arc<BTreeMap<String, String>>,
    name: Arc<str>,
}

impl WasiView for TranslatorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for TranslatorState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for TranslatorState {}

impl logging::Host for TranslatorState {
    fn log(&mut self, level: types::LogLevel, context: String, message: String) -> wasmtime::Result<()> {
        let message: String = message.chars().take(4096).collect();
        match level {
            types::LogLevel::Error => tracing::error!(translator = %self.name, context, "{message}"),
            types::LogLevel::Warning => tracing::warn!(translator = %self.name, context, "{message}"),
            types::LogLevel::Info => tracing::info!(translator = %self.name, context, "{message}"),
            _ => tracing::debug!(translator = %self.name, context, "{message}"),
        }
        Ok(())
    }
}

impl config::Host for TranslatorState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::ConfigError>> {
        Ok(Ok(self.config.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::ConfigError>> {
        Ok(Ok(self.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}

/// Why a registration did not come back with an upstream client.
#[derive(Debug, thiserror::Error)]
pub enum TranslatorFailure {
    /// The translator answered with an error.
    #[error("{0:?}")]
    Refused(RegistrationError),
    /// It trapped, ran out of memory, CPU or time.
    #[error("the DCR translator `{name}` failed: {detail}")]
    Crashed { name: String, detail: String },
}

/// A loaded translator.
pub struct Translator {
    pub name: Arc<str>,
    pre: InstancePre<TranslatorState>,
    config: Arc<BTreeMap<String, String>>,
    policy: Arc<OutboundPolicy>,
    limits: CallLimits,
}

impl Translator {
    /// Compiles and links `wasm`; refuses components that do not export
    /// the `dcr` interface or import something the host does not provide.
    pub fn load(
        engine: &Engine,
        name: &str,
        wasm: &[u8],
        grant: &ComponentGrant,
        config: BTreeMap<String, String>,
        policy: OutboundPolicy,
        engine_max_memory: u64,
    ) -> anyhow::Result<Translator> {
        let component = Component::new(engine, wasm)
            .map_err(|e| anyhow::anyhow!("DCR translator `{name}` is not a valid component: {e:#}"))?;
        let mut linker: Linker<TranslatorState> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("cannot link WASI: {e:#}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("cannot link wasi:http: {e:#}"))?;
        bindings::DcrTranslator::add_to_linker::<TranslatorState, wasmtime::component::HasSelf<TranslatorState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow::anyhow!("cannot link the dcr-translator imports: {e:#}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("DCR translator `{name}` cannot be linked: {e:#}"))?;
        bindings::DcrTranslatorPre::new(pre.clone()).map_err(|_| {
            anyhow::anyhow!("`{name}` does not export `cnpg:mcp/dcr@0.1.0`; a DCR translator targets the `dcr-translator` world of wit/")
        })?;
        Ok(Translator {
            name: Arc::from(name),
            pre,
            config: Arc::new(config),
            policy: Arc::new(policy),
            limits: grant.call_limits(engine_max_memory),
        })
    }

    /// Runs one registration in a fresh instance. Returns the outcome and
    /// the HTTP exchanges the translator made.
    pub async fn register(
        &self,
        registration: Registration,
    ) -> (Result<UpstreamClient, TranslatorFailure>, Vec<Exchange>) {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let ticks = (self.limits.cpu.as_millis() / crate::runtime::engine::EPOCH_TICK.as_millis()).max(1) as u64;
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        let state = TranslatorState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks {
                policy: self.policy.clone(),
                journal: journal.clone(),
            },
            limits: TrackingLimits::new(self.limits.memory_bytes),
            cpu_ticks_left: ticks,
            config: self.config.clone(),
            name: self.name.clone(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.cpu_ticks_left == 0 {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            state.cpu_ticks_left -= 1;
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        let crashed = |detail: String| TranslatorFailure::Crashed {
            name: self.name.to_string(),
            detail,
        };
        let run = async {
            let pre = bindings::DcrTranslatorPre::new(self.pre.clone()).map_err(|e| crashed(format!("{e:#}")))?;
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| crashed(format!("cannot instantiate: {e:#}")))?;
            let outcome = instance.cnpg_mcp_dcr().call_register(&mut store, &registration).await;
            match outcome {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(refusal)) => Err(TranslatorFailure::Refused(refusal)),
                Err(trap) => {
                    let detail = if store.data().limits.refused_memory {
                        format!("out of memory (limit {} MiB)", self.limits.memory_bytes >> 20)
                    } else if store.data().cpu_ticks_left == 0 {
                        format!("CPU budget of {} ms used up", self.limits.cpu.as_millis())
                    } else {
                        format!("trapped: {trap:#}")
                    };
                    Err(crashed(detail))
                }
            }
        };
        let result = match tokio::time::timeout(self.limits.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(crashed(format!(
                "no answer within {} ms",
                self.limits.timeout.as_millis()
            ))),
        };
        let exchanges = journal.lock().map(|j| j.clone()).unwrap_or_default();
        (result, exchanges)
    }
}
