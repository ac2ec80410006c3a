// Source: davidkinde/davidkinde_workflows_public kindeSrc/environment/workflows/idTokenTest/userTokensWorkflow.ts @ c608530da3ab368d156e611ff96603f1ec0359d6 (ISC)
import {hello} from "./hello"

export const workflowSettings = {
    id: 'addUserTokenClaim1',
    name: 'my claim updater',
    trigger: 'user:tokens_generation',
    bindings: {
        console: {},
        'kinde.fetch': {},
        'kinde.idToken': {
            resetClaims: true
        },
        'kinde.accessToken': {
            resetClaims: true
        }
    }
};

export default {
    async handle(event: any) {
         const res = await kinde.fetch(
              'https://api.stakesocial.com/v1/get_sports',
              {
                method: 'GET',
                responseFormat: 'json'
              }
        );
        
        console.log('stakeRes', res);
        kinde.accessToken.setCustomClaim('sport', res.json.data[0].name);

        kinde.idToken.setCustomClaim('sport', res.json.data[1].name);
        
        return 'testing add user tokens claim';
    },

}
