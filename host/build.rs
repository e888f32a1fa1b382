//! Builds the guest components (`components/`, target wasm32-wasip2) and
//! embeds the built-in ones. Stable cargo cannot depend on a wasm artifact,
//! so this script runs a nested `cargo build` of the guest workspace into a
//! target folder of its own beside the host's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Components embedded in the binary: (crate folder under components/,
/// component name, opt-in). Each folder holds a `grant.toml` with its
/// default grant. Opt-in ones load only when named (`--enable-builtin`):
/// their grants reach further than a default deployment should.
const BUILTIN: &[(&str, &str, bool)] = &[
    ("cnpg-session", "cnpg-session", false),
    ("cnpg-clusters", "cnpg-clusters", false),
    ("cnpg-roles-databases", "cnpg-roles-databases", false),
    ("cnpg-backups", "cnpg-backups", false),
    ("cnpg-poolers", "cnpg-poolers", false),
    ("cnpg-replication", "cnpg-replication", false),
    ("cnpg-operations", "cnpg-operations", false),
    ("cnpg-diagnostics", "cnpg-diagnostics", false),
    ("cnpg-configuration", "cnpg-configuration", false),
    ("cnpg-upgrades", "cnpg-upgrades", false),
    ("cnpg-cluster-image-catalogs", "cnpg-cluster-image-catalogs", true),
    ("cnpg-certificates", "cnpg-certificates", true),
];

/// DCR-translation components embedded for the facade (world
/// `dcr-translator`), each with its default `grant.toml`.
const TRANSLATORS: &[&str] = &["dcr-static", "dcr-rfc7591", "dcr-keycloak", "dcr-auth0"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    let components = root.join("components");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // Every source file of the guests and the contract.
    watch_tree(&root.join("wit"));
    watch_tree(&components);
    println!("cargo:rerun-if-env-changed=CNPG_MCP_GUEST_TARGET_DIR");

    let guest_target = guest_target_dir(&out_dir, &components);
    ensure_wasm_target();
    build_guests(&components, &guest_target);
    let wasm_dir = guest_target.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=CNPG_MCP_GUEST_DIR={}", wasm_dir.display());

    let mut generated = String::from("pub static BUILTIN: &[(&str, &[u8], &str, bool)] = &[\n");
    for (folder, name, opt_in) in BUILTIN {
        let wasm = wasm_dir.join(format!("{}.wasm", folder.replace('-', "_")));
        let grant = components.join(folder).join("grant.toml");
        assert!(wasm.is_file(), "guest build produced no {}", wasm.display());
        assert!(grant.is_file(), "built-in component {folder} has no grant.toml");
        writeln!(
            generated,
            "    ({name:?}, include_bytes!({:?}), include_str!({:?}), {opt_in}),",
            wasm.display().to_string(),
            grant.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("builtin_components.rs"), generated).expect("cannot write builtin_components.rs");

    let mut translators = String::from("&[\n");
    for name in TRANSLATORS {
        let wasm = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let grant = components.join(name).join("grant.toml");
        assert!(wasm.is_file(), "guest build produced no {}", wasm.display());
        assert!(grant.is_file(), "built-in translator {name} has no grant.toml");
        writeln!(
            translators,
            "    ({name:?}, include_bytes!({:?}), include_str!({:?})),",
            wasm.display().to_string(),
            grant.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    translators.push_str("]\n");
    std::fs::write(out_dir.join("builtin_translators.rs"), translators).expect("cannot write builtin_translators.rs");
}

fn watch_tree(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            watch_tree(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `<target>/wasm32-guests/<checkout>`, shared by debug and release host
/// builds of one checkout; two checkouts sharing a target folder must not
/// overwrite each other's guests. OUT_DIR is
/// `<target>/<profile>/build/<pkg>-<hash>/out`.
fn guest_target_dir(out_dir: &Path, components: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    if let Ok(dir) = std::env::var("CNPG_MCP_GUEST_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    components.hash(&mut hasher);
    let checkout = format!("{:016x}", hasher.finish());
    out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("wasm32-guests").join(checkout))
        .unwrap_or_else(|| out_dir.join("wasm32-guests"))
}

/// A fresh machine has no wasm32-wasip2 standard library; add it through
/// rustup (the target of the active toolchain) so that one `cargo run`
/// suffices.
fn ensure_wasm_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2")
        });
    match installed {
        Ok(true) => {}
        Ok(false) => {
            println!(
                "cargo:warning=installing the wasm32-wasip2 target with rustup (needed for the built-in components)"
            );
            let status = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "`rustup target add wasm32-wasip2` failed; install the target and build again"
            );
        }
        Err(_) => println!("cargo:warning=rustup not found; assuming the wasm32-wasip2 target is installed"),
    }
}

fn build_guests(components: &Path, target_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(components)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--workspace",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings (flags, profile, target, wrappers) must not
    // leak into the guest build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let keep = matches!(key.as_str(), "CARGO_HOME" | "CARGO_NET_OFFLINE" | "CARGO_MAKEFLAGS")
            || key.starts_with("CARGO_REGISTRIES_");
        if (key.starts_with("CARGO_") && !keep)
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "RUSTC"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTDOC"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
            )
        {
            command.env_remove(&key);
        }
    }
    let status = command.status().expect("cannot run cargo for the guest components");
    assert!(
        status.success(),
        "building the guest components failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
    );
}
