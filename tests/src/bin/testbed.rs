//! `cnpg-mcp-testbed`: starts the test control plane (etcd, kube-apiserver,
//! the CloudNativePG CRDs) and prints the `KUBECONFIG` to use, so anyone can
//! try the server against a real API server without a cluster. Stops
//! everything on Ctrl-C.
//!
//! `cargo run -p cnpg-mcp-tests --bin cnpg-mcp-testbed`

use cnpg_mcp_tests::testbed::TestBed;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bed = TestBed::start().await?;
    println!("export KUBECONFIG={}", bed.kubeconfig.display());
    println!(
        "# API server {} (etcd and kube-apiserver PIDs {:?}); Ctrl-C stops both.",
        bed.server,
        bed.pids()
    );
    tokio::signal::ctrl_c().await?;
    for pid in bed.pids() {
        let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    }
    Ok(())
}
