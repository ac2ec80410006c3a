// Source: Krish0369/workflowtest kindeSrc/environment/workflows/postUserAuthentication/Workflow.ts @ 08b0efef401d89d75c8be27414a20574d47a1cb1 (MIT)
import type { onM2mTokenGeneratedEvent } from "@kinde/infrastructure";

export const workflowSettings = {
  id: "addExternalOrgId",
  trigger: "m2m:token_generation",
  bindings: { "kinde.m2mToken": {} }
};

export default async function (event: onM2mTokenGeneratedEvent) {
  kinde.m2mToken.setCustomClaim("external_org_id", "acme-42");
}
