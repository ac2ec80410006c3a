//! Email through SMTP (`CLAIMFLOW_SMTP_URL`): the one-time codes of sign-up verification and
//! password resets. Without it claimflow sends no email: accounts stay unverified and there is
//! no password reset by email.

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

/// Where mail goes, and from whom.
#[derive(Clone)]
pub struct Smtp {
    /// `CLAIMFLOW_SMTP_URL` as given (shown without its password).
    url: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("url", &redact_password(&self.url)).field("from", &self.from.to_string()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot build the email: {0}")]
    Build(String),
    #[error("the SMTP server refused or could not be reached: {0}")]
    Send(String),
}

impl Smtp {
    /// `url`: `smtp://[user:password@]host[:port]` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://...` (TLS); `from`: a mailbox (`claimflow <no-reply@example.com>`).
    pub fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|err| format!("{:?} is not an SMTP URL: {err}", redact_password(url)))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from.parse::<Mailbox>().map_err(|err| format!("{from:?} is not a mailbox: {err}"))?;
        Ok(Smtp { url: url.to_owned(), transport, from })
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to = to.parse::<Mailbox>().map_err(|err| MailError::Build(err.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|err| MailError::Build(err.to_string()))?;
        self.transport.send(message).await.map(|_| ()).map_err(|err| MailError::Send(err.to_string()))
    }
}

fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::Smtp;

    #[test]
    fn a_bad_url_or_sender_is_named_and_the_password_never_shown() {
        let err = Smtp::new("http://user:hunter2@mail.example", "a <a@example.com>").unwrap_err();
        assert!(err.contains("is not an SMTP URL") && !err.contains("hunter2"), "{err}");
        let err = Smtp::new("smtp://mail.example:2525", "not a mailbox").unwrap_err();
        assert!(err.contains("\"not a mailbox\" is not a mailbox"), "{err}");
        let smtp = Smtp::new("smtp://user:hunter2@mail.example:2525", "claimflow <no-reply@example.com>").unwrap();
        let shown = format!("{smtp:?}");
        assert!(shown.contains("mail.example") && !shown.contains("hunter2"), "{shown}");
    }
}
