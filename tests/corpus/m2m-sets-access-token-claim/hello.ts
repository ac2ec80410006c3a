// Source: davidkinde/davidkinde_workflows_public kindeSrc/environment/workflows/accessTokenTest/hello.ts @ 7fd315eb2ca9eee0b10152cee9729559f23d32f9 (ISC)
export const hello = 'hello';