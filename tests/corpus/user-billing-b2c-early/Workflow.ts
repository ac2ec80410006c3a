// Source: ahn-nath/workflows-base-kinde-ahnnath kindeSrc/environment/workflows/myWorkflow.ts @ 76e530ce11de59fc1bbe079beaaee816675f0435 (MIT)
import { createKindeAPI } from "@kinde/infrastructure";


export const workflowSettings = {
    id: "onTokenGeneration",
    trigger: "user:tokens_generation",
    bindings: {
        "kinde.accessToken": {},
        "kinde.idToken": {},
        "kinde.env": {}, 
        url: {} // Enables URLSearchParams in the workflow environment
    }
};

// {request, context}
export default async function Workflow(event) {
    // TODO: Add error handling and edge case handling
    // TODO: In the documentation, include the requiements for this workflow to work 

    // Logging for debugging purposes
    console.log("Token generation workflow with custom code executed");
    // Init 
    const kindeAPI = await createKindeAPI(event);

    // [1] Get the relevant details to contruct the user billing claim object
    // User object
    const userId = event.context.user.id;
    console.log("User ID:", userId);
    // TODo: [optimization] use params
    const { data: user } = await kindeAPI.get({
        endpoint: `user?id=${userId}&expand=billing`,
    });

    const customerId = user.billing?.customer_id;
    if (!customerId) {
        console.log("No customer ID found for user, skipping billing claim construction.");
        return;
    }
    // Entitlements
    const { data: entitlements } = await kindeAPI.get({
        endpoint: `billing/entitlements?customer_id=${customerId}`
    });
    // Agreements
    const { data: agreements } = await kindeAPI.get({
        endpoint: `billing/agreements?customer_id=${customerId}`
    });


    // [2] Construct the user billing claim object 
    let billingClaimObject = {};
    // customer ID key with value as a string
    billingClaimObject["customer_id"] = customerId ? customerId : null;
    // Billing section from the user object object call
    billingClaimObject["user_billing"] = user.billing ? user.billing : {};
    // Entitlements array
    billingClaimObject['entitlements'] = entitlements ? entitlements.entitlements : [];
    // Agreements array
    billingClaimObject['agreements'] = agreements ? agreements.agreements : [];


    // [3] Set the billing claim object in both the access token and ID token
    kinde.accessToken.setCustomClaim("billingDetails", billingClaimObject);
    kinde.idToken.setCustomClaim("billingDetails", billingClaimObject);
}