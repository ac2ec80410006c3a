// Source: Koosha-Owji/FixingWorkflow kindeSrc/environment/workflows/debugClaimsWorkflow.ts @ 09a45c22b09afd52412c9f2780ef7a8a48326f8c (MIT)
import {
  onUserTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
  idTokenCustomClaims,
  accessTokenCustomClaims,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "debugClaimsWorkflow",
  name: "Debug Claims Workflow",
  trigger: WorkflowTrigger.UserTokenGeneration,
  failurePolicy: { action: "stop" },
  bindings: {
    "kinde.idToken": {},
    "kinde.accessToken": {},
  },
};

export default async function handleTokenGeneration(
  event: onUserTokenGeneratedEvent
) {
  // Use the infrastructure helpers to access all token claims
  const idToken = idTokenCustomClaims<Record<string, any>>();
  const accessToken = accessTokenCustomClaims<Record<string, any>>();

  // Log all existing claims for inspection
  console.log("ID Token Claims:", idToken);
  console.log("Access Token Claims:", accessToken);
}
