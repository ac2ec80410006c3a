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

const requireBinding = (name, message) => {
  if (!kinde[name]) throw new Error(message);
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

export function denyAccess(reason) {
  requireBinding("auth", "auth binding not available").denyAccess(reason);
}
