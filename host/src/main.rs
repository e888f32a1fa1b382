//! The `cnpg-mcp` command: argument parsing and dispatch only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cnpg_mcp::config::{ComponentArgs, LogFormat, ServeArgs};
use cnpg_mcp::{cli, server, telemetry};

/// Every request allocates and frees many small buffers across threads;
/// mimalloc keeps that off the profile (glibc malloc was ~10% of CPU time
/// under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cnpg-mcp",
    version,
    about = "MCP server for CloudNativePG with WebAssembly tool components"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value = "auto")]
    log_format: LogFormat,
    /// Write the audit records (one JSON line per tool call) to this file
    /// instead of the log on stderr.
    #[arg(long, global = true, env = "CNPG_MCP_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Async worker threads (default: half the CPUs, at least one).
    #[arg(long, global = true, env = "CNPG_MCP_WORKER_THREADS")]
    worker_threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over Streamable HTTP (default) or stdio.
    Serve(Box<ServeArgs>),
    /// Print one access token for a remote server (client-credentials
    /// grant, or the cached sign-in of `login`).
    Token(cnpg_mcp::bridge::CredentialArgs),
    /// Sign in to a remote server as yourself (browser or device code) and
    /// keep the tokens for `connect` and `token`.
    Login(cnpg_mcp::signin::LoginArgs),
    /// Revoke and forget the sign-in to a remote server.
    Logout(cnpg_mcp::signin::SignedInArgs),
    /// Show who the cached sign-in to a remote server is: subject, groups,
    /// scopes, expiry.
    Whoami(cnpg_mcp::signin::SignedInArgs),
    /// Forward a local stdio (or loopback HTTP) MCP connection to a remote
    /// server, obtaining and refreshing its access tokens.
    Connect(cnpg_mcp::bridge::ConnectArgs),
    /// Print the Kubernetes RBAC (Role or ClusterRole and its binding) for
    /// the server's service account, generated from the loaded components'
    /// grants.
    Rbac(cli::RbacArgs),
    /// Work with tool components.
    Components {
        #[command(subcommand)]
        command: ComponentsCommand,
    },
}

#[derive(Subcommand)]
enum ComponentsCommand {
    /// List the tools of every component that `serve` would load.
    List(ComponentArgs),
    /// Check a component: contract, imports, schemas, tool names, and
    /// whether the grant covers what it asks for. Exit status 1 on errors.
    Validate(cli::ValidateArgs),
    /// Run one tool of a component without a server, against a cluster or
    /// a fixture of scripted Kubernetes answers.
    Call(cli::CallArgs),
    /// Show one component's world, imports, tools with schemas, and grant.
    Inspect {
        /// A `.wasm` file, or the name of a loaded component (e.g. `cnpg-clusters`).
        file: PathBuf,
        #[command(flatten)]
        components: ComponentArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = telemetry::init(cli.log_format, cli.audit_log.as_deref()) {
        eprintln!("cnpg-mcp: {error:#}");
        return ExitCode::FAILURE;
    }
    // Half the CPUs by default: measured on 2 cores under load, one worker
    // kept tools/call p99 at 1.5 ms where two workers (tasks migrating
    // between threads) gave 2.5 ms for about the same throughput; the other
    // half is left to the kernel's network stack, the epoch ticker and
    // compilation threads.
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let workers = cli.worker_threads.unwrap_or(cpus / 2).max(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cnpg-mcp: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => server::serve(*args).await,
            Command::Token(args) => cnpg_mcp::bridge::print_token(&args).await,
            Command::Connect(args) => cnpg_mcp::bridge::connect(&args).await,
            Command::Login(args) => cnpg_mcp::signin::login(&args).await,
            Command::Logout(args) => cnpg_mcp::signin::logout(&args).await,
            Command::Whoami(args) => {
                println!("{}", cnpg_mcp::signin::whoami(&args)?);
                Ok(())
            }
            Command::Rbac(args) => {
                print!("{}", cli::rbac(&args)?);
                Ok(())
            }
            Command::Components {
                command: ComponentsCommand::List(args),
            } => {
                let text = cli::list(&args).await?;
                print!("{text}");
                Ok(())
            }
            Command::Components {
                command: ComponentsCommand::Validate(args),
            } => {
                let (report, ok) = cli::validate(&args).await?;
                print!("{report}");
                if !ok {
                    anyhow::bail!("{} is not valid", args.file.display());
                }
                Ok(())
            }
            Command::Components {
                command: ComponentsCommand::Call(args),
            } => {
                let (report, ok) = cli::call(&args).await?;
                println!("{report}");
                if !ok {
                    anyhow::bail!("the call did not complete as scripted");
                }
                Ok(())
            }
            Command::Components {
                command: ComponentsCommand::Inspect { file, components },
            } => {
                let text = cli::inspect(&components, &file).await?;
                println!("{text}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cnpg-mcp: {error:#}");
            ExitCode::FAILURE
        }
    }
}
