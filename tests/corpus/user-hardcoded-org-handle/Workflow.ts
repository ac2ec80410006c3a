// Source: VireoEnergySwinburne/vireo-kinde-workflows kindeSrc/environment/workflows/AddOrgHandleToTokenWorkflow.ts @ cb4195a73631b9d629f164dcc5503c0e6558cd1e (MIT)
import {
  onUserTokenGeneratedEvent,
  WorkflowTrigger,
  WorkflowSettings,
  accessTokenCustomClaims,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "add_org_handle",
  name: "Add Organization Handle to Access Token",
  trigger: WorkflowTrigger.UserTokenGeneration,
  failurePolicy: {
    action: "stop",
  },
  bindings: {
    "kinde.accessToken": {},
    "kinde.mfa": {},
  },
};

export default async function (event: onUserTokenGeneratedEvent) {
  // const userId = event.context.user.id;

  const orgHandle = "vireo-energy";
  console.warn(
    `currently using hard-coded org handle '${orgHandle}' for debug purposes`,
  );

  const claims = accessTokenCustomClaims<{ org_handle?: string }>();
  claims.org_handle = orgHandle;
}
