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
}

impl Trigger {
    pub const ALL: [Trigger; 2] = [Trigger::M2mTokenGeneration, Trigger::UserTokensGeneration];

    /// The canonical name, as stored and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::M2mTokenGeneration => "m2m:token_generation",
            Trigger::UserTokensGeneration => "user:tokens_generation",
        }
    }

    /// Parses a trigger name as written in `workflowSettings.trigger`. Both spellings of the
    /// M2M trigger seen in Kinde material are accepted.
    pub fn parse(name: &str) -> Option<Trigger> {
        match name {
            "m2m:token_generation" | "m2m:tokens_generation" => Some(Trigger::M2mTokenGeneration),
            "user:tokens_generation" => Some(Trigger::UserTokensGeneration),
            _ => None,
        }
    }

    /// The last token of the NATS subject for this trigger (subjects may not contain `:`
    /// portably across tools, and `.` separates tokens).
    pub fn subject_token(self) -> &'static str {
        match self {
            Trigger::M2mTokenGeneration => "m2m_token_generation",
            Trigger::UserTokensGeneration => "user_tokens_generation",
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
