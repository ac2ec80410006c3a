// Source: DanielRivers/davidkinde_workflows_public kindeSrc/environment/workflows/accessTokenTest/m2mWorkflow.ts @ 9f2095288e9221a4483d9ad742ded1655dfd2dce (ISC)
import { onM2MTokenGeneratedEvent, WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure"

export const workflowSettings: WorkflowSettings = {
    id: "addM2MTokenClaim",
    trigger: WorkflowTrigger.M2MTokenGeneration,
    // resetClaims: true,
    bindings: {
      console: {},
      "kinde.fetch": {},
      "kinde.idToken": {
        resetClaims: true,
      },
      "kinde.accessToken": {
        resetClaims: true,
      },
    },
  };
  
  export default {
    async handle(event: onM2MTokenGeneratedEvent) {
      return "testing m2m tokens";
    },
  };
  