// claimflow workflow sandbox bootstrap: runs once per isolate, before the workflow module.
//
// It builds the global `kinde` object with exactly the bindings the workflow declared, routes
// `console` into the run log, and then removes `Deno` and `__bootstrap` so user code cannot
// reach the raw ops. It must never expose an op directly: every capability goes through a
// closure that checks its arguments.
((ops, bindings) => {
  "use strict";
  const { op_claims_get, op_claims_set, op_console, op_deny_access } = ops;
  const declared = new Set(bindings);

  const describe = (value) => {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack || String(value);
    if (value === undefined) return "undefined";
    if (typeof value === "function") return `[Function ${value.name || "anonymous"}]`;
    try {
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch {
      return String(value);
    }
  };
  const logger = (level) => (...args) => op_console(level, args.map(describe).join(" "));
  const console = Object.freeze({
    log: logger("log"),
    info: logger("info"),
    warn: logger("warn"),
    error: logger("error"),
    debug: logger("log"),
  });

  const tokenBinding = (kind) =>
    Object.freeze({
      getCustomClaims: () => op_claims_get(kind),
      setCustomClaim: (name, value) => {
        if (typeof name !== "string" || name.length === 0) {
          throw new TypeError("setCustomClaim: the claim name must be a non-empty string");
        }
        // Round-trip through JSON so what is stored is exactly what a JWT can carry.
        const json = JSON.stringify(value);
        op_claims_set(kind, name, json === undefined ? "null" : json);
      },
    });

  const kinde = {};
  if (declared.has("kinde.accessToken")) kinde.accessToken = tokenBinding("access");
  if (declared.has("kinde.idToken")) kinde.idToken = tokenBinding("id");
  if (declared.has("kinde.m2mToken")) kinde.m2mToken = tokenBinding("m2m");
  if (declared.has("kinde.auth")) {
    kinde.auth = Object.freeze({
      denyAccess: (reason) => op_deny_access(String(reason ?? "access denied by workflow")),
    });
  }

  Object.defineProperty(globalThis, "kinde", { value: Object.freeze(kinde), enumerable: false });
  Object.defineProperty(globalThis, "console", { value: console, enumerable: false, writable: true });
  delete globalThis.Deno;
  delete globalThis.__bootstrap;
})
