"""The fault phases: each kind of process killed under load, and what counts as a failure."""

import collections
import re
import time

from stack import wait_ready
from suite import call, ms, now, percentile, progress

# The phases where no survivor carries the load: each kind's outage.
OUTAGES = ("all-signers", "broker", "auth-service")


def summarize(name, records, start, marks, allowed):
    """A phase's figures; `allowed(record)` says which failures the fault excuses."""
    failures = [r for r in records if r[2] != 200]
    down, ready = marks.get("down", start), marks.get("ready")
    # A 503 for a request sent while the process was down must be fast. One the dead process held
    # is answered after the dispatcher's silence limit (1 s): counted apart, as in flight.
    unavailable = [r[1] for r in failures if r[2] == 503 and r[0] >= down]
    held = [r for r in records if any(r[0] < t <= r[0] + r[1] for t in marks.get("kills", [down]))]
    first_ok = next((r[0] + r[1] for r in records if r[2] == 200 and ready and r[0] + r[1] >= ready), None)
    last_bad = max((r[0] + r[1] for r in failures if ready and r[0] + r[1] >= ready), default=ready)
    unexpected = [r for r in failures if not allowed(r, marks)]
    latencies = [r[1] for r in records]
    return {"phase": name, "requests": len(records), "failures": len(failures),
            "by_error": dict(collections.Counter(f"{r[2]} {r[3]}" for r in failures)),
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
            "p99_503_ms": ms(percentile(unavailable, 99)), "max_503_ms": ms(max(unavailable, default=None)),
            "in_flight_at_fault": len(held), "in_flight_failed": sum(r[2] != 200 for r in held),
            "in_flight_max_ms": ms(max((r[1] for r in held), default=None)),
            "recovery_ms": ms(None if not ready else (first_ok - ready if first_ok else float("inf"))),
            "all_ok_after_ms": ms(None if not ready else max(0.0, last_bad - ready)),
            "marks_s": {k: [round(t - start, 3) for t in v] if isinstance(v, list) else round(v - start, 3)
                        for k, v in marks.items()}, "unexpected": len(unexpected),
            "unexpected_examples": [{"at_s": round(r[0] - start, 3), "status": r[2], "error": r[3], "body": r[4]}
                                    for r in unexpected[:5]]}


def print_phase(p):
    line = f"  {p['phase']}: {p['requests']} requests, {p['failures']} failed {p['by_error'] or ''}, " \
           f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms"
    if p["p99_503_ms"] is not None:
        line += f", 503 p99 {p['p99_503_ms']} ms (max {p['max_503_ms']})"
    if p["in_flight_at_fault"]:
        line += f", in flight at the fault: {p['in_flight_at_fault']}, {p['in_flight_failed']} failed, " \
                f"max {p['in_flight_max_ms']} ms"
    if p.get("resent"):
        line += f", resent by auth-service: {p['resent']}"
    if p.get("full_rate_ms") is not None:
        against = f"offered {p['offered_per_s']}/s, " if p.get("offered_per_s") else ""
        line += f", {against}rate {p['steady_per_s']}/s before the kill, lowest {p['lowest_rate']:.0%} of " \
                f"{'the offered' if against else 'it'} after, at {FULL_RATE:.0%} or more from {p['full_rate_ms']} ms"
    elif p["phase"] in OUTAGES:
        line += f", recovery {p['recovery_ms']} ms, all ok after {p['all_ok_after_ms']} ms"
    progress(line)
    for example in p["unexpected_examples"]:
        progress(f"    unexpected failure at +{example['at_s']} s: {example['status']} {example['body']}")


def kill_and_restart(ctx, rounds, down_for):
    """kill -9 each round's processes together, wait, restart them; `ready` is the last round's."""
    marks = {"kills": []}
    for i, names in enumerate(rounds):
        services = [ctx.stack.services[name] for name in names]
        marks["kills"].append(now())
        for service in services:
            service.kill()
        time.sleep(down_for)
        for service in services:
            service.start()
        marks["ready"] = wait_ready(services)
        time.sleep(ctx.settle / 2 if i + 1 < len(rounds) else 0)
    marks["down"] = marks["kills"][0]
    return marks


def none_allowed(record, marks):
    return False


def fast_503_allowed(record, marks):  # while it is down, and just after it is back
    return record[2] == 503 and record[3] == "temporarily_unavailable" and record[0] <= marks["ready"] + 1.0


def refused_allowed(record, marks):  # a refused or cut connection while the process is down
    return record[2] == 0 and record[0] + record[1] >= marks["down"] and record[0] <= marks["ready"]


def phase_steady(ctx):
    time.sleep(ctx.settle * 2)
    return {}, none_allowed


def phase_worker(ctx):
    return kill_and_restart(ctx, [["worker-1"], ["worker-2"], ["worker-1"]][:ctx.rounds], ctx.down), none_allowed


def phase_signer(ctx):
    return kill_and_restart(ctx, [["signer-2"], ["signer-1"], ["signer-2"]][:ctx.rounds], ctx.down), none_allowed


def phase_all_signers(ctx):
    return kill_and_restart(ctx, [["signer-1", "signer-2"]], ctx.down * 2), fast_503_allowed


def phase_broker(ctx):
    marks = kill_and_restart(ctx, [["nats-server"]], ctx.broker_down)  # "ready": its port accepts again
    marks["services_ready"] = wait_ready([s for s in ctx.stack.services.values() if s.name != "nats-server"], 30)
    return marks, fast_503_allowed


def phase_auth(ctx):
    return kill_and_restart(ctx, [["auth-service"]], ctx.down), refused_allowed


PHASES = [("steady", phase_steady), ("worker", phase_worker), ("signer", phase_signer),
          ("all-signers", phase_all_signers), ("broker", phase_broker), ("auth-service", phase_auth)]


# --- cluster phases: one of each killed in turn, the rest carry the load -----------------------

def in_flight_allowed(record, marks):
    """A request sent before the killed process was gone and not answered before the kill."""
    return record[0] < marks["reaped"] and record[0] + record[1] >= marks["kills"][0]


def kill_one(kind):
    def phase(ctx):
        if kind == "nats-server":
            name, counts = ctx.stack.busiest_nats()
            progress(f"  killing {name} (connections: {counts})")
        else:
            name = {"worker": "worker-1", "signer": "signer-1", "auth-service": "auth-2"}[kind]
            progress(f"  killing {name}")
        service = ctx.stack.services[name]
        marks = {"kills": [now()]}
        service.kill()
        marks["reaped"] = marks["down"] = now()
        time.sleep(ctx.hold)  # the load goes on without it
        service.start()
        marks["ready"] = wait_ready([service])
        return marks, in_flight_allowed
    return phase


CLUSTER_PHASES = [("steady", phase_steady)] + [(kind, kill_one(kind))
                                                for kind in ("worker", "signer", "nats-server", "auth-service")]
RATE_WINDOW = 0.5  # seconds: the window the rate after a kill is measured over
FULL_RATE = 0.8  # of the rate before the kill: what counts as full on this noisy machine


def full_rate_after(records, start, marks, hold, offered):
    """How the rate of issued tokens fared after the kill, against the offered rate (a paced
    load's) or else the load's own rate in the settle before it: (seconds from the kill to the end
    of the last RATE_WINDOW below FULL_RATE of that rate, 0 when none was; the lowest window's rate
    as a fraction of it; the rate served before the kill)."""
    kill = marks["kills"][0]
    done = sorted(r[0] + r[1] for r in records if r[2] == 200)
    before = sum(1 for t in done if start <= t < kill) / max(kill - start, 1e-9)
    steady = offered or before
    back, lowest, t = 0.0, float("inf"), kill
    while t + RATE_WINDOW <= kill + hold:
        rate = sum(1 for d in done if t <= d < t + RATE_WINDOW) / RATE_WINDOW / max(steady, 1e-9)
        lowest = min(lowest, rate)
        if rate < FULL_RATE:
            back = t + RATE_WINDOW - kill
        t += 0.05
    return back, lowest, before


def run_phases(ctx):
    results = []
    for name, fault in ctx.phases:
        progress(f"phase {name}")
        start, resent = now(), resent_requests(ctx)
        time.sleep(ctx.settle)
        marks, allowed = fault(ctx)
        time.sleep(ctx.settle)
        records = ctx.load.between(start, now())
        result = summarize(name, records, start, marks, allowed)
        if ctx.args.cluster and "reaped" in marks:
            after, lowest, steady = full_rate_after(records, start, marks, ctx.hold, ctx.args.rate)
            result.update(full_rate_ms=ms(after), lowest_rate=round(lowest, 2), steady_per_s=round(steady, 1),
                          offered_per_s=ctx.args.rate)
        result["crashed"] = check_crashes(ctx, f"phase {name}")
        if name != "auth-service":  # its counters start again at 0 when it restarts
            result["resent"] = {k: v - resent.get(k, 0) for k, v in resent_requests(ctx).items()}
        print_phase(result)
        results.append(result)
    return results


def resent_requests(ctx):
    """auth-service's count of requests it sent again because the instance holding them fell silent."""
    status, text = call(ctx.stack.http_port, "GET", "/metrics")
    found = re.findall(r'^\w*nats_resent_requests_total\{[^}]*service="([^"]+)"[^}]*\} (\d+)', str(text), re.M)
    return {service: int(value) for service, value in found}


def check_crashes(ctx, where):
    """Restarts every service that died without being killed; returns what it found."""
    crashes = []
    for service in [s for s in ctx.stack.services.values() if not s.alive()]:
        tail = service.tail()
        progress(f"  CRASH: {service.name} died (status {service.proc.returncode}) during {where}\n{tail}")
        crashes.append({"service": service.name, "status": service.proc.returncode, "where": where, "log": tail})
        service.start()
        wait_ready([service])
    return crashes
