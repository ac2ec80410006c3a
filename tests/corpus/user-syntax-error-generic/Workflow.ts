// Source: DanielRivers/custom-ui-play kindeSrc/environment/workflows/postUserAuthentication/Workflow.ts @ ae9b2d14fb9dbb5029bc3ac11105bd5d7d929fc8 (MIT)
import {
  onUserTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
  accessTokenCustomClaims,
  getEnvironmentVariable,
  denyAccess,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "nonPersistentSessionWorkflow",
  name: "Non Persistent Session Workflow",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {
    "kinde.accessToken": {},
    "kinde.ssoSession": {},
    "kinde.env": {},
    "kinde.auth": {}
  },
  failurePolicy: {
    action: "stop",
  },
};

export default async function NonPersistentSessionWorkflow(
  event: onUserTokenGeneratedEvent
) {
  const accessToken = accessTokenCustomClaims<{someArray: string[]}();
  accessToken.someArray = ['test','test2'];
  console.log('completed')
  
  // denyAccess("Everyone is denied!")

  // const nonPersistentConnectionIDs = getEnvironmentVariable(
  //   "NON_PERSISTENT_SESSION_CONNECTION_IDS"
  // ).value?.split(",") || [];

  // console.log("nonPersistentConnectionIDs:", nonPersistentConnectionIDs);
  // if (nonPersistentConnectionIDs.includes(event.context.auth.connectionId)) {
  //   console.log("Matched connection, setting sso session policy to non_persistent");
  //   kinde.ssoSession.setPolicy("non_persistent");
  // }
}
