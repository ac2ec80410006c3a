//! A mail sink for tests: an SMTP server on a loopback port that speaks enough of the protocol
//! for a real client (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps every message.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message as received: the recipients and the whole DATA (headers and body).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The first run of `digits` digits in the body (a one-time code).
    pub fn code(&self, digits: usize) -> Option<String> {
        let body = self.data.split_once("\r\n\r\n").map_or(self.data.as_str(), |(_, body)| body);
        body.as_bytes()
            .windows(digits)
            .enumerate()
            .find(|(i, window)| {
                window.iter().all(u8::is_ascii_digit)
                    && !body.as_bytes().get(i + digits).is_some_and(u8::is_ascii_digit)
                    && (*i == 0 || !body.as_bytes()[i - 1].is_ascii_digit())
            })
            .map(|(_, window)| String::from_utf8_lossy(window).into_owned())
    }
}

pub struct MailSink {
    /// `smtp://127.0.0.1:<port>`: what `CLAIMFLOW_SMTP_URL` gets.
    pub url: String,
    messages: Arc<Mutex<Vec<Mail>>>,
}

impl MailSink {
    pub async fn start() -> MailSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the mail sink");
        let url = format!("smtp://{}", listener.local_addr().expect("local addr"));
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(converse(stream, kept.clone()));
            }
        });
        MailSink { url, messages }
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for the `n`th message (1-based) to `to`.
    pub async fn nth_to(&self, to: &str, n: usize) -> Mail {
        for _ in 0..1000 {
            let found: Vec<Mail> =
                self.messages().into_iter().filter(|mail| mail.to.iter().any(|r| r.contains(to))).collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no message {n} to {to} within 10 s (received: {:?})", self.messages());
    }
}

async fn converse(stream: tokio::net::TcpStream, messages: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO") || command.starts_with("MAIL") || command.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if command.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT") {
            to.push(line.trim_end()[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            messages.lock().unwrap().push(Mail { to: std::mem::take(&mut to), data });
            b"250 queued\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
