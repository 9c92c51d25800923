//! The policy table: the single source of truth for which role may perform which operation.
//!
//! Every API operation names exactly one [`Operation`]; its `operation_id` in the OpenAPI document
//! is the operation's name, and a test fails if the document holds an operation this table does
//! not know. Whatever a row allows, it allows only inside the account's area scope.

use super::Role;
use serde::Serialize;

/// Everything the API and the pages can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Exchange a password for a session or token. Open to anyone, throttled.
    Login,
    /// End one's own session.
    Logout,
    /// Read one's own account.
    Me,
    /// Read the area tree.
    AreasRead,
    /// Create, rename and merge grids and households.
    AreasManage,
    /// List residents of an area (masked).
    PersonsList,
    /// Read one resident's record (masked).
    PersonsRead,
    /// Register a resident.
    PersonsCreate,
    /// Change a resident's record.
    PersonsUpdate,
    /// Show a resident's full ID number and phone, with a reason.
    PersonsReveal,
    /// Import a resident register from CSV or XLSX.
    ResidentsImport,
    /// List accounts.
    UsersList,
    /// Create, change and disable accounts.
    UsersManage,
    /// Read the audit log.
    AuditRead,
    /// Open a testing round over areas, with its pool sizes.
    RoundsManage,
    /// Read rounds, their live progress and coverage (figures only).
    RoundsRead,
    /// Set up sampling sites and their lanes; count the queue.
    SitesManage,
    /// Read sites, lanes and their throughput.
    SitesRead,
    /// Register a swab into a tube at a lane (scan-to-register, home sampling).
    RegistrationsCreate,
    /// Seal a tube by hand; pack sealed tubes into boxes and hand them over.
    TubesSeal,
    /// Submit tube results (JSON or a lab file).
    LabResultsSubmit,
    /// List residents of an area not yet sampled in a round (the door-knock list).
    UntestedList,
    /// List abnormal pools with their members, addresses and grids.
    AbnormalPoolsRead,
    /// Record a door-knock outcome for a resident.
    DoorKnockRecord,
    /// Read the home-sampling route lists.
    HomeSamplingRead,
    /// Print personal QR sheets and tube labels.
    PrintablesRead,
    /// Read the review queue (flagged registrations, unknown or conflicting results).
    ReviewRead,
    /// Read plan templates and export them as files.
    PlansRead,
    /// Edit and import plan templates (each save is a new version).
    PlansManage,
    /// Activate a plan: open an incident, its groups and tasks, notify its people.
    IncidentsActivate,
    /// Read incidents: the roll-call board, tasks, timeline and the dashboard.
    IncidentsRead,
    /// Answer a roll-call (received, on my way, arrived) for oneself or, for a lead, for a member.
    RollCallAnswer,
    /// Change a task's status, owner or notes.
    TasksUpdate,
    /// Write an entry into an incident's timeline.
    TimelineWrite,
    /// Generate the daily report and export lists.
    ReportsRead,
    /// Read the notification outbox and its delivery status.
    NotificationsRead,
    /// Set up posts and shifts and assign people to them.
    RostersManage,
    /// Read posts, shifts and rosters.
    RostersRead,
    /// Check in and out of one's post.
    PostsCheckIn,
}

use Operation::*;
use Role::*;

/// Role × operation. Absent roles are denied. Admin manages accounts and the tree but reads no
/// resident records; the auditor reads the log and nothing else (separation of duties,
/// GB/T 35273 §7.1).
pub const POLICY: &[(Operation, &[Role])] = &[
    (Login, &Role::ALL),
    (Logout, &Role::ALL),
    (Me, &Role::ALL),
    (AreasRead, &[Admin, Commander, WorkingGroup, GridWorker, Sampler, Checkpoint, TransferDispatcher, Auditor]),
    (AreasManage, &[Admin, Commander, WorkingGroup]),
    (PersonsList, &[Commander, WorkingGroup, GridWorker, TransferDispatcher]),
    (PersonsRead, &[Commander, WorkingGroup, GridWorker, Sampler, TransferDispatcher]),
    (PersonsCreate, &[Commander, WorkingGroup, GridWorker, Sampler, Checkpoint]),
    (PersonsUpdate, &[Commander, WorkingGroup, GridWorker]),
    (PersonsReveal, &[Commander, WorkingGroup, GridWorker, TransferDispatcher]),
    (ResidentsImport, &[Admin, Commander, WorkingGroup]),
    (UsersList, &[Admin, Auditor]),
    (UsersManage, &[Admin]),
    (AuditRead, &[Auditor]),
    (RoundsManage, &[Commander, WorkingGroup]),
    (RoundsRead, &[Commander, WorkingGroup, GridWorker, Sampler, Lab]),
    (SitesManage, &[Commander, WorkingGroup, Sampler]),
    (SitesRead, &[Commander, WorkingGroup, GridWorker, Sampler, Checkpoint, Lab]),
    (RegistrationsCreate, &[Commander, WorkingGroup, Sampler]),
    (TubesSeal, &[Commander, WorkingGroup, Sampler, Lab]),
    (LabResultsSubmit, &[Lab]),
    (UntestedList, &[Commander, WorkingGroup, GridWorker]),
    (AbnormalPoolsRead, &[Commander, WorkingGroup, GridWorker]),
    (DoorKnockRecord, &[Commander, WorkingGroup, GridWorker]),
    (HomeSamplingRead, &[Commander, WorkingGroup, GridWorker, Sampler]),
    (PrintablesRead, &[Commander, WorkingGroup, GridWorker]),
    (ReviewRead, &[Commander, WorkingGroup, Lab]),
    (PlansRead, &[Commander, WorkingGroup]),
    (PlansManage, &[Commander]),
    (IncidentsActivate, &[Commander]),
    (IncidentsRead, &[Commander, WorkingGroup]),
    (RollCallAnswer, &[Commander, WorkingGroup, GridWorker, Sampler, Checkpoint, Lab, TransferDispatcher]),
    (TasksUpdate, &[Commander, WorkingGroup]),
    (TimelineWrite, &[Commander, WorkingGroup]),
    (ReportsRead, &[Commander, WorkingGroup]),
    (NotificationsRead, &[Commander, WorkingGroup]),
    (RostersManage, &[Commander, WorkingGroup]),
    (RostersRead, &[Commander, WorkingGroup, GridWorker, Sampler, Checkpoint]),
    (PostsCheckIn, &[Commander, WorkingGroup, GridWorker, Sampler, Checkpoint, Lab, TransferDispatcher]),
];

impl Operation {
    pub const ALL: [Operation; 39] = [
        Login,
        Logout,
        Me,
        AreasRead,
        AreasManage,
        PersonsList,
        PersonsRead,
        PersonsCreate,
        PersonsUpdate,
        PersonsReveal,
        ResidentsImport,
        UsersList,
        UsersManage,
        AuditRead,
        RoundsManage,
        RoundsRead,
        SitesManage,
        SitesRead,
        RegistrationsCreate,
        TubesSeal,
        LabResultsSubmit,
        UntestedList,
        AbnormalPoolsRead,
        DoorKnockRecord,
        HomeSamplingRead,
        PrintablesRead,
        ReviewRead,
        PlansRead,
        PlansManage,
        IncidentsActivate,
        IncidentsRead,
        RollCallAnswer,
        TasksUpdate,
        TimelineWrite,
        ReportsRead,
        NotificationsRead,
        RostersManage,
        RostersRead,
        PostsCheckIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Login => "login",
            Logout => "logout",
            Me => "me",
            AreasRead => "areas_read",
            AreasManage => "areas_manage",
            PersonsList => "persons_list",
            PersonsRead => "persons_read",
            PersonsCreate => "persons_create",
            PersonsUpdate => "persons_update",
            PersonsReveal => "persons_reveal",
            ResidentsImport => "residents_import",
            UsersList => "users_list",
            UsersManage => "users_manage",
            AuditRead => "audit_read",
            RoundsManage => "rounds_manage",
            RoundsRead => "rounds_read",
            SitesManage => "sites_manage",
            SitesRead => "sites_read",
            RegistrationsCreate => "registrations_create",
            TubesSeal => "tubes_seal",
            LabResultsSubmit => "lab_results_submit",
            UntestedList => "untested_list",
            AbnormalPoolsRead => "abnormal_pools_read",
            DoorKnockRecord => "door_knock_record",
            HomeSamplingRead => "home_sampling_read",
            PrintablesRead => "printables_read",
            ReviewRead => "review_read",
            PlansRead => "plans_read",
            PlansManage => "plans_manage",
            IncidentsActivate => "incidents_activate",
            IncidentsRead => "incidents_read",
            RollCallAnswer => "roll_call_answer",
            TasksUpdate => "tasks_update",
            TimelineWrite => "timeline_write",
            ReportsRead => "reports_read",
            NotificationsRead => "notifications_read",
            RostersManage => "rosters_manage",
            RostersRead => "rosters_read",
            PostsCheckIn => "posts_check_in",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Operations open without a session.
    pub fn is_public(self) -> bool {
        self == Login
    }
}

/// Whether `role` may perform `op` (inside its scope).
pub fn allows(role: Role, op: Operation) -> bool {
    POLICY.iter().any(|(o, roles)| *o == op && roles.contains(&role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_exactly_one_row() {
        for op in Operation::ALL {
            let rows = POLICY.iter().filter(|(o, _)| *o == op).count();
            assert_eq!(rows, 1, "{op:?} has {rows} policy rows");
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(POLICY.len(), Operation::ALL.len());
    }

    #[test]
    fn separation_of_duties() {
        assert!(!allows(Role::Admin, PersonsRead));
        assert!(!allows(Role::Auditor, PersonsList));
        assert!(allows(Role::Auditor, AuditRead));
        assert!(!allows(Role::Commander, AuditRead));
        assert!(!allows(Role::Lab, PersonsList));
    }
}
