//! The closed label values of the decision and reload metrics.

/// Why an allow happened (the `reason` label of an allow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowReason {
    /// A valid token satisfied the rule.
    Ok = 0,
    /// A public rule.
    Public = 1,
    /// A shadow-mode rule would have denied.
    Shadow = 2,
}

impl AllowReason {
    /// The label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Public => "public",
            Self::Shadow => "shadow",
        }
    }
}

/// Why a Check failed without a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReason {
    /// No key is loaded.
    Unavailable = 0,
    /// Too many Checks in flight.
    Overloaded = 1,
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    /// A new snapshot was published.
    Success,
    /// The candidate was invalid; the previous state stays.
    Failure,
    /// Nothing changed.
    Unchanged,
}

/// What was reloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadKind {
    /// The key ring.
    Keys,
    /// The config file.
    Config,
}

impl ReloadKind {
    /// The label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Config => "config",
        }
    }
}
