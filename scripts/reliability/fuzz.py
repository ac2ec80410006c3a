"""Seeded hostile requests to every endpoint, and the judging of their answers."""

import base64
import collections
import json
import random
import re
import secrets
import socket
import urllib.parse

from faults import check_crashes
from stack import management_token
from suite import ms, now, progress


# What no answer may show: storage, panics, source paths.
LEAK = re.compile(r"database|sqlx|sqlite|SQLITE|invalid byte sequence|panicked|stack backtrace|RUST_BACKTRACE"
                  r"|src/.*\.rs|UNIQUE constraint|no such table|DbErr|sea_orm")
KINDS = ("token", "authorize", "wellknown", "management", "deploy")


HOSTILE = ["", " ", "a", "\x00", "a\x00b", "%00", "é", "😀", "\u202eabc", "\ud800", "\uffff", "\ufeff", "' OR '1'='1",
           "<script>alert(1)</script>", "../../../etc/passwd", "%s%n%x", "{{7*7}}", "${jndi:x}", "-1", "0", "1e309",
           "null", "true", "[]", "{}", "\\", '"', "\r\nx-injected: 1", "\t", "a b", "%zz", "+", "&=&="]


def hostile_str(rng):
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(HOSTILE)
    if roll < 0.8:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 40)))
    return rng.choice("ax😀") * rng.choice([129, 257, 1025, 4097, 70000]) if roll < 0.985 else "x" * (1 << 20)


def hostile_json(rng, depth=0):
    roll = rng.random()
    if roll < 0.45:
        return hostile_str(rng)
    if roll < 0.65 or depth >= 3:
        return rng.choice([0, -1, 2 ** 63, -2 ** 63 - 1, 2 ** 64, 1.5, 1e308, True, False, None])
    if roll < 0.8:
        return [hostile_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {hostile_str(rng)[:40]: hostile_json(rng, depth + 1) for _ in range(rng.randrange(3))}


def enc(text):
    """UTF-8, letting lone surrogates through as the invalid bytes they make; bytes unchanged."""
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text


def form_body(pairs):
    quote = urllib.parse.quote_from_bytes
    return b"&".join(quote(enc(k)).encode() + b"=" + quote(enc(v)).encode() for k, v in pairs)


def header_safe(value):
    return enc(value).replace(b"\r", b"").replace(b"\n", b"")


class Case:
    def __init__(self, kind, method, path, body=b"", headers=(), note="", token=False):
        self.kind, self.method, self.note, self.headers, self.token = kind, method, note, list(headers), token
        self.path, self.body = enc(path), enc(body)


def token_case(rng, ctx):
    cid, secret = ctx.client["client_id"], ctx.client["client_secret"]
    form = [("grant_type", "client_credentials"), ("client_id", cid), ("client_secret", secret),
            ("audience", ctx.audience)]
    headers, body, method, notes = [("content-type", "application/x-www-form-urlencoded")], None, "POST", []
    for _ in range(1 if rng.random() < 0.7 else 2):
        mutation = rng.choice(["field"] * 6 + ["grant", "raw", "content_type", "oversized", "basic", "method", "empty"])
        notes.append(mutation)
        if mutation == "field":  # drop, repeat or replace one parameter, or add unknown ones
            name = rng.choice(["grant_type", "client_id", "client_secret", "audience", "scope", hostile_str(rng)[:64]])
            value = rng.choice([hostile_str(rng), "A" * rng.choice([10_000, 100_000, 1_000_000]), cid + "\x00",
                                secrets.token_urlsafe(32), secret[:-1] + "A", ctx.admin_secret, f"{ctx.issuer}/api",
                                " ".join(f"s{i}" for i in range(5000))])
            how = rng.choice(["drop", "repeat", "replace", "replace"])
            form = [p for p in form if p[0] != name or how == "repeat"] + ([] if how == "drop" else [(name, value)])
        elif mutation == "grant":
            grant = rng.choice(["", "CLIENT_CREDENTIALS", "password", "implicit", "authorization_code",
                                "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer", hostile_str(rng)])
            form = [("grant_type", grant)] + [p for p in form if p[0] != "grant_type"]
            form += [(k, hostile_str(rng)) for k in ("code", "redirect_uri", "code_verifier", "refresh_token",
                                                      "username", "password") if rng.random() < 0.4]
        elif mutation == "raw":  # raw bytes a form encoder would never send
            junk = rng.choice([b"\xff\xfe\xc3(", b"a\x00b", b"%zz%4", b"&&&==", b"%ff%fe=%c0%af", b"\xed\xa0\x80"])
            body = form_body(form).replace(b"client_id=", b"client_id=" + junk, 1)
        elif mutation == "content_type":
            ctype = rng.choice([None, "application/json", "text/plain", "multipart/form-data; boundary=x", "",
                                "application/x-www-form-urlencoded; charset=utf-16", "garbage/\x00", "a" * 9000])
            headers = [] if ctype is None else [("content-type", ctype)]
            body = json.dumps(dict(form)).encode() if ctype == "application/json" and rng.random() < 0.5 else body
        elif mutation == "oversized":
            body = form_body(form) + b"&pad=" + b"a" * (2 * 1024 * 1024 + rng.randrange(1, 5000))
        elif mutation == "basic":
            b64 = base64.b64encode
            creds = rng.choice([b"!!!not base64", b64(cid.encode()), b64(b"\xff\xfe:\x00"), b"", b"\x00", b"=" * 7,
                                b64(f"{cid}:x".encode()), b64(f"{cid}:{secret}".encode()), b64(b"a%00:b%zz"),
                                b"A" * 100_000])
            scheme = rng.choice([b"Basic ", b"basic ", b"Bearer ", b"Basic", b"Digest "])
            headers.append(("authorization", scheme + creds))
            form = form if rng.random() < 0.3 else [p for p in form if p[0] not in ("client_id", "client_secret")]
        elif mutation == "method":
            method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
        else:
            form, body = [], b""
    body = form_body(form) if body is None else body
    path = "/oauth2/token" + ("?" + form_body(form).decode() if method == "GET" else "")
    return Case("token", method, path, body, headers, f"{'+'.join(notes)} {body[:80]!r}")


def authorize_case(rng, ctx):
    roll = rng.random()
    if roll < 0.65:  # the authorization endpoint: a valid request with some parameters made hostile
        params = {"client_id": ctx.ids.get("app_id", "none"), "redirect_uri": "http://127.0.0.1:9/callback",
                  "response_type": "code", "scope": "openid", "state": "s", "nonce": "n"}
        for name in rng.sample(list(params) + ["code_challenge", "code_challenge_method", "prompt", "org_code",
                                               "audience", "max_age", hostile_str(rng)[:40]], rng.randrange(1, 5)):
            params[name] = rng.choice([hostile_str(rng), "x" * rng.choice([5000, 60000]), "plain", "none", "S256"])
        query = form_body(params.items())
        if rng.random() < 0.2:
            query += rng.choice([b"&%zz=1", b"&client_id=dup", b"&a=%ff%fe", b"&&=&", b"&x=%00"])
        return Case("authorize", "GET", b"/oauth2/auth?" + query, note=f"{query[:100]!r}")
    if roll < 0.8:  # the sign-in form
        fields = [(k, hostile_str(rng)) for k in rng.sample(
            ["email", "password", "csrf", "client_id", "redirect_uri", "state", "request"], rng.randrange(1, 6))]
        return Case("authorize", "POST", "/oauth2/auth", form_body(fields),
                    [("content-type", "application/x-www-form-urlencoded")], f"sign-in {form_body(fields)[:100]!r}")
    method, path = rng.choice([("GET", "/oauth2/userinfo"), ("POST", "/oauth2/userinfo"), ("POST", "/oauth2/revoke"),
                               ("GET", "/logout"), ("GET", "/oauth2/v2/user_profile")])
    value = hostile_str(rng)
    body = form_body([("token", value), ("token_type_hint", hostile_str(rng))]) if method == "POST" else b""
    if path == "/logout":
        path += "?" + form_body([("post_logout_redirect_uri", value), ("redirect", hostile_str(rng))]).decode()
    headers = [("authorization", b"Bearer " + header_safe(value)),
               ("content-type", "application/x-www-form-urlencoded")]
    return Case("authorize", method, path, body, headers, f"{value[:60]!r}")


def wellknown_case(rng, ctx):
    path = rng.choice(["/.well-known/openid-configuration", "/.well-known/jwks.json", "/.well-known/%00",
                       "/.well-known/" + urllib.parse.quote(enc(hostile_str(rng)[:3000]), safe=""),
                       "/.well-known/..%2f..%2fapi%2fv1%2fapplications", "/.well-known/a/../b",
                       "/.well-known/openid-configuration/extra", "/.well-known/jwks.json%00"])
    if rng.random() < 0.3:
        path += "?" + form_body([(hostile_str(rng)[:30], hostile_str(rng)[:3000])]).decode()
    method = "GET" if rng.random() < 0.6 else rng.choice(["POST", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW"])
    header = (rng.choice(["accept", "if-none-match", "range", "accept-encoding"]), header_safe(hostile_str(rng)[:2000]))
    return Case("wellknown", method, path, hostile_str(rng)[:500] if method != "GET" else b"", [header], path[:100])


def sample(schema, doc, rng, depth=0):
    """A plausible value for an OpenAPI schema, hostile now and then."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            return sample(rng.choice(schema[key]), doc, rng, depth)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if (kind == "object" or "properties" in schema) and depth < 5:
        return {k: sample(v, doc, rng, depth + 1) for k, v in schema.get("properties", {}).items()
                if k in schema.get("required", []) or rng.random() < 0.6}
    if kind == "array" and depth < 5:
        return [sample(schema.get("items", {}), doc, rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == "string":
        return f"chaos-{rng.randrange(10 ** 9)}" if rng.random() < 0.7 else hostile_str(rng)
    if kind in ("integer", "number"):
        return rng.choice([1, 10, 0, -1, 2 ** 31, 2 ** 53])
    return rng.random() < 0.5 if kind == "boolean" else hostile_json(rng)


def fill_path(template, rng, ids):
    def value(match):
        if match.group(1) in ids and rng.random() < 0.6:
            return urllib.parse.quote(ids[match.group(1)], safe="")
        return rng.choice(["0" * 32, "0", "-1", "%00", "a%00b", "x" * 5000, "%ff%fe", "..%2f..%2f", "%F0%9F%98%80",
                           urllib.parse.quote(enc(hostile_str(rng)[:200]), safe="")])
    return re.sub(r"\{(\w+)\}", value, template)


def management_case(rng, ctx):
    method, template, op = rng.choice(ctx.operations)
    path = "/api/v1" + fill_path(template, rng, ctx.ids)
    schema = next(iter(op.get("requestBody", {}).get("content", {}).values()), {}).get("schema")
    value = sample(schema, ctx.openapi, rng) if schema else {}
    query = [(p["name"], sample(p.get("schema", {}), ctx.openapi, rng)) for p in op.get("parameters", [])
             if p["in"] == "query" and rng.random() < 0.5]
    mutation = rng.choice(["schema", "invalid_json", "wrong_types", "nul", "huge_string", "deep_json",
                           "unknown_fields", "query_junk", "content_type", "oversized", "no_token", "empty"])
    headers, body, fields = [("content-type", "application/json")], None, isinstance(value, dict)
    if mutation == "invalid_json":
        body = rng.choice([b"{", b"{'a': 1}", b'{"a":1,}', b"\xff\xfe{}", b'{"a": NaN}', b"[1, 2", b"nul",
                           json.dumps(value).encode()[:-1], b'{"a":"\\x"}', b'{"a": 1} trailing'])
    elif mutation == "wrong_types" and fields:
        value = {k: rng.choice([[v], {"v": v}, 12345, True, None, "string"]) for k, v in value.items()} or [value]
    elif mutation in ("nul", "huge_string") and fields:
        filler = "a\x00b" if mutation == "nul" else "é" * (1 << 19)  # 1 MB of UTF-8
        value = {k: filler if rng.random() < 0.5 else v for k, v in value.items()} or {"name": filler}
    elif mutation == "deep_json":
        depth = rng.choice([200, 1600, 20000, 100000])
        body = rng.choice(['{"a":' * depth + "1" + "}" * depth, "[" * depth + "]" * depth]).encode()
    elif mutation == "unknown_fields":
        value = dict(value) if fields else {}
        value.update({hostile_str(rng)[:40] or "x": hostile_json(rng) for _ in range(rng.randrange(1, 5))})
    elif mutation == "query_junk":
        names = ["page_size", "next_token", "since", "until", "sort", "id", "code", hostile_str(rng)[:20]]
        query += [(rng.choice(names), rng.choice(["-1", "0", "1e9", "abc", "9" * 20, hostile_str(rng)[:5000]]))
                  for _ in range(rng.randrange(1, 4))]
    elif mutation == "content_type":
        headers = [("content-type", t) for t in rng.choice([[], ["text/plain"], ["application/x-www-form-urlencoded"],
                                                            ["application/json; charset=latin1"], ["\x01"]])]
    elif mutation == "oversized":
        body = b'{"name":"' + b"a" * (2 * 1024 * 1024 + rng.randrange(1, 5000)) + b'"}'
    elif mutation == "empty":
        body = b""
    elif mutation == "no_token":
        headers.append(("authorization", rng.choice([b"Bearer ", b"Bearer x.y.z", b"Bearer " + ctx.load_token.encode(),
                                                     b"Basic YTpi", b"Bearer \x00", b"Bearer " + b"a" * 60000])))
    body = json.dumps(value).encode() if body is None else body
    if query:
        path += "?" + form_body([(k, v if isinstance(v, str) else json.dumps(v)) for k, v in query]).decode()
    return Case("management", method.upper(), path, body, headers, f"{mutation} {body[:100]!r}", mutation != "no_token")


DEPTHS = [100, 1400, 1600, 1800, 20000]
HOSTILE_CODE = {  # name: (depth, rng) -> source placed above a valid settings export
    "parens": lambda d, r: "const x = " + "(" * d + "1" + ")" * d + ";",
    "arrays": lambda d, r: "const x = " + "[" * d + "]" * d + ";",
    "objects": lambda d, r: "const x = " + "{a:" * d + "1" + "}" * d + ";",
    "blocks": lambda d, r: "function f() " + "{" * d + "}" * d,
    "types": lambda d, r: "const x: " + "Array<" * d + "number" + ">" * d + " = [];",
    "templates": lambda d, r: "const x = " + "`${" * d + "1" + "}`" * d + ";",
    "statements": lambda d, r: "if (1) " * d + ";",  # nesting without brackets
    "arrows": lambda d, r: "const f = " + "() => " * d + "1;",
    "chain": lambda d, r: "const y = " + "1 + " * (d * 13) + "1;",
    "nul": lambda d, r: "const s = 'a\x00b';\x00",
    "huge": lambda d, r: "// " + "x" * (1024 * 1024 + d),
    "invalid": lambda d, r: " ".join(r.choice(
        ["function", "(", ")", "{", "}", "=>", "export", "default", "async", "await", "<", ">", "`", "${", "/*", "'",
         '"', "import", "from", ";", "\n", "type", "interface", ":", "as", "any", "class", "enum", "@", "#", "/",
         "yield", "new"]) for _ in range(r.randrange(5, 400))),
    "runtime": lambda d, r: r.choice(["while (true) {}", "function r() { return r(); } r();", "throw new Error('x');",
                                      "const a = []; for (;;) a.push(new Array(1e6));",
                                      "await new Promise(() => {});"]),
    "imports": lambda d, r: r.choice(['import fs from "fs"; fs.readFileSync("/etc/passwd");', 'require("fs");',
                                      'import x from "./missing"; x();', 'const m = await import("os");']),
}


def deploy_case(rng, ctx):
    kind = rng.choice(list(HOSTILE_CODE) + ["paths", "timeout", "many", "settings"])
    settings = '{ id: "fuzzFlow", trigger: "user:tokens_generation", bindings: { "kinde.accessToken": {} } }'
    path, extra, depth = "kindeSrc/environment/workflows/fuzzFlow/Workflow.ts", {}, rng.choice(DEPTHS)
    if kind == "statements":
        depth = rng.choice([300, 1000, 1600])  # quadratic work for the transpiler: keep it small
    code = HOSTILE_CODE[kind](depth, rng) if kind in HOSTILE_CODE else ""
    if kind == "paths":
        path = rng.choice(["../../etc/passwd", "/abs/Workflow.ts", "", "x" * 2000, path + "\x00", "a\\b.ts",
                           "😀/Workflow.ts", "Workflow.exe", "kindeSrc/environment/workflows//Workflow.ts"])
    elif kind == "timeout":
        extra["timeout_ms"] = rng.choice([-1, 0, 9, 30001, 2 ** 63, "100", 1.5, None, [], 10])
    elif kind == "settings":
        settings = rng.choice(['{ id: "fuzz\\u0000", trigger: "user:tokens_generation" }', "{ id: 1, trigger: [] }",
                               '{ trigger: "m2m:nope" }',
                               '{ id: "' + "i" * 5000 + '", trigger: "user:tokens_generation" }',
                               '{ id: "fuzzFlow", trigger: "user:tokens_generation", bindings: { "kinde.nope": {} } }',
                               "(() => ({ id: 'fuzzFlow' }))()", "null"])
    content = f"{code}\nexport const workflowSettings = {settings};\nexport default async function h(event) {{}}\n"
    files = [{"path": path, "content": content}]
    if kind == "many":
        files = [{"path": f"kindeSrc/environment/workflows/f{i % 50}/Workflow.ts", "content": content}
                 for i in range(rng.choice([60, 300]))]
    body = json.dumps(dict({"files": files}, **extra)).encode()
    return Case("deploy", "POST", "/api/v1/workflows/deployments", body, [("content-type", "application/json")],
                f"{kind} depth {depth}: {content[:60]!r}", token=True)


def make_case(seed, index, ctx):
    """Case `index` of `seed`: the same request whatever ran before it (ids of created objects aside)."""
    rng = random.Random(f"{seed}:{index}")
    generator = rng.choices([token_case, authorize_case, wellknown_case, management_case, deploy_case],
                            [30, 15, 10, 30, 15])[0]
    return generator(rng, ctx)


def raw_request(port, case, token, timeout):
    """Sends `case` byte for byte: (status, body); status 0 when closed unanswered, None on a hang."""
    head = [case.method.encode() + b" " + case.path + b" HTTP/1.1", b"host: 127.0.0.1", b"connection: close"]
    head += [enc(k) + b": " + enc(v) for k, v in case.headers]
    head += [b"authorization: Bearer " + token.encode()] if case.token else []
    head.append(b"content-length: %d" % len(case.body))
    data, chunks, deadline = b"\r\n".join(head) + b"\r\n\r\n" + case.body, [], now() + timeout
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # it answered before reading everything: read what it said
            while True:
                sock.settimeout(max(0.01, deadline - now()))
                chunks.append(sock.recv(65536))
                if not chunks[-1]:
                    break
    except socket.timeout:
        return None, b"".join(chunks)
    except ConnectionRefusedError:
        return 0, b"connection refused"
    except ConnectionResetError:
        pass
    raw = b"".join(chunks)  # NOTE: a chunked body keeps its chunk sizes; the checks do not mind
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return (int(match.group(1)), raw.partition(b"\r\n\r\n")[2]) if match else (0, raw[:200])


def judge(case, status, body, ctx):
    problems = ["hang"] if status is None else ["no answer"] if status == 0 else []
    if status and status >= 500:
        problems.append("503 with every service up" if status == 503 else "server error")
    text, sent = body.decode("utf-8", "replace"), case.path + case.body + b"".join(enc(v) for _, v in case.headers)
    # A secret counts as leaked when the request did not hold it: echoing the caller's input is no leak.
    if LEAK.search(text) or any(secret in text and secret.encode() not in sent for secret in ctx.known_secrets):
        problems.append("leak")
    return problems


def run_fuzz(ctx):
    ctx.operations = [(m, p, op) for p, methods in ctx.openapi.get("paths", {}).items() for m, op in methods.items()
                      if m in ("get", "post", "put", "patch", "delete")]
    stats, failing, crashes, started = {k: collections.Counter() for k in KINDS}, [], [], now()
    for index in [ctx.args.case] if ctx.args.case is not None else range(ctx.args.cases):
        case, sent = make_case(ctx.args.seed, index, ctx), now()
        status, body = raw_request(ctx.stack.http_port, case, ctx.mgmt_token, ctx.args.timeout)
        problems = judge(case, status, body, ctx)
        dead = check_crashes(ctx, f"fuzz case {index}")  # after every case: cheap, and names the case
        if dead:
            problems.append("crash")
            crashes += dead
            ctx.mgmt_token = management_token(ctx.stack)
        stats[case.kind].update(["cases", f"{status // 100}xx" if status else "hang" if status is None else "closed"]
                                + problems)
        if ctx.args.verbose:
            progress(f"  case {index} {case.kind} {case.method} {case.path[:60]!r} {case.note[:70]} -> {status} "
                     f"{body[:90]!r}")
        if problems:
            failing.append({"index": index, "kind": case.kind, "method": case.method, "status": status,
                            "path": case.path[:120].decode("utf-8", "replace"), "input": case.note[:200],
                            "problems": problems, "ms": ms(now() - sent),
                            "body": body[:300].decode("utf-8", "replace")})
            progress(f"  FAIL case {index} ({case.kind}) {case.method} {failing[-1]['path'][:70]}: {problems}, "
                     f"status {status}, {failing[-1]['ms']} ms: {failing[-1]['body'][:160]}")
        if (index + 1) % 250 == 0:
            progress(f"  fuzz {index + 1}/{ctx.args.cases} cases, {len(failing)} failing, {now() - started:.0f} s")
    return {"cases": sum(v["cases"] for v in stats.values()), "by_kind": {k: dict(v) for k, v in stats.items()}, "failing": failing,
            "crashes": crashes, "seconds": round(now() - started, 1)}
