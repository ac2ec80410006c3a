// claimflow workflow sandbox bootstrap: runs first in every run's fresh V8 context, before the
// workflow module.
//
// It builds the global `kinde` object with the bindings the workflow declared (and those Kinde
// provides undeclared: kinde.cache, kinde.fetch to its own API, URL/URLSearchParams), routes
// `console` into the run log, and removes what a workflow has no use for and could use to
// outlive its run or its heap limit (weak-reference callbacks, WebAssembly, shared memory).
// It must never expose `host` or one of its functions directly: every capability goes through a
// closure that checks its arguments, and every structured value is parsed here, in this context.
((host, bindings) => {
  "use strict";
  // NOTE: taken now, so a workflow that replaces JSON cannot break the bindings it calls.
  const { parse: parseJson, stringify } = JSON;
  const parse = (json) => (json === undefined ? undefined : parseJson(json));
  const op_claims_get = (kind) => parse(host.claimsGet(kind));
  const op_claims_set = (kind, name, json) => host.claimsSet(kind, name, json);
  const op_console = (level, message) => host.console(level, message);
  const op_deny_access = (reason) => host.denyAccess(reason);
  const op_set_session_policy = (policy) => host.setSessionPolicy(policy);
  const op_invalidate_form_field = (field, message) => host.invalidateFormField(field, message);
  const op_set_mfa_enforcement = (policy) => host.setMfaEnforcement(policy);
  const op_env_get = (key) => parse(host.envGet(key));
  const op_fetch = (request) => parse(host.fetch(stringify(request)));
  const op_secure_fetch = (request) => parse(host.secureFetch(stringify(request)));
  const op_issuer_fetch = (request) => parse(host.issuerFetch(stringify(request)));
  const op_cache_get = (name) => host.cacheGet(name);
  const op_cache_put = (name, token, jwksUrl) => host.cachePut(name, token, jwksUrl);
  const op_url_parse = (href, base) => parse(host.urlParse(href, base));
  const declared = new Set(bindings);

  for (const name of ["WebAssembly", "FinalizationRegistry", "WeakRef", "SharedArrayBuffer", "Atomics"]) {
    delete globalThis[name];
  }

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
  if (declared.has("kinde.ssoSession")) {
    kinde.ssoSession = Object.freeze({ setPolicy: (policy) => op_set_session_policy(String(policy)) });
  }
  if (declared.has("kinde.mfa")) {
    kinde.mfa = Object.freeze({ setEnforcementPolicy: (policy) => op_set_mfa_enforcement(String(policy ?? "")) });
  }
  if (declared.has("kinde.widget")) {
    kinde.widget = Object.freeze({
      invalidateFormField: (field, message) => op_invalidate_form_field(String(field ?? ""), String(message ?? "")),
    });
  }

  // --- url binding: URLSearchParams and URL (WHATWG behaviour for what workflows use) ---
  const formEncode = (text) =>
    encodeURIComponent(text).replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, "+");
  const formDecode = (text) => {
    try {
      return decodeURIComponent(text.replace(/\+/g, " "));
    } catch {
      return text;
    }
  };
  class URLSearchParams {
    #entries = [];
    #onChange = null;
    constructor(init = "") {
      if (typeof init === "string") {
        const query = init.startsWith("?") ? init.slice(1) : init;
        for (const pair of query.split("&")) {
          if (pair === "") continue;
          const at = pair.indexOf("=");
          const name = at < 0 ? pair : pair.slice(0, at);
          const value = at < 0 ? "" : pair.slice(at + 1);
          this.#entries.push([formDecode(name), formDecode(value)]);
        }
      } else if (init instanceof URLSearchParams) {
        this.#entries = [...init.entries()];
      } else if (init !== null && typeof init === "object") {
        const pairs = typeof init[Symbol.iterator] === "function" ? init : Object.entries(init);
        for (const pair of pairs) {
          const [name, value] = pair;
          this.#entries.push([String(name), String(value)]);
        }
      }
    }
    static _bind(params, onChange) {
      params.#onChange = onChange;
      return params;
    }
    #changed() {
      if (this.#onChange) this.#onChange(this.toString());
    }
    get size() { return this.#entries.length; }
    append(name, value) { this.#entries.push([String(name), String(value)]); this.#changed(); }
    delete(name) { this.#entries = this.#entries.filter(([n]) => n !== String(name)); this.#changed(); }
    get(name) { const found = this.#entries.find(([n]) => n === String(name)); return found ? found[1] : null; }
    getAll(name) { return this.#entries.filter(([n]) => n === String(name)).map(([, v]) => v); }
    has(name) { return this.#entries.some(([n]) => n === String(name)); }
    set(name, value) {
      name = String(name);
      const index = this.#entries.findIndex(([n]) => n === name);
      if (index < 0) {
        this.#entries.push([name, String(value)]);
      } else {
        this.#entries[index][1] = String(value);
        this.#entries = this.#entries.filter(([n], i) => n !== name || i === index);
      }
      this.#changed();
    }
    sort() { this.#entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this.#changed(); }
    forEach(callback, thisArg) { for (const [n, v] of this.#entries) callback.call(thisArg, v, n, this); }
    keys() { return this.#entries.map(([n]) => n)[Symbol.iterator](); }
    values() { return this.#entries.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this.#entries.map(([n, v]) => [n, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#entries.map(([n, v]) => formEncode(n) + "=" + formEncode(v)).join("&"); }
  }
  class URL {
    #parts;
    #searchParams;
    constructor(url, base) {
      this.#parts = op_url_parse(String(url), base === undefined ? null : String(base));
      this.#searchParams = URLSearchParams._bind(new URLSearchParams(this.#parts.search), (query) => {
        this.#parts = op_url_parse(this.#parts.href.split("#")[0].split("?")[0] + (query ? "?" + query : "") + this.#parts.hash, null);
      });
    }
    get href() { return this.#parts.href; }
    get origin() { return this.#parts.origin; }
    get protocol() { return this.#parts.protocol; }
    get username() { return this.#parts.username; }
    get password() { return this.#parts.password; }
    get host() { return this.#parts.host; }
    get hostname() { return this.#parts.hostname; }
    get port() { return this.#parts.port; }
    get pathname() { return this.#parts.pathname; }
    get search() { return this.#parts.search; }
    get hash() { return this.#parts.hash; }
    get searchParams() { return this.#searchParams; }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }

  // --- kinde.fetch: synchronous, as Kinde's runtime (and `await` works on the result too) ---
  const headerPairs = (headers) => {
    if (!headers) return [];
    const entries = typeof headers.entries === "function" && !Array.isArray(headers) ? [...headers.entries()] : Array.isArray(headers) ? headers : Object.entries(headers);
    return entries.map(([name, value]) => [String(name), String(value)]);
  };
  const requestBody = (body) => {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return body;
    if (body instanceof URLSearchParams) return body.toString();
    return JSON.stringify(body);
  };
  const fetcher = (op) => (url, options = {}) => {
    const response = op({
      url: String(url),
      method: options.method ? String(options.method) : null,
      headers: headerPairs(options.headers),
      body: requestBody(options.body),
    });
    const headers = Object.fromEntries(response.headers);
    const result = { status: response.status, ok: response.status >= 200 && response.status < 300, headers };
    const contentType = headers["content-type"] || "";
    const format = options.responseFormat || (contentType.includes("json") ? "json" : "text");
    if (format === "json") {
      try {
        result.json = response.body === "" ? null : JSON.parse(response.body);
      } catch {
        throw new Error(`kinde.fetch ${url}: the response (status ${response.status}) is not JSON`);
      }
    } else {
      result.text = response.body;
    }
    return result;
  };
  const kindeFetch = fetcher(op_fetch);

  if (declared.has("kinde.env")) {
    kinde.env = Object.freeze({ get: (key) => op_env_get(String(key)) ?? undefined });
  }
  // NOTE: Kinde runs createKindeAPI (which calls kinde.fetch) in workflows that never declared
  // kinde.fetch, among them its official examples: undeclared, kinde.fetch reaches claimflow's
  // own API and nothing else (enforced by the host, not here).
  kinde.fetch = declared.has("kinde.fetch") ? kindeFetch : fetcher(op_issuer_fetch);
  if (declared.has("kinde.secureFetch")) kinde.secureFetch = fetcher(op_secure_fetch);
  // NOTE: Kinde provides kinde.cache whatever the settings declare (no public workflow declares
  // it, and @kinde/infrastructure's getM2MToken calls it unguarded).
  {
    kinde.cache = Object.freeze({
      jwtToken: async (name, options = {}) => {
        const cached = op_cache_get(String(name));
        if (cached) return cached;
        if (typeof options.onMissingOrExpired !== "function") {
          throw new TypeError("kinde.cache.jwtToken: onMissingOrExpired must be a function");
        }
        const token = await options.onMissingOrExpired();
        const jwksUrl = options.validation?.key?.jwks?.url;
        if (typeof token === "string" && jwksUrl) op_cache_put(String(name), token, String(jwksUrl));
        return token;
      },
    });
  }
  // NOTE: parsing only, no capability: present whether or not `url` is declared, as
  // createKindeAPI needs URLSearchParams in Kinde's examples that do not declare it.
  Object.defineProperty(globalThis, "URLSearchParams", { value: URLSearchParams, enumerable: false, writable: true });
  Object.defineProperty(globalThis, "URL", { value: URL, enumerable: false, writable: true });

  Object.defineProperty(globalThis, "kinde", { value: Object.freeze(kinde), enumerable: false });
  Object.defineProperty(globalThis, "console", { value: console, enumerable: false, writable: true });
})
