// Source: davidkinde/davidkinde_workflows_public kindeSrc/environment/workflows/accessTokenTest/hello.ts @ c608530da3ab368d156e611ff96603f1ec0359d6 (ISC)
export const hello = 'hello';