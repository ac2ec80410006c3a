// The benchmark's peer: node-oidc-provider configured as claimflow is in the benchmark.
// client_credentials, client_secret_post, RS256 JWT access tokens for one resource server, and
// the same two claims the benchmark's workflow sets (through extraTokenClaims).
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.env.PORT ?? 3000);
const issuer = `http://127.0.0.1:${port}`;
const audience = process.env.AUDIENCE ?? "https://api.bench.example";
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const key = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "bench" };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID ?? "bench",
      client_secret: process.env.CLIENT_SECRET ?? "bench-secret",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  jwks: { keys: [key] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "",
        audience,
        accessTokenTTL: 3600,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  extraTokenClaims: (_ctx, token) => ({ applicationId: token.clientId, audience }),
});

provider.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
