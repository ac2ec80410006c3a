//! Clients that hold connections without finishing their request (slowloris, a short body) are
//! cut off by auth-service's timeouts, and the number of open connections is bounded.

use std::time::{Duration, Instant};

use claimflow_e2e::{Stack, StackOptions};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn limits() -> auth_service::HttpLimits {
    auth_service::HttpLimits {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        max_connections: 16,
    }
}

fn address(stack: &Stack) -> String {
    stack.issuer.trim_start_matches("http://").to_owned()
}

/// Everything the server sends until it closes the connection, and how long that took.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection was still open after {limit:?}");
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn half_sent_headers_and_short_bodies_are_cut_off() {
    let stack = Stack::start_with(StackOptions { http_limits: limits(), ..StackOptions::default() }).await;
    let addr = address(&stack);

    let mut slowloris = Vec::new();
    for _ in 0..10 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slowloris.push(stream);
    }
    for stream in &mut slowloris {
        let (_, waited) = until_closed(stream, Duration::from_secs(5)).await;
        assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
    }

    let mut short = TcpStream::connect(&addr).await.unwrap();
    short
        .write_all(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type")
        .await
        .unwrap();
    let (answer, waited) = until_closed(&mut short, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");

    // Meanwhile and after, others are served.
    let discovery = stack.http.get(stack.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(discovery.status(), 200);
}

#[tokio::test]
async fn open_connections_are_bounded_and_served_again_once_freed() {
    let limits = auth_service::HttpLimits { header_timeout: Duration::from_secs(30), ..limits() };
    let stack = Stack::start_with(StackOptions { http_limits: limits, ..StackOptions::default() }).await;
    let addr = address(&stack);
    let fresh =
        || reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(1)).build().unwrap();

    let mut held = Vec::new();
    for _ in 0..limits.max_connections + 2 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = fresh().get(stack.url("/healthz")).send().await;
    assert!(refused.is_err(), "a connection beyond the bound was served: {refused:?}");

    held.clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = fresh().get(stack.url("/healthz")).send().await.expect("served once connections are freed");
    assert_eq!(served.status(), 200);
}
