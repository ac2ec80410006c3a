"""The stack under test: nats-servers, auth-services, signers and workers as processes; provisioning."""

import base64
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import time

from suite import SetupError, call, free_port, now, progress


AUDIENCE = "https://api.chaos.example"
WORKFLOW = """import { WorkflowSettings, WorkflowTrigger, m2mTokenClaims } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "chaosClaims", trigger: WorkflowTrigger.M2MTokenGeneration, bindings: { "kinde.m2mToken": {} } };
export default async function handle(event: any): Promise<void> {
  kinde.m2mToken.setCustomClaim("chaos", "steady");
  m2mTokenClaims().applicationId = event.context.application.clientId;
}
"""


class Service:
    """One OS process, its log file, and its readiness probe: a port, or (port, "/readyz")."""

    def __init__(self, name, argv, env, work, ready):
        self.name, self.argv, self.env, self.ready, self.proc = name, argv, env, ready, None
        self.log_path = os.path.join(work, f"{name}.log")

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== chaos: starting {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # Ctrl-C reaches us, not them

    def is_ready(self, path=None):
        if isinstance(self.ready, int):
            try:
                socket.create_connection(("127.0.0.1", self.ready), timeout=0.2).close()
                return True
            except OSError:
                return False
        return call(self.ready[0], "GET", path or self.ready[1], timeout=1)[0] == 200

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):  # kill -9, always: the suite tests crashes, not graceful stops
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines=25):
        try:
            with open(self.log_path, "rb") as file:
                text = re.sub(r"\x1b\[[0-9;]*m", "", file.read()[-20000:].decode("utf-8", "replace"))
        except OSError:
            return "    | (no log)"
        return "\n".join("    | " + line[:400] for line in text.splitlines()[-lines:])


def wait_ready(services, seconds=60, path=None):
    """Waits until every one of `services` is ready; returns when the first of them was."""
    pending, first, deadline = list(services), None, now() + seconds
    while pending:
        for service in list(pending):
            if not service.alive():
                raise SetupError(f"{service.name} exited (status {service.proc.returncode}):\n{service.tail()}")
            if service.is_ready(path):
                first = first or now()
                pending.remove(service)
        if pending and now() > deadline:
            raise SetupError(f"{pending[0].name} was not ready within {seconds} s:\n{pending[0].tail()}")
        time.sleep(0.005)
    return first


class Stack:
    """nats-server, auth-service, two signers, two workers; with --cluster, three nats-servers
    with routes and two auth-services. Every signer has its own data directory: the keys are the
    deployment's, in the database."""

    def __init__(self, args, work):
        self.work, bins = work, os.path.join(work, "bin")
        os.makedirs(bins)
        self.build = {}
        for binary in ("auth-service", "signer", "workflow-worker"):  # a rebuild during the run changes nothing
            source = os.path.join(args.bin_dir, binary)
            if not os.access(source, os.X_OK):
                raise SetupError(f"{source} is not an executable (build it, or pass --bin-dir)")
            try:
                os.link(source, os.path.join(bins, binary))
            except OSError:
                shutil.copy2(source, bins)
            self.build[binary] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(source).st_mtime))
        self.cluster = args.cluster
        nodes = 3 if args.cluster else 1
        nats_ports = [(free_port(), free_port(), free_port()) for _ in range(nodes)]  # client, route, monitor
        self.nats_port, self.http_port = nats_ports[0][0], free_port()
        self.http_ports = [self.http_port] + ([free_port()] if args.cluster else [])
        self.monitor_ports = {f"nats-{i + 1}": ports[2] for i, ports in enumerate(nats_ports)} if args.cluster else {}
        # NOTE: replicas behind a load balancer share one issuer (the balancer's address).
        self.issuer = f"http://127.0.0.1:{self.http_port}"
        self.admin = {"client_id": "chaos-admin", "client_secret": secrets.token_urlsafe(24)}
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("CLAIMFLOW_", "NATS_", "OTEL_")) and k != "DATABASE_URL"}
        base.update(NATS_URL=",".join(f"nats://127.0.0.1:{ports[0]}" for ports in nats_ports),
                    DATABASE_URL=args.database_url or f"sqlite://{work}/claimflow.db?mode=rwc",
                    CLAIMFLOW_LOG=os.environ.get("CLAIMFLOW_LOG", "info"))
        data = lambda name: os.path.join(work, "data", name)  # noqa: E731
        # Test-only keys, fixed so that a reused PostgreSQL database stays readable across runs.
        key = lambda name: base64.b64encode(hashlib.sha256(f"chaos-{name}".encode()).digest()).decode()  # noqa
        self.secrets_key = key("secrets")
        os.makedirs(os.path.join(work, "nats"), exist_ok=True)
        self.services = {}
        nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not args.cluster:
            self.add("nats-server", [nats, "-a", "127.0.0.1", "-p", str(self.nats_port), "-js",
                                     "-sd", os.path.join(work, "nats")], base, self.nats_port)
        for i, (port, route, monitor) in enumerate(nats_ports if args.cluster else []):
            name = f"nats-{i + 1}"
            routes = ",".join(f"nats://127.0.0.1:{other[1]}" for other in nats_ports if other[1] != route)
            self.add(name, [nats, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", os.path.join(work, "nats", name),
                            "--server_name", name, "--cluster_name", "chaos", "--cluster", f"nats://127.0.0.1:{route}",
                            "--routes", routes, "-m", str(monitor)], base, port)
        for i, port in enumerate(self.http_ports):
            name = f"auth-{i + 1}" if args.cluster else "auth-service"
            self.add(name, [os.path.join(bins, "auth-service")], dict(
                base, CLAIMFLOW_DATA_DIR=data(name), CLAIMFLOW_HTTP_ADDR=f"127.0.0.1:{port}",
                CLAIMFLOW_ISSUER=self.issuer, CLAIMFLOW_ADMIN_CLIENT_ID=self.admin["client_id"],
                CLAIMFLOW_ADMIN_CLIENT_SECRET=self.admin["client_secret"], CLAIMFLOW_SECRETS_KEY=self.secrets_key,
                CLAIMFLOW_SECURE_FETCH_KEY=key("secure-fetch"), CLAIMFLOW_SESSION_KEY=key("session")),
                (port, "/readyz"))
        for kind, binary in (("signer", "signer"), ("worker", "workflow-worker")):
            for i in (1, 2):
                port, name = free_port(), f"{kind}-{i}"
                env = dict(base, CLAIMFLOW_DATA_DIR=data(name), CLAIMFLOW_HEALTH_ADDR=f"127.0.0.1:{port}")
                if kind == "signer":
                    # Each its own data directory; the keys are the deployment's, in the database.
                    env["CLAIMFLOW_SECRETS_KEY"] = self.secrets_key
                else:
                    env["CLAIMFLOW_WORKER_ID"] = f"chaos-{name}"
                self.add(name, [os.path.join(bins, binary)], env, (port, "/readyz"))

    def add(self, name, argv, env, ready):
        if not os.access(argv[0], os.X_OK):
            raise SetupError(f"{argv[0]} is not an executable")
        self.services[name] = Service(name, argv, env, self.work, ready)

    def start(self):
        # In order: auth-service migrates the database (it serves /healthz once it has; its /readyz
        # waits for a signer), signer-1 makes the deployment's key signer-2 then loads, the workers.
        # (A cluster's servers start together: each waits for its routes before JetStream is up.)
        for service in self.services.values():
            service.start()
            if not service.name.startswith("nats-"):
                wait_ready([service], path="/healthz" if service.name.startswith("auth") else None)
                progress(f"  {service.name} up (pid {service.proc.pid})")
            elif service.name == f"nats-{len(self.monitor_ports)}" or not self.cluster:
                wait_ready([s for s in self.services.values() if s.name.startswith("nats-")])
                progress("  " + ", ".join(f"{s.name} (pid {s.proc.pid})" for s in self.services.values()
                                          if s.name.startswith("nats-")) + " up")
        wait_ready([s for s in self.services.values() if s.name.startswith("auth")])

    def auth_services(self):
        return [s for s in self.services.values() if s.name.startswith("auth")]

    def busiest_nats(self):
        """The cluster's server to kill: one an auth-service is connected to, and of those the one
        with the most service connections (from each server's /connz page)."""
        held = {}
        for name, port in self.monitor_ports.items():
            status, page = call(port, "GET", "/connz")
            held[name] = sorted(c.get("name", "?") for c in (page or {}).get("connections") or []) if status == 200 else []
        return max(held, key=lambda n: ("auth-service" in held[n], len(held[n]))), held

    def stop(self):
        for service in reversed(list(self.services.values())):
            service.kill()


# --- provisioning ------------------------------------------------------------------------------

def management_token(stack):
    status, body = call(stack.http_port, "POST", "/oauth2/token", form=dict(
        grant_type="client_credentials", audience=f"{stack.issuer}/api", **stack.admin))
    if status != 200:
        raise SetupError(f"no management token: {status} {body}")
    return body["access_token"]


def api(stack, token, method, path, body=None, required=True):
    status, reply = call(stack.http_port, method, "/api/v1" + path, body=body, token=token)
    if status != 200 and required:
        raise SetupError(f"{method} /api/v1{path}: {status} {reply}")
    return reply if status == 200 else None


def provision(stack, suffix):
    """The load's API and M2M application, and the workflow that stamps a claim on its tokens."""
    token = management_token(stack)
    api_id = api(stack, token, "POST", "/apis", {"name": "chaos", "audience": AUDIENCE + suffix})["api"]["id"]
    app = api(stack, token, "POST", "/applications", {"name": "chaos-load", "type": "m2m"})["application"]
    api(stack, token, "PATCH", f"/apis/{api_id}/applications", {"applications": [{"id": app["client_id"]}]})
    files = [{"path": "kindeSrc/environment/workflows/chaosClaims/Workflow.ts", "content": WORKFLOW}]
    api(stack, token, "POST", "/workflows/deployments", {"files": files})
    return token, app


def fuzz_targets(stack, token, suffix):
    """Objects whose ids the management fuzzing puts into paths, so that handlers get past their 404."""
    tag = suffix.replace("-", "_")
    steps = [("api_id", "/apis", {"name": "fuzz", "audience": f"https://fuzz.chaos.example{suffix}"}, "api", "id"),
             ("application_id", "/applications", {"name": "fuzz", "type": "m2m"}, "application", "id"),
             ("app_id", "/applications", {"name": "fuzz-reg", "type": "reg"}, "application", "id"),
             ("org_code", "/organization", {"name": "fuzz"}, "organization", "code"),
             ("user_id", "/user", {"profile": {"given_name": "fuzz"}, "identities": [
                 {"type": "email", "details": {"email": f"fuzz{tag}@chaos.example"}}]}, None, "id"),
             ("role_id", "/roles", {"name": "fuzz", "key": f"fuzz{tag}"}, "role", "id"),
             ("scope_id", "/permissions", {"name": "fuzz", "key": f"fuzzp{tag}"}, "permission", "id"),
             ("property_id", "/properties", {"name": "fuzz", "key": f"fuzz{tag}", "type": "single_line_text",
                                             "context": "app"}, "property", "id"),
             ("variable_id", "/environment_variables", {"key": f"FUZZ{tag}", "value": "v", "is_secret": True},
              "environment_variable", "id")]
    ids = {"property_key": f"fuzz{tag}", "workflow_id": "fuzzFlow"}  # never chaosClaims: the load needs it
    for name, path, body, outer, field in steps:
        reply = api(stack, token, "POST", path, body, required=False) or {}
        value = (reply.get(outer) or {}).get(field) if outer else reply.get(field)
        if value:
            ids[name] = value
        else:
            progress(f"  fuzz target {name} not created; junk ids only")
    if "app_id" in ids:
        api(stack, token, "POST", f"/applications/{ids['app_id']}/auth_redirect_urls",
            {"urls": ["http://127.0.0.1:9/callback"]}, required=False)
    return ids
