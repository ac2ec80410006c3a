//! Workflow triggers, spelled as Kinde spells them.

use serde::{Deserialize, Serialize};

/// The event that makes a workflow run. One live workflow per trigger, as in Kinde.
/// Also the `trigger` column of deployments, runs and the live workflow per trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "Text"))]
pub enum Trigger {
    /// An M2M (client_credentials) access token is being generated.
    #[serde(rename = "m2m:token_generation", alias = "m2m:tokens_generation")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "m2m:token_generation"))]
    M2mTokenGeneration,
    /// A user's access and ID tokens are being generated.
    #[serde(rename = "user:tokens_generation")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:tokens_generation"))]
    UserTokensGeneration,
    /// A user has signed in with a password; the session and the code are not made yet.
    #[serde(rename = "user:post_authentication")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:post_authentication"))]
    UserPostAuthentication,
    /// A user has submitted a password at sign-in (whether claimflow knows the email or not);
    /// it is not checked yet.
    #[serde(rename = "user:existing_password_provided")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:existing_password_provided"))]
    UserExistingPasswordProvided,
    /// Someone has filled in the sign-up form; no user record exists yet.
    #[serde(rename = "user:pre_registration")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:pre_registration"))]
    UserPreRegistration,
    /// A new password was chosen (at sign-up; at a reset), before it is stored.
    #[serde(rename = "user:new_password_provided")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:new_password_provided"))]
    UserNewPasswordProvided,
    /// Someone has chosen a username on the sign-up form, before anything is stored.
    #[serde(rename = "user:new_username_provided")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:new_username_provided"))]
    UserNewUsernameProvided,
    /// The first factor is done and the organization chosen; the second factor is not asked yet.
    #[serde(rename = "user:pre_mfa")]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "user:pre_mfa"))]
    UserPreMfa,
}

impl Trigger {
    pub const ALL: [Trigger; 8] = [
        Trigger::M2mTokenGeneration,
        Trigger::UserTokensGeneration,
        Trigger::UserPostAuthentication,
        Trigger::UserExistingPasswordProvided,
        Trigger::UserPreRegistration,
        Trigger::UserNewPasswordProvided,
        Trigger::UserNewUsernameProvided,
        Trigger::UserPreMfa,
    ];

    /// The canonical name, as stored and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::M2mTokenGeneration => "m2m:token_generation",
            Trigger::UserTokensGeneration => "user:tokens_generation",
            Trigger::UserPostAuthentication => "user:post_authentication",
            Trigger::UserExistingPasswordProvided => "user:existing_password_provided",
            Trigger::UserPreRegistration => "user:pre_registration",
            Trigger::UserNewPasswordProvided => "user:new_password_provided",
            Trigger::UserNewUsernameProvided => "user:new_username_provided",
            Trigger::UserPreMfa => "user:pre_mfa",
        }
    }

    /// Why claimflow refuses a trigger Kinde has (deploy says so), or `None` for a name Kinde
    /// does not have either.
    pub fn refused(name: &str) -> Option<&'static str> {
        match name {
            "user:plan_selection" | "user:plan_cancellation_request" => {
                Some("claimflow has no billing: no plan is ever selected or cancelled, so it would never run")
            }
            _ => None,
        }
    }

    /// Whether the trigger's workflow shapes tokens (claim patches), rather than a sign-in.
    pub fn makes_tokens(self) -> bool {
        matches!(self, Trigger::M2mTokenGeneration | Trigger::UserTokensGeneration)
    }

    /// Parses a trigger name as written in `workflowSettings.trigger`. Both spellings of the
    /// M2M trigger seen in Kinde material are accepted.
    pub fn parse(name: &str) -> Option<Trigger> {
        match name {
            "m2m:token_generation" | "m2m:tokens_generation" => Some(Trigger::M2mTokenGeneration),
            "user:tokens_generation" => Some(Trigger::UserTokensGeneration),
            "user:post_authentication" => Some(Trigger::UserPostAuthentication),
            "user:existing_password_provided" => Some(Trigger::UserExistingPasswordProvided),
            "user:pre_registration" => Some(Trigger::UserPreRegistration),
            "user:new_password_provided" => Some(Trigger::UserNewPasswordProvided),
            "user:new_username_provided" => Some(Trigger::UserNewUsernameProvided),
            "user:pre_mfa" => Some(Trigger::UserPreMfa),
            _ => None,
        }
    }

    /// The last token of the NATS subject for this trigger (subjects may not contain `:`
    /// portably across tools, and `.` separates tokens).
    pub fn subject_token(self) -> &'static str {
        match self {
            Trigger::M2mTokenGeneration => "m2m_token_generation",
            Trigger::UserTokensGeneration => "user_tokens_generation",
            Trigger::UserPostAuthentication => "user_post_authentication",
            Trigger::UserExistingPasswordProvided => "user_existing_password_provided",
            Trigger::UserPreRegistration => "user_pre_registration",
            Trigger::UserNewPasswordProvided => "user_new_password_provided",
            Trigger::UserNewUsernameProvided => "user_new_username_provided",
            Trigger::UserPreMfa => "user_pre_mfa",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_m2m_spellings_parse_to_the_same_trigger() {
        assert_eq!(Trigger::parse("m2m:token_generation"), Some(Trigger::M2mTokenGeneration));
        assert_eq!(Trigger::parse("m2m:tokens_generation"), Some(Trigger::M2mTokenGeneration));
        let t: Trigger = serde_json::from_str("\"m2m:tokens_generation\"").unwrap();
        assert_eq!(t.as_str(), "m2m:token_generation");
    }

    #[test]
    fn unknown_trigger_is_rejected() {
        assert_eq!(Trigger::parse("user:token_generation_x"), None);
    }
}
