//! Host bindings generated from `wit/` (`cnpg:mcp@0.1.0`, world `tool-full`).
//!
//! The host generates from the widest world and loads the `prompts` and
//! `resources` exports only when a component has them.

wasmtime::component::bindgen!({
    world: "tool-full",
    path: "../wit",
    imports: {
        "cnpg:mcp/client": async | trappable,
        "cnpg:mcp/k8s": async,
        default: trappable,
    },
    exports: {
        default: async,
    },
});

/// The WIT package version this host implements. Components importing or
/// exporting another major (or, below 1.0, minor) version are refused.
pub const WIT_PACKAGE: &str = "cnpg:mcp";
pub const WIT_VERSION: &str = "0.1.0";
