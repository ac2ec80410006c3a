"""The suite's own plumbing, shared by every part: where the repository is, the setup error, the
progress line, one HTTP call on a fresh connection, and the figures' arithmetic."""

import http.client
import json
import os
import socket
import time
import urllib.parse


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
