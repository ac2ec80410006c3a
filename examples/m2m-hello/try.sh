#!/usr/bin/env bash
# The M2M tour against a running `scripts/dev`: create the API `acme` and an M2M application
# authorized for it, deploy this directory's workflow, request a token, and print its claims.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
issuer=${CLAIMFLOW_ISSUER:-http://127.0.0.1:8080}
credentials="${CLAIMFLOW_DATA_DIR:-$repo/.claimflow}/admin-credentials.json"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

if [[ -z "${CLAIMFLOW_CLIENT_ID:-}" ]]; then
  [[ -f "$credentials" ]] || { echo "no $credentials: start the stack with scripts/dev first" >&2; exit 1; }
  CLAIMFLOW_CLIENT_ID=$(json "['client_id']" <"$credentials")
  CLAIMFLOW_CLIENT_SECRET=$(json "['client_secret']" <"$credentials")
fi
export CLAIMFLOW_ISSUER=$issuer CLAIMFLOW_CLIENT_ID CLAIMFLOW_CLIENT_SECRET

management=$(curl -sf -d grant_type=client_credentials -d "client_id=$CLAIMFLOW_CLIENT_ID" \
  -d "client_secret=$CLAIMFLOW_CLIENT_SECRET" -d "audience=$issuer/api" "$issuer/oauth2/token" | json "['access_token']")
api() { curl -sf -H "authorization: Bearer $management" -H 'content-type: application/json' "$@"; }

audience="acme-$RANDOM"
api_id=$(api -d "{\"name\":\"Acme\",\"audience\":\"$audience\"}" "$issuer/api/v1/apis" | json "['api']['id']")
app=$(api -d '{"name":"acme backend","type":"m2m"}' "$issuer/api/v1/applications")
client_id=$(json "['application']['client_id']" <<<"$app")
client_secret=$(json "['application']['client_secret']" <<<"$app")
api -X PATCH -d "{\"applications\":[{\"id\":\"$client_id\"}]}" "$issuer/api/v1/apis/$api_id/applications" >/dev/null
echo "API $audience, application $client_id"

claimflow=$repo/target/debug/claimflow
[[ -x $claimflow ]] || claimflow="cargo run --quiet --manifest-path $repo/Cargo.toml -p claimflow --"
$claimflow deploy "$here"

token=$(curl -sf -d grant_type=client_credentials -d "client_id=$client_id" -d "client_secret=$client_secret" \
  -d "audience=$audience" "$issuer/oauth2/token" | json "['access_token']")
echo "access token claims:"
python3 - "$token" <<'PY'
import base64, json, sys
payload = sys.argv[1].split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))), indent=2))
PY
