// Source: davidkinde/davidkinde_workflows_public kindeSrc/environment/workflows/accessTokenTest/authWorkflow.ts @ 7fd315eb2ca9eee0b10152cee9729559f23d32f9 (ISC)
import {hello} from "./hello"

export const workflowSettings = {
    id: 'addAccessTokenClaim',
    trigger: 'm2m:token_generation',
    resetClaims: true
};

export default {
    async handle(event: any) {
        kinde.accessToken.setCustomClaim('hello', 'world');
        return 'testing add user token claim';
    },

}