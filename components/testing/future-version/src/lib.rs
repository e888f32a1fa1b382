//! A component built for `cnpg:mcp@1.0.0`, a version this host does not speak.

wit_bindgen::generate!({
    world: "tool",
    path: "wit",
});

struct Future;

impl exports::cnpg::mcp::tools::Guest for Future {
    fn list_tools() -> Vec<String> {
        vec!["from_the_future".into()]
    }

    fn call_tool(name: String, _arguments: String) -> Result<String, String> {
        Ok(name)
    }
}

export!(Future);
