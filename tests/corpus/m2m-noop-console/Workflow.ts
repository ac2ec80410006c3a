// Source: oliwolffkinde/kinde-workflows-6nov2024 kindeSrc/environment/workflows/m2mToken/m2mTokenWorkflow.ts @ 067ba1b66bdb0e2edcba5bb49e24f1e032cc1b31 (Apache-2.0)
export const workflowSettings = {
    id: 'm2mTokenWorkflow',
    name: 'M2M token generation',
    trigger: 'm2m:token_generation',
    bindings: {
        console: {},
        'kinde.fetch': {},
        'kinde.m2mToken': {}
    }
};

export default async function handle(event: any) {
    console.log('Hello from M2M workflow!');
}
