//! `cnpg-mcp-testbed`: starts the test control plane and prints the
//! `KUBECONFIG` to use, so anyone can try the server against a real API
//! server and the real CloudNativePG operator without a cluster: etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok with three
//! fake nodes and the operator with its webhooks. `--no-operator` starts
//! etcd and kube-apiserver only. Stops everything on Ctrl-C.
//!
//! `cargo run -p cnpg-mcp-tests --bin cnpg-mcp-testbed [-- --no-operator]`

use cnpg_mcp_tests::testbed::{Parts, TestBed};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let parts = match std::env::args().nth(1).as_deref() {
        None => Parts::Operator,
        Some("--no-operator") => Parts::ApiServer,
        Some(other) => anyhow::bail!("unknown argument {other}; usage: cnpg-mcp-testbed [--no-operator]"),
    };
    let bed = TestBed::start_with(parts).await?;
    println!("export KUBECONFIG={}", bed.kubeconfig.display());
    let running = match parts {
        Parts::Operator => {
            "etcd, kube-apiserver, the CloudNativePG operator, kube-controller-manager, kube-scheduler, kwok"
        }
        Parts::ApiServer => "etcd, kube-apiserver",
    };
    println!(
        "# API server {}; running: {running} (PIDs {:?}); logs in {}; Ctrl-C stops everything.",
        bed.server,
        bed.pids(),
        bed.dir.display()
    );
    tokio::signal::ctrl_c().await?;
    drop(bed);
    Ok(())
}
