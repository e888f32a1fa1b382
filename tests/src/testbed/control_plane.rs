//! The parts of a control plane beyond the API server, each a real program
//! run as a process on loopback: kube-controller-manager and kube-scheduler
//! (the same `k8s.io/kubernetes` build as kube-apiserver), kwok for fake
//! nodes whose pods get scheduled and reported Running, and the
//! CloudNativePG operator with its admission webhooks registered by URL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{MANAGER, b64, spawn_kept};

/// Namespace the operator runs "in" (its `OPERATOR_NAMESPACE`).
pub const OPERATOR_NAMESPACE: &str = "cnpg-system";

/// Names of the fake nodes kwok manages.
pub const NODES: [&str; 3] = ["kwok-node-1", "kwok-node-2", "kwok-node-3"];

/// Pod IPs kwok hands out: a loopback range, so that the operator's calls
/// to instance managers are refused at once instead of hanging on an
/// address nobody routes.
/// (EndpointSlices refuse loopback addresses, so Services get no
/// endpoints; nothing could answer on them anyway.)
const POD_CIDR: &str = "127.20.0.0/16";

/// Runs a build script of the tests folder and returns its stdout lines.
pub fn build_script(script: &str, args: &[&str]) -> anyhow::Result<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let output = Command::new("bash")
        .arg(&path)
        .args(args)
        .output()
        .with_context(|| format!("run {}", path.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed:\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

fn last_line(lines: Vec<String>, script: &str) -> anyhow::Result<PathBuf> {
    lines
        .last()
        .map(PathBuf::from)
        .with_context(|| format!("{script} printed nothing"))
}

/// Folder with kube-apiserver, kube-controller-manager and kube-scheduler.
pub fn kubernetes_binaries() -> anyhow::Result<PathBuf> {
    last_line(build_script("kubernetes/build.sh", &[])?, "kubernetes/build.sh")
}

/// Folder with kwok.
pub fn kwok_binaries() -> anyhow::Result<PathBuf> {
    last_line(build_script("kwok/build.sh", &[])?, "kwok/build.sh")
}

/// The kwok stages the bed uses, from the pinned kwok module: nodes become
/// Ready and keep a heartbeat; pods on them become Running and Ready at
/// once (init containers completed), pods of a Job then Succeeded, and
/// deleted pods go away. (The `kwok` binary has no stages of its own.)
const KWOK_STAGES: [&str; 5] = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
];

/// Writes the stages into one kwok configuration file in `dir`.
fn kwok_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let module = last_line(build_script("kwok/build.sh", &["sources"])?, "kwok/build.sh sources")?;
    let mut config = String::new();
    for stage in KWOK_STAGES {
        let file = module.join("kustomize/stage").join(stage);
        config.push_str("---\n");
        config.push_str(&std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?);
        config.push('\n');
    }
    let path = dir.join("kwok-stages.yaml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Where the pinned operator module keeps its manifests.
pub struct OperatorSources {
    /// The operator module (`config/crd/bases`, `config/webhook`).
    pub module: PathBuf,
    /// The VolumeSnapshot CRDs (`external-snapshotter/client/v8`, `config/crd`).
    pub snapshot_crds: PathBuf,
}

impl OperatorSources {
    /// Downloads (or finds) the modules; builds nothing.
    pub fn locate() -> anyhow::Result<OperatorSources> {
        let lines = build_script("cnpg-operator/build.sh", &["sources"])?;
        let [module, snapshot_crds] = <[String; 2]>::try_from(lines)
            .map_err(|l| anyhow::anyhow!("cnpg-operator/build.sh sources printed {l:?}"))?;
        Ok(OperatorSources {
            module: module.into(),
            snapshot_crds: snapshot_crds.into(),
        })
    }

    pub fn cnpg_crds(&self) -> PathBuf {
        self.module.join("config/crd/bases")
    }
}

/// Folder with the operator's `manager`.
pub fn operator_binaries() -> anyhow::Result<PathBuf> {
    last_line(build_script("cnpg-operator/build.sh", &[])?, "cnpg-operator/build.sh")
}

fn log_files(dir: &Path, name: &str) -> anyhow::Result<(std::fs::File, std::fs::File)> {
    Ok((
        std::fs::File::create(dir.join(format!("{name}.log")))?,
        std::fs::File::create(dir.join(format!("{name}.err.log")))?,
    ))
}

fn spawn_logged(mut command: Command, dir: &Path, name: &str) -> anyhow::Result<u32> {
    let (out, err) = log_files(dir, name)?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    let child = spawn_kept(command).with_context(|| format!("start {name}"))?;
    let pid = child.id();
    // Owned by the keeper thread; stopped by PID or with the test process.
    std::mem::forget(child);
    Ok(pid)
}

/// kube-controller-manager: garbage collection of dependents, Jobs,
/// ReplicaSets and Deployments, namespaces, service accounts and their
/// tokens, endpoint slices, disruption budgets, volume binding.
pub fn start_controller_manager(bin: &Path, dir: &Path, kubeconfig: &Path) -> anyhow::Result<u32> {
    let mut command = Command::new(bin);
    command
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(["--leader-elect=false", "--secure-port=0", "--controllers=*"])
        .arg("--use-service-account-credentials=false")
        .arg(format!(
            "--service-account-private-key-file={}",
            dir.join("sa.key").display()
        ))
        .arg(format!("--root-ca-file={}", dir.join("ca.crt").display()))
        // Faster garbage collection and namespace deletion than the
        // production defaults, same behaviour.
        .args(["--concurrent-gc-syncs=20", "--concurrent-namespace-syncs=5", "--v=1"]);
    spawn_logged(command, dir, "kube-controller-manager")
}

/// kube-scheduler with its default profile.
pub fn start_scheduler(bin: &Path, dir: &Path, kubeconfig: &Path) -> anyhow::Result<u32> {
    let mut command = Command::new(bin);
    command
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--authentication-kubeconfig={}", kubeconfig.display()))
        .arg(format!("--authorization-kubeconfig={}", kubeconfig.display()))
        .args(["--leader-elect=false", "--bind-address=127.0.0.1", "--v=1"])
        .arg(format!("--secure-port={}", crate::free_port()));
    spawn_logged(command, dir, "kube-scheduler")
}

/// kwok, managing the nodes annotated `kwok.x-k8s.io/node: fake`.
pub fn start_kwok(bin: &Path, dir: &Path, kubeconfig: &Path) -> anyhow::Result<u32> {
    let config = kwok_config(dir)?;
    let mut command = Command::new(bin);
    command
        // Its own work folder, so no ~/.kwok/kwok.yaml is read.
        .env("KWOK_WORKDIR", dir.join("kwok"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--config={}", config.display()))
        .args([
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1",
        ])
        .arg(format!("--cidr={POD_CIDR}"));
    spawn_logged(command, dir, "kwok")
}

/// The fake nodes: schedulable, with room for many small pods.
pub async fn create_nodes(client: &Client) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    for (zone, name) in NODES.iter().enumerate() {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                           "kubernetes.io/arch": "amd64", "type": "kwok",
                           "topology.kubernetes.io/zone": format!("zone-{}", zone + 1)},
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        }))?;
        api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&node))
            .await?;
    }
    Ok(())
}

pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The Go name of this machine's architecture, as the operator names its
/// per-architecture binaries (`operator/manager_<goarch>`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Starts the operator: `manager controller`, leader election off, metrics
/// off, webhooks on `webhook_port` with the bed's serving certificate (the
/// operator then leaves its own PKI and the webhook configurations alone).
pub fn start_operator(manager: &Path, dir: &Path, kubeconfig: &Path, webhook_port: u16) -> anyhow::Result<u32> {
    // The operator records the hash of `operator/manager_<goarch>`, relative
    // to its working directory, in every Cluster's status (the image keeps
    // its binaries there); without it the status update fails.
    let root = dir.join("operator-root");
    std::fs::create_dir_all(root.join("operator"))?;
    let link = root.join(format!("operator/manager_{}", go_arch()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(manager, &link)?;
    let certs = dir.join("webhook-certs");
    std::fs::create_dir_all(&certs)?;
    std::fs::copy(dir.join("serving.crt"), certs.join("apiserver.crt"))?;
    std::fs::copy(dir.join("serving.key"), certs.join("apiserver.key"))?;
    let mut command = Command::new(manager);
    command
        .current_dir(&root)
        .args(["controller", "--leader-elect=false", "--metrics-bind-address=0"])
        .arg(format!("--webhook-port={webhook_port}"))
        .env("KUBECONFIG", kubeconfig)
        .env("OPERATOR_NAMESPACE", OPERATOR_NAMESPACE)
        .env("WEBHOOK_CERT_DIR", &certs);
    spawn_logged(command, dir, "cnpg-operator")
}

/// Registers the operator's webhooks, as its own manifests in the module
/// declare them (names, paths, rules, failure policy), with the service
/// reference replaced by `https://127.0.0.1:PORT/PATH` and the test CA.
pub async fn register_webhooks(
    client: &Client,
    sources: &OperatorSources,
    port: u16,
    ca_pem: &str,
) -> anyhow::Result<usize> {
    let file = sources.module.join("config/webhook/manifests.yaml");
    let text = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    let mut registered = 0;
    // Parsed up front: the YAML parser cannot be held across an await.
    let manifests = serde_yaml::Deserializer::from_str(&text)
        .map(Value::deserialize)
        .collect::<Result<Vec<_>, _>>()?;
    for mut manifest in manifests {
        if manifest.is_null() {
            continue;
        }
        let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
        let plural = match kind.as_str() {
            "MutatingWebhookConfiguration" => "mutatingwebhookconfigurations",
            "ValidatingWebhookConfiguration" => "validatingwebhookconfigurations",
            other => bail!("unexpected {other} in {}", file.display()),
        };
        // The operator's own default names (configuration.go).
        let name = format!("cnpg-{}", manifest["metadata"]["name"].as_str().unwrap_or_default());
        manifest["metadata"]["name"] = json!(name);
        for webhook in manifest["webhooks"].as_array_mut().into_iter().flatten() {
            let path = webhook["clientConfig"]["service"]["path"]
                .as_str()
                .context("webhook without a service path")?
                .to_string();
            webhook["clientConfig"] = json!({
                "url": format!("https://127.0.0.1:{port}{path}"),
                "caBundle": b64(ca_pem),
            });
            registered += 1;
        }
        let resource = ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind,
            plural: plural.into(),
        };
        let object: DynamicObject = serde_json::from_value(manifest)?;
        Api::<DynamicObject>::all_with(client.clone(), &resource)
            .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&object))
            .await?;
    }
    Ok(registered)
}

/// Waits until a Cluster created (server-side dry run) through the API
/// server comes back with a field only the operator's defaulting webhook
/// sets: then both the webhook server and its registration are live.
pub async fn wait_for_webhooks(client: &Client, dir: &Path, deadline: Instant) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), OPERATOR_NAMESPACE, &super::cnpg_cluster());
    let probe: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "webhook-probe"},
        "spec": {"instances": 1, "storage": {"size": "1Gi"}},
    }))?;
    let params = PostParams {
        dry_run: true,
        ..Default::default()
    };
    loop {
        let last = match api.create(&params, &probe).await {
            Ok(created) => {
                let spec = &created.data["spec"];
                if spec["imageName"].as_str().is_some_and(|s| !s.is_empty()) {
                    return Ok(());
                }
                format!("no webhook defaults yet: {spec}")
            }
            Err(error) => error.to_string(),
        };
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("cnpg-operator.err.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            bail!(
                "operator webhooks not answering: {last}\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the operator listens on its webhook port.
pub fn wait_for_operator(pid: u32, port: u16, dir: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        // SAFETY: signal 0 only checks that our child is still alive.
        if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("cnpg-operator.err.log")).unwrap_or_default();
    bail!("the operator did not listen on {port}:\n{log}")
}
