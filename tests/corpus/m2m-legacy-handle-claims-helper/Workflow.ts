// Source: davidkinde/davidkinde_workflows_public kindeSrc/environment/workflows/accessTokenTest/m2mWorkflow.ts @ c06f0ea83e6a10b5b74a3fb890e330a5eb2c2726 (ISC)
import {
  m2mTokenClaims,
  onUserTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "addM2MTokenClaim",
  trigger: WorkflowTrigger.M2MTokenGeneration,
};

export default {
  async handle(event: onUserTokenGeneratedEvent) {
    const m2mToken = m2mTokenClaims<{
      hello: string;
    }>();

    m2mToken.hello = "World!";
  },
};