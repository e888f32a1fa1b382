//! Guest-side building blocks shared by the CloudNativePG tool components.
//!
//! - [`bindings`]: the `tool-with-prompts` world; a component exports
//!   itself with `cnpg_kit::bindings::export!(T with_types_in cnpg_kit::bindings)`.
//! - [`kube`]: typed calls of the host's `k8s` import whose failures carry
//!   what was attempted, so a tool can answer with the API server's reason
//!   and a suggestion.
//! - [`tool`]: tool tables, argument parsing against schemas derived from
//!   the argument structs, text/JSON rendering, real `isError` results.
//! - [`names`]: Kubernetes and PostgreSQL names, quantities.
//! - [`confirm`]: confirmation of destructive calls (flag and elicitation).
//! - [`time`]: timestamps in the layout CloudNativePG writes.

pub mod bindings {
    wit_bindgen::generate!({
        world: "tool-with-prompts",
        path: "../../wit",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "cnpg_kit::bindings",
    });
}

pub mod confirm;
pub mod kube;
pub mod names;
pub mod time;
pub mod tool;
