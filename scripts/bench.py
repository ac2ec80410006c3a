#!/usr/bin/env python3
"""claimflow's token benchmark, side by side with its peer and its limit, in one run.

`scripts/bench` builds the release binaries and runs this. It starts `claimflow dev` (SQLite, a
child nats-server) and node-oidc-provider, loads each token endpoint with client_credentials
requests (32 connections, 10 s), with and without claimflow's two-claim workflow, then once more
at half the maximum rate to read the latency a user sees below saturation. `openssl speed`
gives the RSA-2048 signing rate of the same cores. Everything is printed as one table, with the
ratios the benchmark's targets are stated in.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
PEER = os.path.join(ROOT, "tests", "bench", "oidc-provider")
AUDIENCE = "https://api.bench.example"

# The benchmark's workflow: two claims, as the peer's extraTokenClaims.
WORKFLOW = """import { WorkflowSettings, WorkflowTrigger, m2mTokenClaims } from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "benchClaims",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  bindings: { "kinde.m2mToken": {} },
};

export default async function handle(event: any): Promise<void> {
  const claims = m2mTokenClaims();
  claims.applicationId = event.context.application.clientId;
  claims.audience = event.request.auth.audience[0];
}
"""


def progress(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method, url, form=None, body=None, token=None):
    headers = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def wait_until(check, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} did not come up within {seconds} s")


def start_claimflow(work):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        CLAIMFLOW_DATA_DIR=os.path.join(work, "claimflow"),
        CLAIMFLOW_HTTP_ADDR=f"127.0.0.1:{port}",
        CLAIMFLOW_ISSUER=issuer,
        CLAIMFLOW_LOG=os.environ.get("CLAIMFLOW_LOG", "warn"),
    )
    for variable in ("DATABASE_URL", "NATS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(variable, None)
    log = open(os.path.join(work, "claimflow.log"), "w")
    process = subprocess.Popen([os.path.join(RELEASE, "claimflow"), "dev"], env=env, stdout=log, stderr=log)
    wait_until(lambda: request("GET", f"{issuer}/.well-known/jwks.json")[0] == 200, "claimflow dev")
    with open(os.path.join(env["CLAIMFLOW_DATA_DIR"], "admin-credentials.json")) as file:
        admin = json.load(file)
    return process, issuer, admin


def provision(issuer, admin):
    """An API with the benchmark's audience and an M2M application authorized for it."""
    status, body = request("POST", f"{issuer}/oauth2/token", form={
        "grant_type": "client_credentials", "client_id": admin["client_id"],
        "client_secret": admin["client_secret"], "audience": f"{issuer}/api"})
    assert status == 200, body
    token = body["access_token"]
    status, api = request("POST", f"{issuer}/api/v1/apis", body={"name": "bench", "audience": AUDIENCE}, token=token)
    assert status == 200, api
    status, app = request("POST", f"{issuer}/api/v1/applications", body={"name": "bench", "type": "m2m"}, token=token)
    assert status == 200, app
    client = app["application"]
    status, body = request("PATCH", f"{issuer}/api/v1/apis/{api['api']['id']}/applications",
                           body={"applications": [{"id": client["client_id"]}]}, token=token)
    assert status == 200, body
    return token, client["client_id"], client["client_secret"]


def deploy_workflow(issuer, token):
    files = [{"path": "kindeSrc/environment/workflows/benchClaims/Workflow.ts", "content": WORKFLOW}]
    status, body = request("POST", f"{issuer}/api/v1/workflows/deployments", body={"files": files}, token=token)
    assert status == 200, body


def cpu_seconds(pids):
    """User and system CPU time of processes so far (clock ticks of /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except FileNotFoundError:
            pass
    return total


def process_tree(pid):
    """`pid` and its descendants (claimflow dev's nats-server child)."""
    pids = [pid]
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        pids += process_tree(int(child))
    return pids


def load(label, url, form, connections, duration, rate=None, server=None):
    command = [os.path.join(RELEASE, "claimflow-load"), url, "--json", "--label", label,
               "--connections", str(connections), "--duration", str(duration)]
    if rate:
        command += ["--rate", f"{rate:.0f}"]
    for name, value in form.items():
        command += ["--form", f"{name}={value}"]
    progress(f"{label}: {connections} connections, {duration} s" + (f", {rate:.0f} requests/s" if rate else ""))
    pids = process_tree(server.pid) if server else []
    before = cpu_seconds(pids)
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    if server:
        # NOTE: the load generator warms up for a second before it measures; so does this.
        total = result["ok"] / result["duration_s"] * (result["duration_s"] + 1.05)
        result["cpu_us_per_token"] = (cpu_seconds(pids) - before) / max(total, 1) * 1e6
    return result


def openssl_rate(multi):
    command = ["openssl", "speed", "-seconds", "5"]
    if multi > 1:
        command += ["-multi", str(multi)]
    command += ["rsa2048"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    # `rsa 2048 bits 0.000282s 0.000008s   3546.1 121593.2`: sign/s is the third number.
    match = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", output, re.MULTILINE)
    if not match:
        raise SystemExit(f"bench: cannot read openssl speed's output:\n{output}")
    return float(match.group(1))


def start_peer(work):
    if not os.path.isdir(os.path.join(PEER, "node_modules", "oidc-provider")):
        progress("installing node-oidc-provider (npm ci)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER, check=True)
    port = free_port()
    env = dict(os.environ, PORT=str(port), AUDIENCE=AUDIENCE, NODE_ENV="production",
               CLIENT_ID="bench", CLIENT_SECRET="bench-secret-0123456789")
    log = open(os.path.join(work, "oidc-provider.log"), "w")
    process = subprocess.Popen(["node", "server.mjs"], cwd=PEER, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: request("GET", f"{url}/.well-known/openid-configuration")[0] == 200, "node-oidc-provider")
    return process, url


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--skip-peer", action="store_true", help="do not run node-oidc-provider")
    parser.add_argument("--signer-json", help="the signer bench's results (cargo bench -p signer --bench sign)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work = tempfile.mkdtemp(prefix="claimflow-bench-")
    results = {"cores": cores, "connections": args.connections, "duration_s": args.duration, "runs": {}}
    runs = results["runs"]
    try:
        progress("starting claimflow dev (release, SQLite)")
        claimflow, issuer, admin = start_claimflow(work)
        try:
            token, client_id, client_secret = provision(issuer, admin)
            form = {"grant_type": "client_credentials", "client_id": client_id,
                    "client_secret": client_secret, "audience": AUDIENCE}
            url = f"{issuer}/oauth2/token"
            runs["claimflow, no workflow"] = load(
                "claimflow, no workflow", url, form, args.connections, args.duration, server=claimflow)
            deploy_workflow(issuer, token)
            runs["claimflow, 2-claim workflow"] = load(
                "claimflow, 2-claim workflow", url, form, args.connections, args.duration, server=claimflow)
            half = runs["claimflow, 2-claim workflow"]["per_second"] / 2
            runs["claimflow, 2-claim workflow, half rate"] = load(
                "claimflow, 2-claim workflow, half rate", url, form, args.connections, args.duration, rate=half,
                server=claimflow)
        finally:
            stop(claimflow)
        if not args.skip_peer:
            progress("starting node-oidc-provider")
            peer, peer_url = start_peer(work)
            try:
                form = {"grant_type": "client_credentials", "client_id": "bench",
                        "client_secret": "bench-secret-0123456789", "resource": AUDIENCE}
                runs["node-oidc-provider"] = load(
                    "node-oidc-provider", f"{peer_url}/token", form, args.connections, args.duration, server=peer)
            finally:
                stop(peer)
        progress(f"openssl speed rsa2048 (1 core, then {cores})")
        results["openssl_rsa2048_sign_per_s_one_core"] = openssl_rate(1)
        results["openssl_rsa2048_sign_per_s"] = openssl_rate(cores)
        if args.signer_json:
            with open(args.signer_json) as file:
                results["signer_sign_per_s_one_core"] = json.load(file)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report(results)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


def report(results):
    runs = results["runs"]
    openssl = results["openssl_rsa2048_sign_per_s"]
    print(f"\n{results['connections']} connections, {results['duration_s']:.0f} s each, {results['cores']} cores\n")
    print(f"{'system':<42}{'tokens/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}{'CPU us/token':>14}")
    for name, run in runs.items():
        cpu = run.get("cpu_us_per_token")
        cpu = f"{cpu:>14.0f}" if cpu else f"{'':>14}"
        print(f"{name:<42}{run['per_second']:>10.0f}{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}{run['failed']:>8}{cpu}")
    print(f"{'openssl speed -multi ' + str(results['cores']) + ' rsa2048 (signatures/s)':<42}{openssl:>10.0f}")
    print(f"{'openssl speed rsa2048, one core':<42}{results['openssl_rsa2048_sign_per_s_one_core']:>10.0f}")
    with_workflow = runs["claimflow, 2-claim workflow"]["per_second"]
    without = runs["claimflow, no workflow"]["per_second"]
    print("\nratios")
    if "node-oidc-provider" in runs:
        print(f"  with workflow / node-oidc-provider   {with_workflow / runs['node-oidc-provider']['per_second']:.2f}")
    print(f"  with workflow / openssl              {with_workflow / openssl:.2f}")
    print(f"  without workflow / openssl           {without / openssl:.2f}")
    half = runs["claimflow, 2-claim workflow, half rate"]
    print(f"  p99 at half rate ({half['per_second']:.0f}/s)            {half['p99_ms']:.2f} ms")
    signer = results.get("signer_sign_per_s_one_core")
    if signer:
        one_core = results["openssl_rsa2048_sign_per_s_one_core"]
        print(f"  signer RS256 / openssl, one core     {signer['RS256'] / one_core:.2f}"
              f"  ({signer['RS256']:.0f} vs {one_core:.0f} signatures/s; ES256 {signer['ES256']:.0f}, EdDSA {signer['EdDSA']:.0f})")


if __name__ == "__main__":
    main()
