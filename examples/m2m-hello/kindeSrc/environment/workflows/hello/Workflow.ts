import {
  onM2MTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
  m2mTokenClaims,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "m2mHello",
  name: "Hello claim on M2M tokens",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  failurePolicy: { action: "stop" },
  bindings: {
    "kinde.m2mToken": {},
  },
};

// Stamps every M2M token with a greeting and the application it was issued to.
export default async function handleM2M(event: onM2MTokenGeneratedEvent): Promise<void> {
  kinde.m2mToken.setCustomClaim("hello", "world");
  const claims = m2mTokenClaims<{ applicationId: string }>();
  claims.applicationId = event.context.application.clientId;
  console.log("stamped token for", event.context.application.clientId);
}
