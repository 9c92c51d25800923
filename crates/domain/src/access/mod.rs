//! Who may do what, where: roles, the policy table, area scopes, sessions and login throttling.

mod account;
mod policy;
mod scope;
mod session;
mod throttle;

pub use account::{Account, AccountError, NewAccount, Role, UserId, Username, check_password_strength};
pub use policy::{Operation, POLICY, allows};
pub use scope::Scope;
pub use session::{SessionKind, SessionTimes};
pub use throttle::{LoginThrottle, ThrottleSettings};
