// Source: evgenyk/ev_workflows_public kindeSrc/environment/workflows/idTokenTest/hello.ts @ c9d65ab63d0489d52d2fd9fb2dd32f92479b9795 (ISC)
export const hello = 'hello';