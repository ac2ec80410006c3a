//! Multi-factor authentication: the policy an environment or an organization sets, and what a
//! `user:pre_mfa` workflow may make of it for one sign-in.

use serde::{Deserialize, Serialize};

/// Whether a second factor is asked for at sign-in (Kinde's `MFAPolicy`). Stored as the
/// environment's setting and, where one is set, an organization's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// No second factor.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "off"))]
    Off,
    /// Asked of users who enrolled one; the others are offered to enrol and may skip.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "optional"))]
    Optional,
    /// Every user: those without a factor enrol before they finish signing in.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "required"))]
    Required,
}

impl MfaPolicy {
    pub fn parse(name: &str) -> Option<MfaPolicy> {
        match name {
            "off" => Some(MfaPolicy::Off),
            "optional" => Some(MfaPolicy::Optional),
            "required" => Some(MfaPolicy::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }
}

/// `kinde.mfa.setEnforcementPolicy(policy)`: what this sign-in does, whatever the policy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaEnforcement {
    /// A second factor is asked for (a user without one enrols).
    Required,
    /// As under the `optional` policy.
    Optional,
    /// No second factor this time.
    Skip,
}

impl MfaEnforcement {
    pub fn parse(name: &str) -> Option<MfaEnforcement> {
        match name {
            "required" => Some(MfaEnforcement::Required),
            "optional" => Some(MfaEnforcement::Optional),
            "skip" => Some(MfaEnforcement::Skip),
            _ => None,
        }
    }

    /// What a policy means when no workflow says otherwise.
    pub fn of(policy: MfaPolicy) -> MfaEnforcement {
        match policy {
            MfaPolicy::Off => MfaEnforcement::Skip,
            MfaPolicy::Optional => MfaEnforcement::Optional,
            MfaPolicy::Required => MfaEnforcement::Required,
        }
    }
}

/// The factor claimflow offers, in Kinde's spelling (`enabled_factors`).
pub const AUTHENTICATOR_APP: &str = "mfa:authenticator_app";
