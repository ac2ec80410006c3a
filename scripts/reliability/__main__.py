#!/usr/bin/env python3
"""claimflow's reliability suite: faults under token load, then seeded fuzzing, on the real binaries.

Starts nats-server, auth-service, two signers and two workers as processes, kills each kind under
token load, then sends seeded hostile requests to every endpoint. With --cluster: three
nats-servers with routes, two auth-services behind the load's own balancer, two signers and two
workers; kills one of each in turn under load (no fuzzing). Exit 0: every target met; 1: one
missed; 2: the stack did not start; 130: interrupted. See docs/reliability.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

from faults import CLUSTER_PHASES, OUTAGES, PHASES, run_phases
from fuzz import run_fuzz
from load import Load, verify_rs256
from stack import AUDIENCE, Stack, api, fuzz_targets, management_token, provision
from suite import ROOT, SetupError, call, now, progress


def worst(values):
    return max((float("inf") if v is None else v for v in values), default=float("inf"))


def targets(results):
    """(target, goal, result, met) rows for what ran."""
    phases = {p["phase"]: p for p in results.get("phases", [])}
    pick = lambda key, names: [phases[n][key] for n in names if n in phases]  # noqa: E731
    fuzz = results.get("fuzz")
    rows = [("crashes", "0", len(fuzz["crashes"] if fuzz else []) + sum(len(p["crashed"]) for p in phases.values()))]
    if results.get("cluster") and phases:
        kills = [n for n in phases if n != "steady"]
        rate = worst(pick("full_rate_ms", kills))
        rows += [("failures without a fault (steady)", "0", sum(pick("failures", ["steady"]))),
                 ("failures after a kill, apart from in flight", "0", sum(pick("unexpected", kills))),
                 ("full rate after each kill", "< 2 s", rate, rate < 2000),
                 ("sampled tokens verify against the JWKS", "0 bad", results["tokens"]["bad"]),
                 ("signers that signed tokens", "2", results["signers_signing"], results["signers_signing"] == 2)]
        phases = {}  # the single-server targets below do not apply
    if fuzz:
        count = lambda *keys: sum(v.get(k, 0) for v in fuzz["by_kind"].values() for k in keys)  # noqa: E731
        rows += [("hangs / unanswered fuzz requests", "0", count("hang", "no answer")),
                 ("5xx other than 503 (fuzz)", "0", count("server error")),
                 ("503 while every service is up (fuzz)", "0", count("503 with every service up")),
                 ("leaks of internals or secrets (fuzz)", "0", count("leak")),
                 ("failed tokens of a load during fuzzing", "0", fuzz["background_tokens"]["failed"])]
    if phases:
        p99, back = worst(pick("p99_503_ms", OUTAGES[:2])), worst(pick("all_ok_after_ms", ["broker"]))
        recovery = worst(pick("recovery_ms", OUTAGES))
        rows += [("failures without a fault (steady)", "0", sum(pick("failures", ["steady"]))),
                 ("failures with a survivor (worker, signer)", "0", sum(pick("failures", ["worker", "signer"]))),
                 ("unexpected failures in outages", "0", sum(pick("unexpected", OUTAGES))),
                 ("503 p99 during outages (all-signers, broker)", "< 50 ms", p99, p99 < 50),
                 ("recovery (all-signers, broker, auth-service)", "< 1 s", recovery, recovery < 1000),
                 ("all requests ok again after the broker", "< 1 s", back, back < 1000),
                 ("sampled tokens verify against the JWKS", "0 bad", results["tokens"]["bad"])]
    rows.append(("a token after everything", "200", results.get("final_token"), results.get("final_token") == 200))
    if "audit" in results:
        rows.append(("issued tokens without an audit record", "0", results["audit"]["missing"]))
    return [row if len(row) == 4 else row + (row[2] == 0,) for row in rows]


def print_summary(results):
    fuzz = results.get("fuzz")
    if fuzz:
        print(f"\nfuzz: {fuzz['cases']} cases in {fuzz['seconds']} s (seed {results['seed']})")
        for kind, counts in fuzz["by_kind"].items():
            print(f"  {kind:<11} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for case in fuzz["failing"]:
            print(f"  case {case['index']} ({case['kind']}): {case['method']} {case['path'][:70]}  {case['input'][:70]}"
                  f"  -> {case['status']} {case['problems']} in {case['ms']} ms: {case['body'][:150]!r}")
    rows = targets(results)
    print(f"\n{'target':<48}{'goal':>10}{'result':>10}")
    for name, goal, value, ok in rows:
        print(f"{name:<48}{goal:>10}{str(value):>10}  {'ok' if ok else 'MISSED'}")
    results["targets"] = [{"target": r[0], "goal": r[1], "result": r[2], "met": r[3]} for r in rows]
    return all(row[3] for row in rows)


def run(ctx, work, results):
    progress(f"starting the stack in {work} ({ctx.args.bin_dir})")
    ctx.stack = stack = Stack(ctx.args, work)
    results["binaries_built"] = stack.build
    stack.start()
    suffix = f"-{int(time.time())}-{os.getpid()}"
    ctx.mgmt_token, ctx.client = provision(stack, suffix)
    ctx.issuer, ctx.audience, ctx.admin_secret = stack.issuer, AUDIENCE + suffix, stack.admin["client_secret"]
    ctx.known_secrets = [ctx.admin_secret, ctx.client["client_secret"], stack.secrets_key]
    ctx.form = {"grant_type": "client_credentials", "audience": ctx.audience,
                "client_id": ctx.client["client_id"], "client_secret": ctx.client["client_secret"]}
    status, body = call(stack.http_port, "POST", "/oauth2/token", form=ctx.form)
    if status != 200:
        raise SetupError(f"the load's first token failed: {status} {body}")
    ctx.load_token = body["access_token"]
    if not ctx.args.skip_phases:
        run_load_and_faults(ctx, results)
    if ctx.args.cases:
        run_fuzzing(ctx, results, suffix)
    results["final_token"] = call(stack.http_port, "POST", "/oauth2/token", form=ctx.form)[0]
    if ctx.load or ctx.background:
        results["audit"] = check_audit(ctx, set().union(*(load.jtis() for load in (ctx.load, ctx.background) if load)))
        progress(f"audit: {results['audit']}")


def run_load_and_faults(ctx, results):
    paced = f", {ctx.args.rate} tokens/s offered" if ctx.args.rate else ""
    progress(f"token load: {ctx.args.threads} threads{paced}; {ctx.settle} s settle before and after each fault")
    ctx.load = Load(ctx.stack.http_ports, ctx.form, ctx.args.threads, ctx.args.rate)
    ctx.load.start()
    try:
        results["phases"] = run_phases(ctx)
    finally:
        ctx.load.stop()
    status, jwks = call(ctx.stack.http_port, "GET", "/.well-known/jwks.json")
    claims = [verify_rs256(token, jwks if status == 200 else {}) for token in ctx.load.samples]
    results["tokens"] = {"sampled": len(claims), "bad": sum(1 for c in claims if not c or c.get("chaos") != "steady"),
                         "jwks_keys": len(jwks.get("keys", [])) if status == 200 else 0}
    progress(f"tokens: {results['tokens']}")
    if ctx.args.cluster:  # every signer took its share: tokens of both verified above, against one JWKS
        signed = {name: signed_tokens(service) for name, service in ctx.stack.services.items() if name.startswith("signer")}
        results["signers_signing"] = sum(1 for count in signed.values() if count > 0)
        progress(f"tokens signed by each signer since its last start: {signed}")


def signed_tokens(service):
    status, text = call(service.ready[0], "GET", "/metrics")
    found = re.findall(r'^\w*signer_operations_total\{(?=[^}]*operation="issue")(?=[^}]*outcome="ok")[^}]*\} (\d+)',
                       str(text), re.M)
    return sum(int(value) for value in found)


def run_fuzzing(ctx, results, suffix):
    what = f"case {ctx.args.case}" if ctx.args.case is not None else f"{ctx.args.cases} cases"
    progress(f"fuzzing: {what}, seed {ctx.args.seed}, timeout {ctx.args.timeout} s")
    ctx.mgmt_token = management_token(ctx.stack)
    ctx.ids = fuzz_targets(ctx.stack, ctx.mgmt_token, suffix)
    status, ctx.openapi = call(ctx.stack.http_port, "GET", "/api/v1/openapi.json")
    if status != 200:
        raise SetupError(f"GET /api/v1/openapi.json: {status}")
    ctx.background = Load(ctx.stack.http_port, ctx.form, 1)  # the token path must not notice the fuzzing
    ctx.background.start()
    try:
        results["fuzz"] = run_fuzz(ctx)
    finally:
        ctx.background.stop()
    tokens = ctx.background.between(0, now())
    results["fuzz"]["background_tokens"] = {"requests": len(tokens), "failed": sum(r[2] != 200 for r in tokens),
                                            "examples": [r[2:] for r in tokens if r[2] != 200][:5]}
    progress(f"token load during fuzzing: {results['fuzz']['background_tokens']}")


def check_audit(ctx, issued):
    """Every token the loads got has its audit record (records go through JetStream, in batches)."""
    token, found = management_token(ctx.stack), set()
    # NOTE: pages of 250: with page_size=500 the list ends after one page (next_token null).
    first = f"/audit/tokens?page_size=250&client_id={ctx.client['client_id']}"
    for _ in range(15):
        path, found = first, set()
        while path:
            reply = api(ctx.stack, token, "GET", path)
            found |= {t["jti"] for t in reply["tokens"]}
            path = reply.get("next_token") and f"{first}&next_token={urllib.parse.quote(reply['next_token'])}"
        if issued <= found:
            break
        time.sleep(1)
    return {"issued": len(issued), "recorded": len(found), "missing": len(issued - found),
            "missing_examples": sorted(issued - found)[:5]}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the quick CI version (300 cases, shorter settles)")
    parser.add_argument("--bin-dir", help="where the binaries are (default target/debug)")
    parser.add_argument("--release", action="store_true", help="use target/release")
    parser.add_argument("--database-url", nargs="?", const="$DATABASE_URL",
                        help="this database (without a value: $DATABASE_URL) instead of a SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database, NATS store)")
    parser.add_argument("--seed", type=int, default=20260611)
    parser.add_argument("--cases", type=int, help="fuzz cases (default 2000; --short 300; 0: none)")
    parser.add_argument("--case", type=int, help="run only this fuzz case of --seed (e.g. one a report listed)")
    parser.add_argument("--threads", type=int, help="token load threads (default 4; --cluster 16)")
    parser.add_argument("--rate", type=float, help="offered token load per second, started on a fixed schedule "
                        "(default with --cluster: 80, half of what 2 cores serve; 0: each thread asks again at once)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per fuzz request, seconds (default 10)")
    parser.add_argument("--settle", type=float, help="seconds of load before and after each fault (2; --short 1)")
    parser.add_argument("--skip-phases", action="store_true", help="no fault phases: fuzz only")
    parser.add_argument("--cluster", action="store_true",
                        help="3 nats-servers, 2 auth-services, 2 signers, 2 workers; one of each killed in turn (no fuzzing)")
    parser.add_argument("--verbose", action="store_true", help="print every fuzz case and its answer")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    args.bin_dir = args.bin_dir or os.path.join(ROOT, "target", "release" if args.release else "debug")
    args.cases = args.cases if args.cases is not None else (0 if args.cluster else 300 if args.short else 2000)
    args.threads = args.threads or (16 if args.cluster else 4)
    args.rate = (args.rate if args.rate is not None else 80.0 if args.cluster else 0.0) or None
    if args.database_url == "$DATABASE_URL":
        args.database_url = os.environ.get("DATABASE_URL") or parser.error("--database-url: DATABASE_URL is not set")
    return args


class Context:
    """What the phases and the fuzzing share."""

    def __init__(self, args):
        self.args, self.stack, self.load, self.background, self.ids = args, None, None, None, {}
        self.settle = args.settle if args.settle is not None else (1.0 if args.short else 2.0)
        self.down, self.broker_down, self.rounds = (0.5, 2.0, 1) if args.short else (1.0, 3.0, 3)
        self.phases, self.hold = (CLUSTER_PHASES if args.cluster else PHASES), 3.0


def interrupted(*_):
    raise KeyboardInterrupt


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    ctx, work, started, code = Context(args), tempfile.mkdtemp(prefix="claimflow-chaos-"), now(), 1
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    results = {"seed": args.seed, "short": args.short, "cluster": args.cluster, "threads": args.threads, "rate": args.rate,
               "bin_dir": args.bin_dir,
               "commit": commit.stdout.strip(),
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cores": os.cpu_count()}
    try:
        run(ctx, work, results)
        code = 0 if print_summary(results) else 1
    except SetupError as err:
        progress(f"setup error: {err}")
        results["setup_error"], code = str(err), 2
    except KeyboardInterrupt:
        progress("interrupted")
        code = 130
    except Exception as err:  # a bug of the suite's own: not a missed target
        progress(f"internal error: {err!r}")
        traceback.print_exc()
        results["internal_error"], code = repr(err), 2
    finally:
        for load in (ctx.load, ctx.background):
            if load:
                load.stopping.set()
        if ctx.stack:
            ctx.stack.stop()
        results.update(seconds=round(now() - started, 1), exit=code)
        if args.json:
            with open(args.json, "w") as file:
                json.dump(results, file, indent=2, default=str)
        if args.keep or (code == 2 and ctx.stack):  # the logs of a stack that did not start
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    progress(f"done in {results['seconds']} s, exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
