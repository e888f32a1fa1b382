//! Built-in component `cnpg-backups`: Backups, ScheduledBackups, the
//! backup configuration of a cluster, its recovery window, and new
//! clusters restored from a backup, volume snapshots or an object store.

pub mod args;
mod backups;
mod config;
mod model;
mod prompts;
mod recovery;
mod schedules;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Backups;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "create_backup",
        title: "Back up a cluster",
        description: "Creates a Backup of a cluster, like `kubectl cnpg backup`: method `plugin` (barman-cloud), \
                      `volumeSnapshot` or the deprecated `barmanObjectStore`; by default the method the cluster has \
                      configured. Refuses a method the cluster is not configured for. `wait` follows it to the end.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateBackup>,
        output_schema: None,
        run: backups::create_backup,
    },
    Tool {
        name: "list_backups",
        title: "List backups",
        description: "Backups of a cluster or a namespace, newest first: phase, method, where it ran, start and stop \
                      time, WAL range and errors.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListBackups>,
        output_schema: Some(schema_of::<model::BackupList>),
        run: backups::list_backups,
    },
    Tool {
        name: "get_backup_status",
        title: "Backup status",
        description: "One backup: phase and error, begin/end WAL and LSN, backup id, snapshots, the instance it ran \
                      on, timings, and what to do next.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetBackup>,
        output_schema: Some(schema_of::<model::BackupInfo>),
        run: backups::get_backup,
    },
    Tool {
        name: "wait_for_backup",
        title: "Wait for a backup",
        description: "Follows a backup (watch) until it completes or fails, with progress notifications; ends at \
                      `timeout` or when the client cancels.",
        effect: Effect::Read,
        input_schema: schema_of::<args::WaitBackup>,
        output_schema: Some(schema_of::<model::BackupInfo>),
        run: backups::wait_backup,
    },
    Tool {
        name: "delete_backup",
        title: "Delete a backup object",
        description: "Deletes a Backup object. Needs `confirm_deletion: true`. Deleting the object does not delete \
                      the data in the object store (retention does), and its volume snapshots only when they are \
                      owned by the backup: the answer says which.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteBackup>,
        output_schema: None,
        run: backups::delete_backup,
    },
    Tool {
        name: "create_scheduled_backup",
        title: "Schedule backups",
        description: "Creates a ScheduledBackup. The schedule has six fields with seconds first (`0 0 2 * * *`) or \
                      is a descriptor (`@daily`); it is checked before the call and the answer lists the next three \
                      runs in UTC.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateScheduledBackup>,
        output_schema: None,
        run: schedules::create_schedule,
    },
    Tool {
        name: "list_scheduled_backups",
        title: "List scheduled backups",
        description: "ScheduledBackups of a cluster or a namespace: schedule, suspended or not, last and next run, \
                      method, the Backups it created.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListScheduledBackups>,
        output_schema: Some(schema_of::<model::ScheduleList>),
        run: schedules::list_schedules,
    },
    Tool {
        name: "update_scheduled_backup",
        title: "Change a backup schedule",
        description: "Suspends or resumes a ScheduledBackup, or changes its schedule (checked, next runs shown) or \
                      the owner of its future Backups (merge patch).",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::UpdateScheduledBackup>,
        output_schema: None,
        run: schedules::update_schedule,
    },
    Tool {
        name: "delete_scheduled_backup",
        title: "Delete a backup schedule",
        description: "Deletes a ScheduledBackup. Needs `confirm_deletion: true`. Its Backups stay unless it owns them \
                      (`backupOwnerReference: self`): the answer says which.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteScheduledBackup>,
        output_schema: None,
        run: schedules::delete_schedule,
    },
    Tool {
        name: "get_backup_configuration",
        title: "Backup configuration",
        description: "How a cluster is backed up: volume snapshot settings, the barman-cloud plugin and other \
                      plugins, the deprecated in-tree object store, retention, target, the continuous archiving \
                      condition and the last archived WAL, and which backup methods it can use.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetCluster>,
        output_schema: Some(schema_of::<model::BackupConfiguration>),
        run: config::get_configuration,
    },
    Tool {
        name: "configure_cluster_backup",
        title: "Configure cluster backups",
        description: "Sets a cluster's backup configuration: volume snapshots, the barman-cloud plugin (WAL \
                      archiver), retention, target, and the deprecated in-tree object store. Shows the spec before \
                      and after; `dry_run` goes through the operator's webhook.",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::ConfigureBackup>,
        output_schema: None,
        run: config::configure,
    },
    Tool {
        name: "get_recovery_window",
        title: "Recovery window",
        description: "What a cluster can be restored to: first recoverability point overall and per method, last \
                      successful and last failed backup, completed backups, and whether WAL archiving works (which \
                      decides how far forward a point-in-time recovery can go).",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetCluster>,
        output_schema: Some(schema_of::<model::RecoveryWindow>),
        run: recovery::recovery_window,
    },
    Tool {
        name: "restore_postgres_cluster",
        title: "Restore into a new cluster",
        description: "Creates a NEW cluster bootstrapped by recovery from a Backup, from volume snapshots, or from an \
                      object store through the barman-cloud plugin, optionally to a point in time. Never touches the \
                      source; refuses an existing name and a target outside the window it can read. `dry_run` shows \
                      the complete manifest.",
        effect: Effect::Write,
        input_schema: schema_of::<args::RestoreCluster>,
        output_schema: None,
        run: recovery::restore,
    },
];

impl Guest for Backups {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Backups with_types_in cnpg_mcp_sdk::bindings);
