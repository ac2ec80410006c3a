//! The sign-in service's pages: askama templates (`templates/`), escaped by construction, sent
//! with headers that keep them out of caches and frames and allow no script.

use askama::Template;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub app_name: &'a str,
    /// The first letter of the application's name, for its mark.
    pub app_initial: String,
    /// The authorization request's query, carried through the form.
    pub request: &'a str,
    pub csrf: &'a str,
    /// Prefills the email field.
    pub email: &'a str,
    /// The field takes a username too (`CLAIMFLOW_USERNAMES`).
    pub usernames: bool,
    /// Shown next to the fields it is about.
    pub error: Option<&'a str>,
    /// The authorization request with `prompt=create`, when the application allows sign-up.
    pub sign_up_query: Option<String>,
    /// Whether claimflow can send a password reset code (SMTP is set up).
    pub can_reset: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignUpPage<'a> {
    pub app_name: &'a str,
    pub app_initial: String,
    pub request: &'a str,
    pub csrf: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub email: &'a str,
    /// The username field, when sign-up asks for one (`CLAIMFLOW_USERNAMES`), with its value.
    pub username: Option<&'a str>,
    pub username_required: bool,
    /// About the form as a whole (the email is taken, a workflow refused the sign-up).
    pub error: Option<&'a str>,
    /// About the username field.
    pub username_error: Option<&'a str>,
    /// About the password fields.
    pub password_error: Option<&'a str>,
    /// The authorization request without `prompt=create`: back to signing in.
    pub sign_in_query: String,
}

impl FormPage for SignUpPage<'_> {}

/// The page a one-time code from an email is typed into (with a new password, for a reset).
#[derive(Template)]
#[template(path = "code.html")]
pub struct CodePage<'a> {
    pub app_name: &'a str,
    pub app_initial: String,
    pub heading: &'a str,
    pub email: &'a str,
    pub action: &'a str,
    pub button: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub ticket: &'a str,
    pub new_password: bool,
    pub error: Option<&'a str>,
}

/// The second factor: enrolment (a QR code and the key), a code, or the recovery codes.
#[derive(Template)]
#[template(path = "mfa.html")]
pub struct MfaPage<'a> {
    pub app_name: &'a str,
    pub app_initial: String,
    pub request: &'a str,
    pub csrf: &'a str,
    pub ticket: &'a str,
    /// `enrol`, `challenge` or `recovery`.
    pub mode: &'a str,
    /// An `<svg>` element made by the `qrcode` crate from the otpauth URI (no text of ours in it).
    pub qr_svg: &'a str,
    /// Base32, for typing into an app by hand.
    pub secret: &'a str,
    /// The same as a link, for an app on the device showing the page.
    pub otpauth_uri: &'a str,
    /// Enrolment may be skipped.
    pub optional: bool,
    pub recovery_codes: &'a [String],
    pub error: Option<&'a str>,
}

impl FormPage for MfaPage<'_> {}

/// "Forgot your password?": the email to send a reset code to.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub app_name: &'a str,
    pub app_initial: String,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
}

impl FormPage for CodePage<'_> {}

impl ForgotPage<'_> {
    pub fn respond(&self, status: StatusCode) -> Response {
        respond(status, self.render())
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page whose form, once sent, may end at the client's redirect URI (a sign-in that succeeds).
pub trait FormPage: Template {
    /// `redirect_uri` is the client's validated redirect URI: a successful sign-in redirects
    /// there, and browsers hold a form's redirects to the page's `form-action` as well.
    fn respond(&self, status: StatusCode, redirect_uri: &str) -> Response {
        with_form_action(respond(status, self.render()), redirect_uri)
    }
}

impl FormPage for LoginPage<'_> {}

/// Lets the page's form redirect to the client's `redirect_uri` (and nowhere else).
fn with_form_action(mut response: Response, redirect_uri: &str) -> Response {
    if let Some(policy) = form_action_source(redirect_uri)
        .map(|source| PAGE_POLICY.replace("form-action 'self'", &format!("form-action 'self' {source}")))
        .and_then(|policy| HeaderValue::from_str(&policy).ok())
    {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The CSP source that admits `uri`: its origin for http(s), its scheme for a native app's
/// custom scheme (`com.example.app:/callback`).
fn form_action_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let origin = url.origin();
    let source = if origin.is_tuple() { origin.ascii_serialization() } else { format!("{}:", url.scheme()) };
    // Only characters a CSP source list can hold: nothing that ends or adds a directive.
    source.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:/[]".contains(c)).then_some(source)
}

/// A page that tells the person why sign-in (or sign-out) cannot go on.
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    respond(status, MessagePage { title, message }.render())
}

pub fn initial(name: &str) -> String {
    name.chars().find(|c| c.is_alphanumeric()).map(|c| c.to_uppercase().collect()).unwrap_or_else(|| "?".to_owned())
}

fn respond(status: StatusCode, rendered: askama::Result<String>) -> Response {
    let html = match rendered {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(%err, "a page template failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn page_text_is_escaped() {
        let page = LoginPage {
            app_name: "<script>alert(1)</script>",
            app_initial: initial("<script>"),
            request: "a=1&b=\"2\"",
            csrf: "token",
            email: "x\"@example.com",
            usernames: false,
            error: Some("<b>bad</b>"),
            sign_up_query: None,
            can_reset: false,
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert") && !html.contains("<b>bad"), "{html}");
        assert!(html.contains("&#60;script&#62;") && html.contains("a=1&#38;b=&#34;2&#34;"), "{html}");
        assert_eq!(initial("  web shop"), "W");
    }

    #[test]
    fn the_form_may_redirect_to_the_client_and_nowhere_else() {
        assert_eq!(
            form_action_source("https://shop.example:8443/cb?x=1").as_deref(),
            Some("https://shop.example:8443")
        );
        assert_eq!(form_action_source("com.example.app:/callback").as_deref(), Some("com.example.app:"));
        assert_eq!(form_action_source("not a url"), None);
    }
}
