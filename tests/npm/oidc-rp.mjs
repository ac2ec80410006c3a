// A real OpenID Connect relying party (openid-client, from the npm registry) signing a user in
// to claimflow with the authorization code flow + PKCE, the way a web app would:
//
//   1. discovery              4. code -> tokens (and ID token checks)
//   2. authorization URL      5. silent re-authentication (prompt=none) on the session cookie
//   3. browser: login form    6. refresh token grant
//                             7. UserInfo
//
// Prints one JSON object on stdout for the Rust end-to-end test; on any failure prints
// {"error": "...", "step": "..."} and exits 1 (details on stderr).
//
// Environment:
//   ISSUER         e.g. http://127.0.0.1:PORT (plain http is allowed for this test)
//   CLIENT_ID
//   CLIENT_SECRET  optional; without it the client is public (no client authentication)
//   TOKEN_ENDPOINT_AUTH_METHOD  optional: client_secret_post (default) or client_secret_basic
//   REDIRECT_URI   the callback; never fetched, the script reads the code off the redirect
//   EMAIL, PASSWORD
//   SCOPE          default "openid profile email offline"
//   AUDIENCE       optional extra authorization parameter `audience`
//   ORG_CODE       optional extra authorization parameter `org_code`
//
// What openid-client (v6, via oauth4webapi) checks on an ID token from the token endpoint:
//   - the JWS "alg" is the client's id_token_signed_response_alg, else one of the issuer's
//     id_token_signing_alg_values_supported, else RS256;
//   - iss, aud, exp, iat and sub are present; iss equals the discovered issuer exactly; aud is the
//     client_id (or an array containing it, with azp = client_id when there are other audiences);
//     exp is not past (30 s tolerance); nbf, if any, is not in the future; sub is a string;
//     auth_time, if any, is a number;
//   - after the code grant only: nonce equals the expected nonce (required when one is given).
// It does NOT verify the signature (that needs enableNonRepudiationChecks) nor at_hash, and after
// a refresh it checks no nonce at all. So this script verifies every ID token's signature
// against the issuer's jwks_uri with jose, and its at_hash against the access token.

import * as client from "openid-client";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createHash } from "node:crypto";

// The steps, in order; `step` names the one under way for the error report.
let step = "configuration";

async function main() {
  const env = readEnvironment();
  const result = {};

  // 1. Discovery: GET {ISSUER}/.well-known/openid-configuration; its "issuer" must equal ISSUER.
  step = "discovery";
  const config = await client.discovery(
    new URL(env.issuer),
    env.clientId,
    env.clientSecret,
    clientAuthentication(env),
    { execute: [client.allowInsecureRequests] },
  );
  const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  const browser = new Browser(env.issuer);

  // 2. The authorization request.
  step = "authorization_url";
  const first = await authorizationRequest(config, env);

  // 3. The browser: load the login page, fill in and post the form, land on the redirect URI.
  step = "login_page";
  const page = await browser.get(first.url);
  result.login_page_status = page.response.status;
  if (page.response.status !== 200) {
    throw new Error(`expected the login page (200), got ${page.response.status} ${page.location ?? ""}`);
  }
  const form = parseLoginForm(await page.response.text(), page.url);

  step = "login";
  form.fields.set("email", env.email);
  form.fields.set("password", env.password);
  const login = await browser.post(form.action, form.fields);
  result.login_status = login.response.status;
  const callback = expectCallback(login, env.redirectUri);

  // 4. Exchange the code; verify what openid-client leaves to us.
  step = "authorization_code_grant";
  const tokens = await exchangeCode(config, callback, first);
  result.access_token = tokens.access_token;
  result.id_token = tokens.id_token;
  result.refresh_token = tokens.refresh_token;
  result.expires_in = tokens.expires_in;
  result.scope = tokens.scope;
  result.id_claims = tokens.claims();

  step = "id_token_verification";
  const verified = await verifyIdToken(tokens.id_token, tokens.access_token, jwks, env, { requireAtHash: true });
  result.id_signature_verified = verified.signature;
  result.at_hash_verified = verified.atHash;

  // 5. Silent re-authentication: the session cookie alone must get a new code, no login page.
  step = "silent_authorization";
  const second = await authorizationRequest(config, env, { prompt: "none" });
  const silent = await browser.get(second.url);
  result.silent_status = silent.response.status;
  const silentCallback = expectCallback(silent, env.redirectUri);

  step = "silent_authorization_code_grant";
  const silentTokens = await exchangeCode(config, silentCallback, second);
  result.silent_access_token = silentTokens.access_token;
  result.silent_id_claims = silentTokens.claims();

  step = "silent_id_token_verification";
  const silentVerified = await verifyIdToken(silentTokens.id_token, silentTokens.access_token, jwks, env, {
    requireAtHash: true,
  });
  result.silent_id_signature_verified = silentVerified.signature;
  result.silent_at_hash_verified = silentVerified.atHash;

  // 6. Refresh (with the first grant's refresh token).
  step = "refresh_token_grant";
  if (!tokens.refresh_token) throw new Error("the code grant returned no refresh_token");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  result.refreshed_access_token = refreshed.access_token;
  result.refreshed_id_token = refreshed.id_token ?? null;
  result.refreshed_refresh_token = refreshed.refresh_token ?? null;
  result.refreshed_expires_in = refreshed.expires_in;
  result.refreshed_scope = refreshed.scope;
  result.refreshed_id_claims = refreshed.claims() ?? null;

  if (refreshed.id_token) {
    step = "refreshed_id_token_verification";
    const refreshedVerified = await verifyIdToken(refreshed.id_token, refreshed.access_token, jwks, env, {
      requireAtHash: false,
    });
    result.refreshed_id_signature_verified = refreshedVerified.signature;
    result.refreshed_at_hash_verified = refreshedVerified.atHash; // null when the claim is absent
  }

  // 7. UserInfo with the refreshed access token; its sub must be the ID token's.
  step = "userinfo";
  result.userinfo = await client.fetchUserInfo(config, refreshed.access_token, result.id_claims.sub);

  console.log(JSON.stringify(result));
}

function readEnvironment() {
  const required = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`environment variable ${name} is required`);
    return value;
  };
  return {
    issuer: required("ISSUER"),
    clientId: required("CLIENT_ID"),
    clientSecret: process.env.CLIENT_SECRET || undefined,
    authMethod: process.env.TOKEN_ENDPOINT_AUTH_METHOD || "client_secret_post",
    redirectUri: required("REDIRECT_URI"),
    email: required("EMAIL"),
    password: required("PASSWORD"),
    scope: process.env.SCOPE || "openid profile email offline",
    audience: process.env.AUDIENCE || undefined,
    orgCode: process.env.ORG_CODE || undefined,
  };
}

function clientAuthentication(env) {
  if (!env.clientSecret) return client.None();
  switch (env.authMethod) {
    case "client_secret_post":
      return client.ClientSecretPost(env.clientSecret);
    case "client_secret_basic":
      // Note: openid-client form-urlencodes the id and secret before base64 (RFC 6749 2.3.1).
      return client.ClientSecretBasic(env.clientSecret);
    default:
      throw new Error(`unsupported TOKEN_ENDPOINT_AUTH_METHOD ${env.authMethod}`);
  }
}

// A fresh authorization URL with its own PKCE verifier, state and nonce.
async function authorizationRequest(config, env, extra = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: env.redirectUri,
    scope: env.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  };
  if (env.audience) parameters.audience = env.audience;
  if (env.orgCode) parameters.org_code = env.orgCode;
  return { url: client.buildAuthorizationUrl(config, parameters), codeVerifier, state, nonce };
}

// The code grant; openid-client checks state (and iss, if the server sends it) on the callback
// URL, and the ID token as described at the top.
function exchangeCode(config, callbackUrl, request) {
  return client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}

// The response must be a redirect to the client's redirect URI; returns that URL.
function expectCallback({ response, location }, redirectUri) {
  if (![302, 303].includes(response.status) || !location?.startsWith(redirectUri)) {
    throw new Error(`expected a 302/303 to ${redirectUri}, got ${response.status} ${location ?? "(no Location)"}`);
  }
  return new URL(location);
}

// Signature (against the issuer's JWKS) and at_hash of an ID token.
async function verifyIdToken(idToken, accessToken, jwks, env, { requireAtHash }) {
  const { payload } = await jwtVerify(idToken, jwks, { issuer: env.issuer, audience: env.clientId });
  if (payload.at_hash === undefined) {
    if (requireAtHash) throw new Error("the ID token has no at_hash claim");
    return { signature: true, atHash: null };
  }
  // at_hash = base64url(left half of hash(access token)), the hash matching the JWS alg's size;
  // for EdDSA with Ed25519, SHA-512 (as the OpenID Foundation settled it).
  const { alg } = decodeProtectedHeader(idToken);
  const hash = alg === "EdDSA" ? "sha512" : { 256: "sha256", 384: "sha384", 512: "sha512" }[alg.slice(-3)];
  if (!hash) throw new Error(`no at_hash hash function known for alg ${alg}`);
  const digest = createHash(hash).update(accessToken, "ascii").digest();
  const expected = digest.subarray(0, digest.length / 2).toString("base64url");
  if (payload.at_hash !== expected) {
    throw new Error(`at_hash mismatch: the ID token says ${payload.at_hash}, the access token hashes to ${expected}`);
  }
  return { signature: true, atHash: true };
}

// A minimal browser: a cookie jar for the issuer's origin, and redirects followed by hand while
// they stay on the issuer (a redirect anywhere else, e.g. to the redirect URI, is returned).
class Browser {
  constructor(issuer) {
    this.origin = new URL(issuer).origin;
    this.cookies = new Map(); // name -> value; paths, domains and expiry dates are ignored
  }

  get(url) {
    return this.request(url, { method: "GET" });
  }

  post(url, fields) {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }

  // Returns { response, url (of the last request), location (absolute, if a redirect) }.
  async request(url, init, hops = 0) {
    url = new URL(url);
    const headers = { ...init.headers };
    if (url.origin === this.origin && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    if (url.origin === this.origin) this.store(response.headers.getSetCookie());

    const header = response.headers.get("location");
    const location = header ? new URL(header, url).href : undefined;
    const onIssuer = location && new URL(location).origin === this.origin;
    if ([301, 302, 303, 307, 308].includes(response.status) && onIssuer) {
      if (hops >= 10) throw new Error(`too many redirects, last to ${location}`);
      await response.body?.cancel();
      // Like a browser: 303 (and 301/302 after a POST) become a GET.
      const next = [307, 308].includes(response.status) ? init : { method: "GET" };
      return this.request(location, next, hops + 1);
    }
    return { response, url: url.href, location };
  }

  store(setCookies) {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(";");
      const separator = pair.indexOf("=");
      if (separator < 1) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(attribute));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

// Finds the login form (a POST form with a password input) and returns its absolute action and
// the fields a browser would submit: every named input with its value (checkboxes and radio
// buttons only when checked; submit buttons not at all).
function parseLoginForm(html, pageUrl) {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)];
  const form = forms.find(([, attributes, body]) => {
    const method = parseAttributes(attributes).get("method") ?? "get";
    return method.toLowerCase() === "post" && /<input\b[^>]*\btype\s*=\s*["']?password\b/i.test(body);
  });
  if (!form) throw new Error(`no POST form with a password field in the login page: ${html.slice(0, 500)}`);

  const action = new URL(parseAttributes(form[1]).get("action") ?? "", pageUrl).href;
  const fields = new Map();
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const attributes = parseAttributes(input.slice("<input".length, -1));
    const name = attributes.get("name");
    const type = (attributes.get("type") ?? "text").toLowerCase();
    if (!name || ["submit", "button", "image", "reset", "file"].includes(type)) continue;
    if (["checkbox", "radio"].includes(type) && !attributes.has("checked")) continue;
    fields.set(name, attributes.get("value") ?? (type === "checkbox" || type === "radio" ? "on" : ""));
  }
  if (!fields.has("email")) throw new Error("the login form has no email field");
  return { action, fields };
}

// `name="value"`, `name='value'`, `name=value` and bare `name` attributes, values decoded.
function parseAttributes(text) {
  const attributes = new Map();
  const pattern = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const [, name, doubleQuoted, singleQuoted, unquoted] of text.matchAll(pattern)) {
    const value = doubleQuoted ?? singleQuoted ?? unquoted ?? "";
    attributes.set(name.toLowerCase(), decodeHtml(value));
  }
  return attributes;
}

function decodeHtml(text) {
  const named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (entity, code) => {
    const lower = code.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return named[lower];
  });
}

// openid-client's own messages are generic ("invalid response encountered"); the specific reason
// is down the cause chain, an OAuth error carries error/error_description, and an unexpected
// HTTP response is attached as the cause (its status and the start of its body are shown).
async function describe(err) {
  const parts = [];
  let e = err;
  for (; e instanceof Error && parts.length < 5; e = e.cause) {
    let part = e.message;
    if (e.code) part += ` [${e.code}]`;
    if (e.error) part += ` (${e.error}${e.error_description ? `: ${e.error_description}` : ""})`;
    parts.push(part);
  }
  if (e instanceof Response) {
    const body = await e.text().catch(() => "");
    parts.push(`HTTP ${e.status} ${body.slice(0, 300)}`.trim());
  }
  return parts.join(": ") || String(err);
}

// Run last, once every declaration above (the Browser class included) is initialized.
try {
  await main();
} catch (err) {
  console.error(`oidc-rp failed at step ${step}:`, err);
  console.log(JSON.stringify({ error: await describe(err), step }));
  process.exit(1);
}

