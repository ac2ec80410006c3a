//! `workflowSettings`, typed: what a deployed workflow declared. Stored with the deployment and
//! read, typed, by auth-service (what to run, with what failure policy) and by the signer (which
//! tokens the workflow may patch).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{TokenKind, Trigger};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSettings {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub trigger: Trigger,
    #[serde(default)]
    pub bindings: BTreeMap<Binding, BindingOptions>,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
}

impl WorkflowSettings {
    pub fn declares(&self, binding: Binding) -> bool {
        self.bindings.contains_key(&binding)
    }

    /// The token kinds whose binding says `resetClaims: true`: their custom claims start empty.
    pub fn reset_claims(&self) -> Vec<TokenKind> {
        [TokenKind::Access, TokenKind::Id, TokenKind::M2m]
            .into_iter()
            .filter(|kind| self.bindings.get(&kind.binding()).is_some_and(|options| options.reset_claims))
            .collect()
    }
}

/// The bindings a workflow may declare, by Kinde's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Binding {
    #[serde(rename = "kinde.accessToken")]
    AccessToken,
    #[serde(rename = "kinde.idToken")]
    IdToken,
    #[serde(rename = "kinde.m2mToken")]
    M2mToken,
    #[serde(rename = "kinde.fetch")]
    Fetch,
    #[serde(rename = "kinde.secureFetch")]
    SecureFetch,
    #[serde(rename = "kinde.env")]
    Env,
    #[serde(rename = "kinde.auth")]
    Auth,
    #[serde(rename = "kinde.cache")]
    Cache,
    #[serde(rename = "kinde.widget")]
    Widget,
    #[serde(rename = "kinde.localization")]
    Localization,
    #[serde(rename = "kinde.mfa")]
    Mfa,
    #[serde(rename = "kinde.ssoSession")]
    SsoSession,
    #[serde(rename = "console")]
    Console,
    #[serde(rename = "url")]
    Url,
}

impl Binding {
    pub const ALL: [Binding; 14] = [
        Binding::AccessToken,
        Binding::IdToken,
        Binding::M2mToken,
        Binding::Fetch,
        Binding::SecureFetch,
        Binding::Env,
        Binding::Auth,
        Binding::Cache,
        Binding::Widget,
        Binding::Localization,
        Binding::Mfa,
        Binding::SsoSession,
        Binding::Console,
        Binding::Url,
    ];

    /// Kinde's name, as written in `workflowSettings.bindings`.
    pub fn as_str(self) -> &'static str {
        match self {
            Binding::AccessToken => "kinde.accessToken",
            Binding::IdToken => "kinde.idToken",
            Binding::M2mToken => "kinde.m2mToken",
            Binding::Fetch => "kinde.fetch",
            Binding::SecureFetch => "kinde.secureFetch",
            Binding::Env => "kinde.env",
            Binding::Auth => "kinde.auth",
            Binding::Cache => "kinde.cache",
            Binding::Widget => "kinde.widget",
            Binding::Localization => "kinde.localization",
            Binding::Mfa => "kinde.mfa",
            Binding::SsoSession => "kinde.ssoSession",
            Binding::Console => "console",
            Binding::Url => "url",
        }
    }

    pub fn parse(name: &str) -> Option<Binding> {
        Binding::ALL.into_iter().find(|binding| binding.as_str() == name)
    }

    /// Where Kinde offers a binding that `trigger` does not offer: such a binding is `undefined`
    /// at run time, so deploy refuses a call of it with this.
    pub fn not_offered_on(self, trigger: crate::Trigger) -> Option<&'static str> {
        use crate::Trigger::*;
        match self {
            Binding::Mfa if trigger != UserPreMfa => Some("user:pre_mfa"),
            Binding::Widget
                if !matches!(
                    trigger,
                    UserExistingPasswordProvided | UserNewPasswordProvided | UserNewUsernameProvided
                ) =>
            {
                Some("user:existing_password_provided, user:new_password_provided and user:new_username_provided")
            }
            Binding::SsoSession if !matches!(trigger, UserTokensGeneration | UserPostAuthentication) => {
                Some("user:tokens_generation (at sign-in) and user:post_authentication")
            }
            Binding::AccessToken | Binding::IdToken if !trigger.makes_tokens() => {
                Some("user:tokens_generation (the tokens are made after this trigger)")
            }
            Binding::M2mToken if !trigger.makes_tokens() => Some("m2m:token_generation"),
            Binding::Localization => Some("Kinde's custom pages, which claimflow does not have"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingOptions {
    /// For token bindings: `getCustomClaims()` starts empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset_claims: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailurePolicy {
    #[serde(default)]
    pub action: FailureAction,
}

/// What a failed run does to its token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// The request fails with an OAuth error naming the workflow (Kinde's default).
    #[default]
    Stop,
    /// The token is issued without the workflow's claims; the run is recorded as failed.
    Continue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_kinde_writes_them() {
        let settings: WorkflowSettings = serde_json::from_value(serde_json::json!({
            "id": "hello", "name": "Hello", "trigger": "m2m:tokens_generation",
            "failurePolicy": { "action": "continue" },
            "bindings": { "kinde.m2mToken": { "resetClaims": true }, "kinde.fetch": {}, "url": {} },
        }))
        .unwrap();
        assert_eq!(settings.trigger, Trigger::M2mTokenGeneration);
        assert_eq!(settings.failure_policy.action, FailureAction::Continue);
        assert!(settings.declares(Binding::Fetch) && !settings.declares(Binding::Env));
        assert_eq!(settings.reset_claims(), vec![TokenKind::M2m]);
        assert_eq!(serde_json::to_value(&settings).unwrap()["bindings"]["kinde.m2mToken"]["resetClaims"], true);
    }
}
