// Source: oliwolffkinde/kinde-workflows-6nov2024 kindeSrc/environment/workflows/userToken/userTokenWorkflow.ts @ 067ba1b66bdb0e2edcba5bb49e24f1e032cc1b31 (Apache-2.0)
import {
    onUserTokenGeneratedEvent,
    getKindeAccessTokenHandle,
    WorkflowSettings,
    WorkflowTrigger,
  } from "@kinde/infrastructure";
  
  export const workflowSettings: WorkflowSettings = {
    id: "addAccessTokenClaim",
    trigger: WorkflowTrigger.UserTokenGeneration,
  };
  
  export default {
    async handle(event: onUserTokenGeneratedEvent) {
      const accessToken = accessTokenCustomClaims<{
        hello: string;
      }>();
  
      accessToken.hello = "Hello there!";
    },
  };