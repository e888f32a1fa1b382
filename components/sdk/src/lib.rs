//! Guest SDK for cnpg-mcp tool components (wasm32-wasip2). The built-in
//! CloudNativePG components are written with it; `components/examples/`
//! shows a custom one, and `components/README.md` is the guide.
//!
//! - [`bindings`]: the `tool-with-prompts` world; a component exports
//!   itself with `cnpg_mcp_sdk::bindings::export!(T with_types_in cnpg_mcp_sdk::bindings)`
//!   (and [`no_prompts!`] when it has no prompts).
//! - [`kube`]: typed calls of the host's `k8s` import whose failures carry
//!   what was attempted, so a tool can answer with the API server's reason
//!   and a suggestion.
//! - [`tool`]: tool tables, argument parsing against schemas derived from
//!   the argument structs, text/JSON rendering, real `isError` results.
//! - [`names`]: Kubernetes and PostgreSQL names, quantities.
//! - [`confirm`]: confirmation of destructive calls (flag and elicitation).
//! - [`time`]: timestamps in the layout CloudNativePG writes, RFC 3339 parsing.
//! - [`cron`]: `ScheduledBackup` schedules as the operator reads them.
//! - [`image`]: PostgreSQL image references and the version in their tag.
//! - [`instance`]: an instance manager's status (last archived WAL, pending
//!   restart, replication) through the pod proxy.
//! - [`yaml`]: manifests and patches shown as YAML.
//! - [`log`] and [`progress`]: the host's logging and progress imports.
//! - [`prompt`]: prompt arguments and answers.
//! - [`requested_grant!`]: embeds the grant a component asks for, which
//!   `cnpg-mcp components validate` compares with the operator's grant.

pub mod bindings {
    wit_bindgen::generate!({
        world: "tool-with-prompts",
        path: "../../wit",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "cnpg_mcp_sdk::bindings",
    });
}

pub mod confirm;
pub mod cron;
pub mod image;
pub mod instance;
pub mod kube;
pub mod log;
pub mod names;
pub mod progress;
pub mod prompt;
pub mod time;
pub mod tool;
pub mod yaml;

/// Name of the custom section holding a component's requested grant.
pub const REQUESTED_GRANT_SECTION: &str = "cnpg-mcp:requested-grant";

/// Embeds a grant file (TOML, as operators write them) in the component as
/// the permissions it asks for: `cnpg_mcp_sdk::requested_grant!("../grant.toml");`.
/// `cnpg-mcp components validate --grant FILE` reports what the operator's
/// grant does not cover. The host never grants anything from it.
#[macro_export]
macro_rules! requested_grant {
    ($path:literal) => {
        #[used]
        #[unsafe(link_section = "cnpg-mcp:requested-grant")]
        static REQUESTED_GRANT: [u8; include_bytes!($path).len()] = *include_bytes!($path);
    };
}

/// Implements the `prompts` export with no prompts, for components that
/// only offer tools: `cnpg_mcp_sdk::no_prompts!(MyTools);`.
#[macro_export]
macro_rules! no_prompts {
    ($component:ty) => {
        impl $crate::bindings::exports::cnpg::mcp::prompts::Guest for $component {
            fn list_prompts() -> ::std::vec::Vec<$crate::bindings::exports::cnpg::mcp::prompts::PromptDescriptor> {
                ::std::vec::Vec::new()
            }

            fn get_prompt(
                name: ::std::string::String,
                _arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                _ctx: $crate::bindings::cnpg::mcp::types::CallContext,
            ) -> ::std::result::Result<
                $crate::bindings::exports::cnpg::mcp::prompts::PromptResult,
                $crate::bindings::exports::cnpg::mcp::prompts::PromptError,
            > {
                Err($crate::bindings::exports::cnpg::mcp::prompts::PromptError::UnknownPrompt(name))
            }

            fn complete_argument(
                _prompt: ::std::string::String,
                _argument: ::std::string::String,
                _value: ::std::string::String,
            ) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec::Vec::new()
            }
        }
    };
}
