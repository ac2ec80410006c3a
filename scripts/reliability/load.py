"""The token load: threads behind the load's own balancer, open-loop when paced; RS256 verification."""

import base64
import hashlib
import http.client
import json
import threading
import time
import urllib.parse

from suite import call, now


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(token, jwks):
    """Checks an RS256 JWT against the JWKS by hand (RSASSA-PKCS1-v1_5, SHA-256); returns its claims."""
    head, payload, signature = token.split(".")
    header = json.loads(b64url(head))
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if key is None or header.get("alg") != "RS256":
        return None
    n, e = (int.from_bytes(b64url(key[name]), "big") for name in ("n", "e"))
    size = (n.bit_length() + 7) // 8
    digest = SHA256_DIGEST_INFO + hashlib.sha256(f"{head}.{payload}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    signed = pow(int.from_bytes(b64url(signature), "big"), e, n).to_bytes(size, "big")
    return json.loads(b64url(payload)) if signed == expected else None


class Balancer:
    """What a load balancer in front of auth-service replicas does: requests take turns over the
    replicas; one whose connection failed (refused, cut) is taken out at once for every thread,
    and back in when its /readyz answers 200 (checked every 100 ms). The failed request itself
    still counts as a failure: nothing is retried. With one replica: that one, always."""

    def __init__(self, ports):
        self.ports, self.out, self.turn, self.lock = list(ports), {}, 0, threading.Lock()
        self.generation = {port: 0 for port in ports}  # a connection from before an ejection is stale
        self.stopping = threading.Event()
        if len(self.ports) > 1:
            threading.Thread(target=self.check, daemon=True).start()

    def pick(self):
        with self.lock:
            live = [port for port in self.ports if port not in self.out] or self.ports
            self.turn += 1
            return live[self.turn % len(live)]

    def failed(self, port):
        if len(self.ports) > 1:
            with self.lock:
                if port not in self.out:
                    self.out[port] = now()
                    self.generation[port] += 1

    def check(self):
        while not self.stopping.wait(0.1):
            for port in list(self.out):
                if call(port, "GET", "/readyz", timeout=1)[0] == 200:
                    with self.lock:
                        self.out.pop(port, None)


IDLE_CLOSE = 5.0  # seconds: the load closes a keep-alive connection idle this long


class Load:
    """K threads asking for tokens, each on its own keep-alive connection to each replica, spread
    by a [`Balancer`]. Without `rate` each thread asks again as soon as it has its answer (a closed
    loop: a slower stack sees slower clients). With `rate` (tokens/s) requests start on a fixed
    schedule, one every 1/rate s, whichever thread is free taking the next: an open loop, as many
    independent clients make, where a stall shows as a backlog the stack must catch up on, and
    "full rate" means the offered rate, not whatever the clients managed before."""

    def __init__(self, ports, form, threads, rate=None):
        self.balancer, self.body = Balancer(ports if isinstance(ports, list) else [ports]), urllib.parse.urlencode(form)
        self.rate, self.lock, self.next_slot = rate, threading.Lock(), None
        self.records = [[] for _ in range(threads)]  # per thread: (sent, latency, status, error, body, port)
        self.samples = []  # one token in 100, checked against the JWKS at the end
        self.stopping = threading.Event()
        self.pool = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        self.next_slot = now()
        for thread in self.pool:
            thread.start()

    def wait_for_slot(self):
        """With a rate: wait for the next free start time on the schedule (at once when behind)."""
        if not self.rate:
            return
        with self.lock:
            slot, self.next_slot = self.next_slot, self.next_slot + 1.0 / self.rate
        if slot > now():
            self.stopping.wait(slot - now())

    def stop(self):
        self.stopping.set()
        self.balancer.stopping.set()
        for thread in self.pool:
            thread.join(timeout=15)

    def run(self, index):
        records, conns = self.records[index], {}  # port -> (connection, balancer generation, last used)
        while not self.stopping.is_set():
            self.wait_for_slot()
            port = self.balancer.pick()
            conn, generation, used = conns.pop(port, (None, None, None))
            # NOTE: a connection idle for IDLE_CLOSE is closed here, before auth-service closes it
            # (CLAIMFLOW_HTTP_HEADER_TIMEOUT_SECS, 10 s): as a load balancer's idle timeout is set
            # below its upstreams', so that a request never meets a connection closing under it.
            if conn and (generation != self.balancer.generation[port] or now() - used > IDLE_CLOSE):
                conn = conn.close()
            sent = now()
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                generation = self.balancer.generation[port]
                conn.request("POST", "/oauth2/token", self.body, {"content-type": "application/x-www-form-urlencoded"})
                response = conn.getresponse()
                data, status = response.read(), response.status
                if response.will_close:
                    conn = conn.close()
            except (OSError, http.client.HTTPException) as err:  # refused or cut: status 0
                status, data, conn = 0, f"{type(err).__name__}: {err}".encode(), conn and conn.close()
                self.balancer.failed(port)
            latency = now() - sent
            if conn:
                conns[port] = (conn, generation, now())
            if status == 200:
                token = json.loads(data)["access_token"]
                records.append((sent, latency, 200, "", json.loads(b64url(token.split(".")[1]))["jti"], port))
                if len(records) % 100 == 1:
                    self.samples.append(token)
                continue
            try:
                error = json.loads(data).get("error", "?")
            except (ValueError, AttributeError):
                error = "connection" if status == 0 else "?"
            records.append((sent, latency, status, error, data[:300].decode("utf-8", "replace"), port))
            time.sleep(0.005)  # a client backs off a little after a failure

    def jtis(self):
        return {r[4] for thread in self.records for r in list(thread) if r[2] == 200}

    def between(self, start, end):
        return sorted((r for thread in self.records for r in list(thread) if start <= r[0] < end), key=lambda r: r[0])
