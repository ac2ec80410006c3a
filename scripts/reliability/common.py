"""What every part of the reliability suite shares: the constants, one HTTP call, progress."""

import http.client
import json
import os
import re
import socket
import time
import urllib.parse


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AUDIENCE = "https://api.chaos.example"
WORKFLOW = """import { WorkflowSettings, WorkflowTrigger, m2mTokenClaims } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "chaosClaims", trigger: WorkflowTrigger.M2MTokenGeneration, bindings: { "kinde.m2mToken": {} } };
export default async function handle(event: any): Promise<void> {
  kinde.m2mToken.setCustomClaim("chaos", "steady");
  m2mTokenClaims().applicationId = event.context.application.clientId;
}
"""
# What no answer may show: storage, panics, source paths.
LEAK = re.compile(r"database|sqlx|sqlite|SQLITE|invalid byte sequence|panicked|stack backtrace|RUST_BACKTRACE"
                  r"|src/.*\.rs|UNIQUE constraint|no such table|DbErr|sea_orm")
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
KINDS = ("token", "authorize", "wellknown", "management", "deploy")


class SetupError(Exception):
    """The stack could not be started or provisioned (exit 2)."""


def progress(message):
    print(f"chaos: {message}", flush=True)


now = time.monotonic


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port, method, path, body=None, form=None, token=None, timeout=30):
    """One request on a fresh connection: (status, JSON or text); status 0 when nothing answered."""
    headers, data = {}, None
    if form is not None:
        data, headers["content-type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    if body is not None:
        data, headers["content-type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, data, headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"null")
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)] if ordered else None


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)
