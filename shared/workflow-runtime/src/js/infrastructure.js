// The built-in module behind `import ... from "@kinde/infrastructure"`.
//
// claimflow's own implementation of the exports of the npm package @kinde/infrastructure
// (0.9.x): same names, same behaviour, same error texts, calling the global `kinde` object the
// sandbox provides.

export const WorkflowTrigger = Object.freeze({
  UserTokenGeneration: "user:tokens_generation",
  UserPreMFA: "user:pre_mfa",
  PostAuthentication: "user:post_authentication",
  M2MTokenGeneration: "m2m:token_generation",
  ExistingPasswordProvided: "user:existing_password_provided",
  NewPasswordProvided: "user:new_password_provided",
  PlanSelection: "user:plan_selection",
  PlanCancellationRequest: "user:plan_cancellation_request",
  UserPreRegistration: "user:pre_registration",
  NewUsernameProvided: "user:new_username_provided",
});

export const Scopes = Object.freeze({ email: "email", profile: "profile", openid: "openid", offline_access: "offline" });
export const PromptTypes = Object.freeze({ none: "none", create: "create", login: "login" });
export const version = "0.9.0";

// Kinde's error text, and the binding to declare.
const requireBinding = (name, message) => {
  if (!kinde[name]) throw new Error(`${message} (add "kinde.${name}": {} to workflowSettings.bindings)`);
  return kinde[name];
};

// Reading a claim goes to the snapshot; assigning one also sets it on the token.
const claimsProxy = (binding) =>
  new Proxy(binding.getCustomClaims(), {
    get: (target, property, receiver) => Reflect.get(target, property.toString(), receiver),
    set: (target, property, value, receiver) => {
      binding.setCustomClaim(property, value);
      return Reflect.set(target, property, value, receiver);
    },
  });

export function idTokenCustomClaims() {
  return claimsProxy(
    requireBinding("idToken", "IdToken binding not available, please add to workflow/page settings to enable"),
  );
}

export function accessTokenCustomClaims() {
  return claimsProxy(
    requireBinding("accessToken", "accessToken binding not available, please add to workflow/page settings to enable"),
  );
}

export function m2mTokenClaims() {
  return claimsProxy(
    requireBinding("m2mToken", "m2mToken binding not available, please add to workflow/page settings to enable"),
  );
}

export function getEnvironmentVariable(key) {
  return requireBinding("env", "env binding not available, please add to workflow/page settings to enable").get(key);
}

export function invalidateFormField(fieldName, message) {
  requireBinding("widget", "widget binding not available").invalidateFormField(fieldName, message);
}

export function setEnforcementPolicy(policy) {
  requireBinding("mfa", "mfa binding not available").setEnforcementPolicy(policy);
}

export function denyAccess(reason) {
  requireBinding("auth", "auth binding not available").denyAccess(reason);
}

export function getLocalization(key) {
  return requireBinding("localization", "localization binding not available, please add to workflow/page settings to enable").get(key);
}

export async function fetch(url, options) {
  const fetcher = requireBinding("fetch", "fetch binding not available");
  if (!options.responseFormat) options.responseFormat = "json";
  const response = await fetcher(url, options);
  return { data: options.responseFormat === "json" ? response?.json : response.text };
}

export async function secureFetch(url, options) {
  const fetcher = requireBinding("secureFetch", "secureFetch binding not available");
  if (!options.responseFormat) options.responseFormat = "json";
  return { data: (await fetcher(url, options))?.json };
}

// Gets a client_credentials token from `${domain}/oauth2/token`, cached with kinde.cache and
// validated against `${domain}/.well-known/jwks.json` unless `skipCache`.
export async function getM2MToken(name, options) {
  const obtain = () => {
    if (!options.domain || !options.clientId || !options.clientSecret) {
      throw new Error("getM2MToken: Missing required parameters");
    }
    try {
      const response = kinde.fetch(`${options.domain}/oauth2/token`, {
        method: "POST",
        responseFormat: "json",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          ...options.headers,
        },
        body: new URLSearchParams({
          audience: options.audience?.join(" ") ?? "",
          grant_type: "client_credentials",
          client_id: options.clientId,
          client_secret: options.clientSecret,
          scope: options.scopes?.join(" ") ?? "",
        }),
      });
      if (!response.json?.access_token) throw new Error("getM2MToken: No access token returned");
      return response.json.access_token;
    } catch (error) {
      throw new Error(`getM2MToken: Failed to obtain token - ${error.message}`);
    }
  };
  if (options.skipCache) return obtain();
  return await kinde.cache.jwtToken(name, {
    validation: { key: { type: "jwks", jwks: { url: `${options.domain}/.well-known/jwks.json` } } },
    onMissingOrExpired: obtain,
  });
}

// A client for the issuer's management API, authenticated with an M2M application whose
// credentials are in the environment variables KINDE_WF_M2M_CLIENT_ID / _SECRET (or given).
export async function createKindeAPI(event, options) {
  let clientId;
  let clientSecret;
  if (!URLSearchParams) throw new Error("url binding not available");
  if (options?.clientId && options?.clientSecret) {
    clientId = options.clientId;
    clientSecret = options.clientSecret;
  } else if (options?.clientIdKey && options?.clientSecretKey) {
    clientId = getEnvironmentVariable(options.clientIdKey)?.value;
    clientSecret = getEnvironmentVariable(options.clientSecretKey)?.value;
  } else {
    clientId = getEnvironmentVariable("KINDE_WF_M2M_CLIENT_ID")?.value;
    clientSecret = getEnvironmentVariable("KINDE_WF_M2M_CLIENT_SECRET")?.value;
    if (!clientId) throw new Error("M2M client ID not set");
    if (!clientSecret) throw new Error("M2M client secret not set");
  }
  const domain = event.context.domains.kindeDomain;
  let token = await getM2MToken("internal_m2m_access_token", {
    domain,
    clientId,
    clientSecret,
    audience: [`${domain}/api`],
    skipCache: options?.skipCache ?? false,
  });
  if (typeof token === "object") token = JSON.stringify(token);
  token = String(token).replace(/"/g, "");
  const call = async ({ method, endpoint, params, contentType = "application/json" }) => {
    let body;
    if (params) body = method === "GET" ? new URLSearchParams(params).toString() : params;
    const response = await kinde.fetch(`${domain}/api/v1/${endpoint}`, {
      method,
      responseFormat: "json",
      headers: { authorization: `Bearer ${token}`, "Content-Type": contentType, accept: "application/json" },
      body: body ?? undefined,
    });
    return { data: response.json };
  };
  return {
    get: async (request) => await call({ method: "GET", ...request }),
    post: async (request) => await call({ method: "POST", ...request }),
    patch: async (request) => await call({ method: "PATCH", ...request }),
    put: async (request) => await call({ method: "PUT", ...request }),
    delete: async (request) => await call({ method: "DELETE", ...request }),
  };
}
