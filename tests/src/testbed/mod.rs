//! A real Kubernetes control plane for tests: etcd (from the
//! `etcd-bin-vendored` crate) and kube-apiserver (built from Go modules by
//! `tests/kubernetes/build.sh`) on free loopback ports, with a test CA,
//! a serving certificate for 127.0.0.1, an admin client certificate
//! (`system:masters`), service-account signing keys (for TokenRequest),
//! RBAC authorization, and the CRDs of the pinned CloudNativePG module
//! (`tests/cnpg-operator/go.mod`) and the VolumeSnapshot CRDs, created and
//! Established.
//!
//! With [`Parts::Operator`] the rest of a control plane runs beside it
//! ([`control_plane`]): kube-controller-manager, kube-scheduler, kwok with
//! three fake nodes, the emulated volume driver ([`volumes`]) and the
//! CloudNativePG operator itself, its admission webhooks registered.
//!
//! Started once per test binary ([`TestBed::shared`],
//! [`TestBed::shared_with_operator`]). The processes are
//! started from a keeper thread that lives as long as the test process and
//! carry a parent-death signal, so they die with the test binary even when
//! a test panics or the harness exits without running destructors.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use tokio::sync::OnceCell;

use crate::free_port;
use crate::tempdir::TempDir;

pub mod control_plane;
pub mod pod_network;
pub mod volumes;

/// Field manager used by the test bed itself.
const MANAGER: &str = "cnpg-mcp-testbed";

/// What runs beside etcd and kube-apiserver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parts {
    /// The API server alone: every call, validation rule and RBAC decision
    /// is real, but nothing reacts to what is written.
    ApiServer,
    /// Also kube-controller-manager, kube-scheduler, kwok, the emulated
    /// volume driver and the CloudNativePG operator with its webhooks.
    Operator,
}

/// The running control plane.
pub struct TestBed {
    /// `https://127.0.0.1:PORT`
    pub server: String,
    /// Admin kubeconfig (client certificate in `system:masters`).
    pub kubeconfig: PathBuf,
    /// Folder with certificates, keys, etcd data, the API server's audit log.
    pub dir: PathBuf,
    /// What runs beside the API server.
    pub parts: Parts,
    /// `https://127.0.0.1:PORT` of the operator's webhook server.
    pub webhook_url: Option<String>,
    /// kube-apiserver's way to pods: a test can stand in for a pod's
    /// endpoint (see [`pod_network`]).
    pub pod_network: std::sync::Arc<pod_network::PodNetwork>,
    etcd_pid: u32,
    /// kube-controller-manager, kube-scheduler, kwok, the operator.
    other_pids: Vec<u32>,
    api_pid: std::sync::atomic::AtomicU32,
    api_port: u16,
    /// How kube-apiserver was started, to start it again.
    api_command: (PathBuf, Vec<String>),
    _keep: TempDir,
}

/// Audit policy of the test bed: every request at Metadata level, so tests
/// can assert which requests reached the API server and as whom.
const AUDIT_POLICY: &str =
    "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n";

static SHARED: OnceCell<TestBed> = OnceCell::const_new();
static SHARED_WITH_OPERATOR: OnceCell<TestBed> = OnceCell::const_new();
/// PIDs and folders of the shared beds, for [`cleanup_at_exit`].
static CLEANUP: std::sync::Mutex<Vec<(Vec<u32>, PathBuf)>> = std::sync::Mutex::new(Vec::new());

extern "C" fn cleanup_at_exit() {
    let beds = match CLEANUP.lock() {
        Ok(beds) => beds,
        Err(poisoned) => poisoned.into_inner(),
    };
    for (pids, dir) in beds.iter() {
        for pid in pids {
            // SAFETY: sends a signal to a child process this test started.
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Registers a shared bed for [`cleanup_at_exit`].
fn stop_at_exit(bed: &TestBed) {
    let mut beds = match CLEANUP.lock() {
        Ok(beds) => beds,
        Err(poisoned) => poisoned.into_inner(),
    };
    if beds.is_empty() {
        // SAFETY: registers a plain `extern "C"` function with no captured
        // state; it only reads a static.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
    }
    beds.push((bed.pids(), bed.dir.clone()));
}

/// Spawns processes from a thread that outlives every test, so that the
/// parent-death signal (tied to the spawning thread) fires only when the
/// test process itself ends.
pub(crate) fn spawn_kept(mut command: Command) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    static KEEPER: std::sync::OnceLock<mpsc::Sender<(Command, mpsc::Sender<std::io::Result<Child>>)>> =
        std::sync::OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::Sender<std::io::Result<Child>>)>();
        std::thread::Builder::new()
            .name("testbed-keeper".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // The channel is never closed while the process runs.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn keeper thread");
        tx
    });
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and only changes
    // the child's own attributes between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    keeper.send((command, reply_tx)).context("keeper thread gone")?;
    Ok(reply_rx.recv().context("keeper thread gone")??)
}

struct Pki {
    ca_pem: String,
    serving_cert: String,
    serving_key: String,
    admin_cert: String,
    admin_key: String,
    sa_key: String,
    sa_pub: String,
}

fn pki() -> anyhow::Result<Pki> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "cnpg-mcp test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;

    let mut serving = CertificateParams::new(vec!["localhost".to_string(), "kubernetes".to_string()])?;
    serving.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse()?));
    serving.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate()?;
    let serving_cert = serving.signed_by(&serving_key, &ca)?;

    let mut admin = CertificateParams::new(Vec::<String>::new())?;
    admin.distinguished_name.push(DnType::CommonName, "testbed-admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate()?;
    let admin_cert = admin.signed_by(&admin_key, &ca)?;

    let sa = KeyPair::generate()?;
    Ok(Pki {
        ca_pem: ca.pem(),
        serving_cert: serving_cert.pem(),
        serving_key: serving_key.serialize_pem(),
        admin_cert: admin_cert.pem(),
        admin_key: admin_key.serialize_pem(),
        sa_key: sa.serialize_pem(),
        sa_pub: sa.public_key_pem(),
    })
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited with {status}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not listen on {port} within {timeout:?}")
}

impl TestBed {
    /// The control plane shared by every test of this test binary. When the
    /// test process exits, its processes are stopped by PID and its folder
    /// removed (statics are never dropped, so this runs from `atexit`).
    pub async fn shared() -> &'static TestBed {
        SHARED
            .get_or_init(|| async {
                let bed = TestBed::start().await.unwrap_or_else(|e| panic!("test bed: {e:#}"));
                stop_at_exit(&bed);
                bed
            })
            .await
    }

    /// The whole control plane with the CloudNativePG operator, shared by
    /// every test of this test binary that asks for it.
    pub async fn shared_with_operator() -> &'static TestBed {
        SHARED_WITH_OPERATOR
            .get_or_init(|| async {
                let bed = TestBed::start_with(Parts::Operator)
                    .await
                    .unwrap_or_else(|e| panic!("test bed with the operator: {e:#}"));
                stop_at_exit(&bed);
                bed
            })
            .await
    }

    /// Starts etcd and kube-apiserver, waits until ready, creates the CRDs.
    pub async fn start() -> anyhow::Result<TestBed> {
        TestBed::start_with(Parts::ApiServer).await
    }

    /// Starts etcd, kube-apiserver and `parts`; waits until everything is
    /// ready (with the operator: until its defaulting webhook answers).
    pub async fn start_with(parts: Parts) -> anyhow::Result<TestBed> {
        let started = Instant::now();
        let keep = TempDir::new("testbed");
        let dir = keep.path().to_path_buf();
        // Builds (or finds in the cache) what this bed runs.
        let (kubernetes, sources, operator, kwok) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let kubernetes = control_plane::kubernetes_binaries()?;
            let sources = control_plane::OperatorSources::locate()?;
            let (operator, kwok) = match parts {
                Parts::ApiServer => (None, None),
                Parts::Operator => (
                    Some(control_plane::operator_binaries()?.join("manager")),
                    Some(control_plane::kwok_binaries()?.join("kwok")),
                ),
            };
            Ok((kubernetes, sources, operator, kwok))
        })
        .await??;
        let apiserver_bin = kubernetes.join("kube-apiserver");
        let pki = pki()?;
        for (name, text) in [
            ("ca.crt", &pki.ca_pem),
            ("serving.crt", &pki.serving_cert),
            ("serving.key", &pki.serving_key),
            ("sa.key", &pki.sa_key),
            ("sa.pub", &pki.sa_pub),
            ("audit-policy.yaml", &AUDIT_POLICY.to_string()),
        ] {
            std::fs::write(dir.join(name), text)?;
        }
        let pod_network = std::sync::Arc::new(pod_network::PodNetwork::start(&dir)?);
        std::fs::write(dir.join("egress.yaml"), pod_network.egress_config())?;

        let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
        let etcd_log = dir.join("etcd.log");
        let mut etcd = Command::new(etcd_bin_vendored::etcd_bin_path().map_err(|e| anyhow::anyhow!("{e:?}"))?);
        etcd.arg("--data-dir")
            .arg(dir.join("etcd"))
            .args(["--name", "testbed"])
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!("--initial-cluster=testbed=http://127.0.0.1:{peer_port}"))
            .args(["--unsafe-no-fsync", "--log-level=warn"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&etcd_log)?)
            .stderr(std::fs::File::create(dir.join("etcd.err.log"))?);
        let mut etcd = spawn_kept(etcd)?;
        wait_for_port(
            etcd_port,
            &mut etcd,
            "etcd",
            &dir.join("etcd.err.log"),
            Duration::from_secs(30),
        )?;

        let args: Vec<String> = vec![
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={api_port}"),
            format!("--tls-cert-file={}", dir.join("serving.crt").display()),
            format!("--tls-private-key-file={}", dir.join("serving.key").display()),
            format!("--client-ca-file={}", dir.join("ca.crt").display()),
            format!("--service-account-issuer=https://127.0.0.1:{api_port}"),
            format!("--service-account-key-file={}", dir.join("sa.pub").display()),
            format!("--service-account-signing-key-file={}", dir.join("sa.key").display()),
            format!("--audit-policy-file={}", dir.join("audit-policy.yaml").display()),
            format!("--audit-log-path={}", dir.join("audit.log").display()),
            "--audit-log-mode=blocking".into(),
            "--audit-log-format=json".into(),
            format!("--egress-selector-config-file={}", dir.join("egress.yaml").display()),
            "--authorization-mode=RBAC".into(),
            "--service-cluster-ip-range=10.96.0.0/16".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--allow-privileged=true".into(),
            "--v=1".into(),
        ];
        let api_pid = spawn_apiserver(&apiserver_bin, &args, &dir, api_port)?;

        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: admin\n    namespace: default\ncurrent-context: testbed\n",
                b64(&pki.ca_pem),
                b64(&pki.admin_cert),
                b64(&pki.admin_key)
            ),
        )?;
        let mut bed = TestBed {
            server,
            kubeconfig,
            dir,
            parts,
            webhook_url: None,
            pod_network,
            etcd_pid: etcd.id(),
            other_pids: Vec::new(),
            api_pid: std::sync::atomic::AtomicU32::new(api_pid),
            api_port,
            api_command: (apiserver_bin, args),
            _keep: keep,
        };
        // The child stays owned by the keeper (killed with the process);
        // forget the handle without waiting.
        std::mem::forget(etcd);

        let client = bed.client().await?;
        bed.wait_ready(&client, started + Duration::from_secs(120)).await?;
        bed.create_crds(&client, &sources).await?;
        if let (Some(operator), Some(kwok)) = (operator, kwok) {
            bed.start_operator_parts(&client, &kubernetes, &operator, &kwok, &sources, &pki.ca_pem)
                .await?;
        }
        eprintln!(
            "test bed ready at {} in {:?} ({})",
            bed.server,
            started.elapsed(),
            bed.dir.display()
        );
        Ok(bed)
    }

    /// An admin client.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }

    async fn wait_ready(&self, client: &Client, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let request = http::Request::get("/readyz").body(Vec::new())?;
            match client.request_text(request).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                other => {
                    if Instant::now() > deadline {
                        let log = std::fs::read_to_string(self.dir.join("kube-apiserver.err.log")).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(40).collect();
                        bail!(
                            "kube-apiserver not ready: {other:?}\n{}",
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        );
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts kube-controller-manager, kube-scheduler, kwok (and its nodes),
    /// the volume driver and the operator, registers the operator's
    /// webhooks and waits until they answer.
    async fn start_operator_parts(
        &mut self,
        client: &Client,
        kubernetes: &Path,
        operator: &Path,
        kwok: &Path,
        sources: &control_plane::OperatorSources,
        ca_pem: &str,
    ) -> anyhow::Result<()> {
        let kubeconfig = self.kubeconfig.clone();
        let dir = self.dir.clone();
        control_plane::create_namespace(client, control_plane::OPERATOR_NAMESPACE).await?;
        volumes::create_storage_class(client).await?;
        let webhook_port = free_port();
        let operator_pid = control_plane::start_operator(operator, &dir, &kubeconfig, webhook_port)?;
        self.other_pids.push(operator_pid);
        self.other_pids.push(control_plane::start_controller_manager(
            &kubernetes.join("kube-controller-manager"),
            &dir,
            &kubeconfig,
        )?);
        self.other_pids.push(control_plane::start_scheduler(
            &kubernetes.join("kube-scheduler"),
            &dir,
            &kubeconfig,
        )?);
        self.other_pids
            .push(control_plane::start_kwok(kwok, &dir, &kubeconfig)?);
        control_plane::create_nodes(client).await?;
        let config =
            Config::from_custom_kubeconfig(Kubeconfig::read_from(&kubeconfig)?, &KubeConfigOptions::default()).await?;
        volumes::spawn(config)?;
        let wait_dir = dir.clone();
        tokio::task::spawn_blocking(move || control_plane::wait_for_operator(operator_pid, webhook_port, &wait_dir))
            .await??;
        control_plane::register_webhooks(client, sources, webhook_port, ca_pem).await?;
        control_plane::wait_for_webhooks(client, &dir, Instant::now() + Duration::from_secs(60)).await?;
        self.webhook_url = Some(format!("https://127.0.0.1:{webhook_port}"));
        Ok(())
    }

    /// Server-side applies every CRD (CloudNativePG's and the VolumeSnapshot
    /// ones) and waits until all are Established.
    async fn create_crds(&self, client: &Client, sources: &control_plane::OperatorSources) -> anyhow::Result<()> {
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut names = Vec::new();
        let mut files = Vec::new();
        for folder in [sources.cnpg_crds(), sources.snapshot_crds.clone()] {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&folder)
                .with_context(|| format!("read {}", folder.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    // kustomization.yaml is not a CRD.
                    name.ends_with(".yaml") && name.contains('_')
                })
                .collect();
            found.sort();
            files.extend(found);
        }
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            let crd: CustomResourceDefinition =
                serde_yaml::from_str(&text).with_context(|| format!("{}", file.display()))?;
            let name = crd.metadata.name.clone().context("CRD without a name")?;
            api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&crd))
                .await?;
            names.push(name);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for name in &names {
            loop {
                let crd = api.get(name).await?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
                if established {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("CRD {name} not Established");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let cnpg = names.iter().filter(|n| n.ends_with(".postgresql.cnpg.io")).count();
        let snapshots = names.iter().filter(|n| n.ends_with(".snapshot.storage.k8s.io")).count();
        if cnpg != 11 || snapshots != 3 {
            bail!("expected the 11 CloudNativePG CRDs and 3 VolumeSnapshot CRDs, created {names:?}");
        }
        Ok(())
    }

    /// A fresh namespace for one test (never deleted: without a
    /// controller-manager namespace deletion would not finish).
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let api: Api<Namespace> = Api::all(self.client().await?);
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.clone());
        api.create(&PostParams::default(), &ns).await?;
        Ok(name)
    }

    /// Writes `status` of a namespaced custom object through the status
    /// subresource, as the operator would.
    pub async fn write_status(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        status: serde_json::Value,
    ) -> anyhow::Result<DynamicObject> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client().await?, namespace, resource);
        let patch = serde_json::json!({"status": status});
        Ok(api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?)
    }

    /// PIDs of etcd, kube-apiserver and the other parts.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.etcd_pid, self.api_pid.load(std::sync::atomic::Ordering::SeqCst)];
        pids.extend(&self.other_pids);
        pids
    }

    fn signal_apiserver(&self, signal: libc::c_int) {
        let pid = self.api_pid.load(std::sync::atomic::Ordering::SeqCst);
        // SAFETY: signals a child process this test bed started.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }

    /// Kills kube-apiserver (etcd keeps running) and waits until its port
    /// refuses connections. Only for a private bed ([`TestBed::start`]).
    pub fn stop_apiserver(&self) {
        self.signal_apiserver(libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.api_port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes kube-apiserver (SIGSTOP): connections are accepted by the
    /// kernel but never answered, like a hung server.
    pub fn pause_apiserver(&self) {
        self.signal_apiserver(libc::SIGSTOP);
    }

    pub fn resume_apiserver(&self) {
        self.signal_apiserver(libc::SIGCONT);
    }

    /// Starts kube-apiserver again on the same port and waits until ready.
    pub async fn start_apiserver(&self) -> anyhow::Result<()> {
        let (bin, args) = &self.api_command;
        let pid = spawn_apiserver(bin, args, &self.dir, self.api_port)?;
        self.api_pid.store(pid, std::sync::atomic::Ordering::SeqCst);
        let client = self.client().await?;
        self.wait_ready(&client, Instant::now() + Duration::from_secs(90)).await
    }

    /// The API server's audit events so far (one JSON object per request
    /// that reached it).
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// A Role with `rules` in `namespace`, bound to `subject` (`User`,
    /// `Group` or `ServiceAccount`, name).
    pub async fn bind_role(
        &self,
        namespace: &str,
        role: &str,
        rules: serde_json::Value,
        subject: (&str, &str),
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        let roles: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &rbac("Role", "roles"));
        let bindings: Api<DynamicObject> =
            Api::namespaced_with(client, namespace, &rbac("RoleBinding", "rolebindings"));
        let role_object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": role}, "rules": rules,
        }))?;
        roles.create(&PostParams::default(), &role_object).await?;
        let (kind, name) = subject;
        let mut subject = serde_json::json!({"kind": kind, "name": name});
        if kind == "ServiceAccount" {
            subject["namespace"] = serde_json::json!(namespace);
        } else {
            subject["apiGroup"] = serde_json::json!("rbac.authorization.k8s.io");
        }
        let binding: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("{role}-binding")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [subject],
        }))?;
        bindings.create(&PostParams::default(), &binding).await?;
        Ok(())
    }

    /// Creates a service account and returns a token for it from the
    /// TokenRequest API.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> anyhow::Result<String> {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        let mut account = ServiceAccount::default();
        account.metadata.name = Some(name.to_string());
        match api.create(&PostParams::default(), &account).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(error.into()),
        }
        let request: TokenRequest = serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        }))?;
        let issued = api.create_token_request(name, &PostParams::default(), &request).await?;
        issued.status.map(|s| s.token).context("TokenRequest without a token")
    }

    /// Logs in as service account `name` of `namespace` (created when
    /// missing): a TokenRequest token written to a file, and a kubeconfig
    /// using it whose context namespace is `namespace`.
    pub async fn service_account_login(&self, namespace: &str, name: &str) -> anyhow::Result<ServiceAccountLogin> {
        let token = self.service_account_token(namespace, name).await?;
        let dir = crate::tempdir::TempDir::new("sa-login");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, &token)?;
        let kubeconfig = self.kubeconfig_with_token_file(&token_file, namespace)?;
        Ok(ServiceAccountLogin {
            kubeconfig,
            token,
            _dir: dir,
        })
    }

    /// A kubeconfig whose user authenticates with the bearer token in
    /// `token_file` (re-read by the client when it changes).
    pub fn kubeconfig_with_token_file(&self, token_file: &Path, namespace: &str) -> anyhow::Result<PathBuf> {
        let ca = std::fs::read_to_string(self.dir.join("ca.crt"))?;
        let path = token_file.with_extension("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: sa\n  user:\n    tokenFile: {}\ncontexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: sa\n    namespace: {namespace}\ncurrent-context: testbed\n",
                self.server,
                b64(&ca),
                token_file.display()
            ),
        )?;
        Ok(path)
    }
}

impl Drop for TestBed {
    /// A private bed stops its processes by PID (the shared one lives in a
    /// static, is never dropped, and is stopped at exit).
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: signals child processes this test bed started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

fn rbac(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "rbac.authorization.k8s.io".into(),
        version: "v1".into(),
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Starts kube-apiserver with `args`, logging into `dir`, and waits for
/// its port.
fn spawn_apiserver(bin: &Path, args: &[String], dir: &Path, port: u16) -> anyhow::Result<u32> {
    let api_log = dir.join("kube-apiserver.log");
    let err_log = api_log.with_extension("err.log");
    let mut api = Command::new(bin);
    api.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::OpenOptions::new().create(true).append(true).open(&api_log)?)
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(&err_log)?);
    let mut api = spawn_kept(api)?;
    wait_for_port(port, &mut api, "kube-apiserver", &err_log, Duration::from_secs(90))?;
    let pid = api.id();
    // Owned by the keeper thread; killed by PID or with the test process.
    std::mem::forget(api);
    Ok(pid)
}

/// A service account's kubeconfig and token; the files live as long as it.
pub struct ServiceAccountLogin {
    pub kubeconfig: PathBuf,
    pub token: String,
    _dir: crate::tempdir::TempDir,
}

/// The `postgresql.cnpg.io/v1` Cluster resource.
pub fn cnpg_cluster() -> ApiResource {
    ApiResource {
        group: "postgresql.cnpg.io".into(),
        version: "v1".into(),
        api_version: "postgresql.cnpg.io/v1".into(),
        kind: "Cluster".into(),
        plural: "clusters".into(),
    }
}
