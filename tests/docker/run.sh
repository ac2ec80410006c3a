#!/usr/bin/env bash
# The compose stack for real, on a machine that can build images but not pull them: a Debian
# base made with debootstrap and `docker import`, service images from host-built binaries, and
# the compose file's images replaced by them through its environment variables. Then:
#
#   1. the stack comes up healthy and issues an M2M token with a deployed workflow;
#   2. three workers (--scale) each serve requests;
#   3. one worker stopped under a steady stream of requests fails none of them;
#   4. a worker's NATS credentials cannot ask the signer for anything;
#   5. one token request's trace reaches the collector with spans of all three services;
#   6. a user signs in through the login page, the client exchanges the code and refreshes.
#
# With --cluster, all of it on docker-compose.cluster.yml as well (3 nats-servers), and then:
#   7. the records stream is kept on all three servers;
#   8. with one nats-server killed, tokens are still issued.
#
# Needs root (installs docker.io, docker-compose, debootstrap when missing) and prints
# "N passed, N failed". Tears everything down, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
project=claimflowtest
work=$(mktemp -d)
files=(-f "$repo/docker-compose.yml")
cluster=false
if [[ ${1:-} == --cluster ]]; then
  cluster=true
  files+=(-f "$repo/docker-compose.cluster.yml")
fi
passed=0
failed=0

log() { printf '== %s\n' "$*"; }
check() { # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    printf 'ok   %s\n' "$name"
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$name"
  fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

# --- the machine -----------------------------------------------------------------------------
need=()
command -v docker >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  (dockerd >/tmp/claimflow-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
compose() {
  docker-compose -p "$project" "${files[@]}" "$@"
}
cleanup() {
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- images ----------------------------------------------------------------------------------
if ! docker image inspect claimflow-test/base:bookworm >/dev/null 2>&1; then
  log "building the Debian base image (debootstrap)"
  debootstrap --variant=minbase --include=ca-certificates,curl,python3,postgresql,procps \
    bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  tar -C "$work/rootfs" -c . | docker import - claimflow-test/base:bookworm >/dev/null
  rm -rf "$work/rootfs"
fi

log "building service images from host binaries"
cargo build --release --locked --bin auth-service --bin signer --bin workflow-worker --bin claimflow
mkdir -p "$work/claimflow" "$work/nats" "$work/postgres" "$work/collector"
cp target/release/{auth-service,signer,workflow-worker,claimflow} deploy/docker/Dockerfile.prebuilt "$work/claimflow/"
docker build -q -f "$work/claimflow/Dockerfile.prebuilt" --build-arg BASE_IMAGE=claimflow-test/base:bookworm \
  -t claimflow-test/claimflow "$work/claimflow" >/dev/null
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
cp "$nats_server" "$work/nats/nats-server"
printf 'FROM claimflow-test/base:bookworm\nCOPY nats-server /usr/local/bin/\nENTRYPOINT ["nats-server"]\n' >"$work/nats/Dockerfile"
docker build -q -t claimflow-test/nats "$work/nats" >/dev/null
cp tests/docker/images/postgres-entrypoint.sh "$work/postgres/"
printf 'FROM claimflow-test/base:bookworm\nCOPY postgres-entrypoint.sh /usr/local/bin/\nENTRYPOINT ["sh", "/usr/local/bin/postgres-entrypoint.sh"]\n' >"$work/postgres/Dockerfile"
docker build -q -t claimflow-test/postgres "$work/postgres" >/dev/null
cp tests/docker/images/otlp-sink.py tests/docker/images/nats-permission-check.py "$work/collector/"
printf 'FROM claimflow-test/base:bookworm\nCOPY *.py /opt/\nENTRYPOINT ["python3", "-u", "/opt/otlp-sink.py"]\n' >"$work/collector/Dockerfile"
docker build -q -t claimflow-test/collector "$work/collector" >/dev/null

# --- the stack -------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
issuer="http://localhost:$port"
export CLAIMFLOW_IMAGE=claimflow-test/claimflow NATS_IMAGE=claimflow-test/nats POSTGRES_IMAGE=claimflow-test/postgres
export OTEL_COLLECTOR_IMAGE=claimflow-test/collector JAEGER_IMAGE=claimflow-test/base:bookworm
export OTEL_EXPORTER_OTLP_PROTOCOL=http/json CLAIMFLOW_PORT=$port CLAIMFLOW_ISSUER=$issuer
export CLAIMFLOW_ADMIN_CLIENT_ID=claimflow-admin CLAIMFLOW_ADMIN_CLIENT_SECRET=docker-test-admin-secret
log "docker-compose ${files[*]} up (issuer $issuer)"
compose up -d --scale jaeger=0 >"$work/up.log" 2>&1 || { cat "$work/up.log"; compose logs --tail=50; exit 1; }

ready=false
for _ in $(seq 1 90); do
  if curl -fsS "$issuer/readyz" >/dev/null 2>&1 && curl -fsS "$issuer/.well-known/jwks.json" >/dev/null 2>&1; then
    ready=true
    break
  fi
  sleep 1
done
check "the stack comes up and auth-service is ready" $ready
if [[ $ready != true ]]; then
  compose ps
  compose logs --tail=40
  echo "$passed passed, $((failed)) failed"
  exit 1
fi

token() { # token CLIENT_ID SECRET AUDIENCE [curl args...]
  local id=$1 secret=$2 audience=$3
  shift 3
  curl -sS "$@" -d grant_type=client_credentials -d "client_id=$id" -d "client_secret=$secret" \
    -d "audience=$audience" "$issuer/oauth2/token"
}
management=$(token "$CLAIMFLOW_ADMIN_CLIENT_ID" "$CLAIMFLOW_ADMIN_CLIENT_SECRET" "$issuer/api" | json "['access_token']")
api() { curl -fsS -H "authorization: Bearer $management" -H 'content-type: application/json' "$@"; }
api_id=$(api -d '{"name":"Acme","audience":"acme"}' "$issuer/api/v1/apis" | json "['api']['id']")
app=$(api -d '{"name":"backend","type":"m2m"}' "$issuer/api/v1/applications")
client_id=$(json "['application']['client_id']" <<<"$app")
client_secret=$(json "['application']['client_secret']" <<<"$app")
api -X PATCH -d "{\"applications\":[{\"id\":\"$client_id\"}]}" "$issuer/api/v1/apis/$api_id/applications" >/dev/null
CLAIMFLOW_ISSUER=$issuer CLAIMFLOW_CLIENT_ID=$CLAIMFLOW_ADMIN_CLIENT_ID CLAIMFLOW_CLIENT_SECRET=$CLAIMFLOW_ADMIN_CLIENT_SECRET \
  target/release/claimflow deploy examples/m2m-hello >/dev/null

claims_of() { python3 -c "import base64,json,sys; p=sys.argv[1].split('.')[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p+'='*(-len(p)%4)))))" "$1"; }
access_token=$(token "$client_id" "$client_secret" acme | json "['access_token']")
hello=$(claims_of "$access_token" | json "['hello']")
check "an M2M token carries the deployed workflow's claim" test "$hello" = world

signed_in=$(python3 tests/docker/sign-in.py "$issuer" "$management" 2>&1 || true)
check "a user signs in (login page, code + PKCE, refresh): $signed_in" python3 -c "
import json, sys
r = json.loads(sys.argv[1])
assert r['email'] == 'ada@example.com' and r['nonce'] == 'n-0' and r['sub'] == r['user'] == r['refreshed_sub']
" "$signed_in"

# --- scaling ---------------------------------------------------------------------------------
log "scaling workflow-worker to 3"
compose up -d --no-recreate --scale jaeger=0 --scale workflow-worker=3 >"$work/scale.log" 2>&1 || cat "$work/scale.log"
for _ in $(seq 1 60); do
  healthy=$(docker ps --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=workflow-worker" --filter health=healthy -q | wc -l)
  [[ $healthy -ge 3 ]] && break
  sleep 1
done
for _ in $(seq 1 60); do token "$client_id" "$client_secret" acme -o /dev/null; done
workers=$(api "$issuer/api/v1/workflows/runs?page_size=500" | python3 -c "import json,sys; print(len({r['worker_id'] for r in json.load(sys.stdin)['runs'][:60]}))")
check "three workers each served requests ($workers distinct workers in the last 60 runs)" test "$workers" -eq 3

# --- graceful stop under load ----------------------------------------------------------------
log "stopping one worker under a steady stream of requests"
stream_log="$work/stream.log"
(
  end=$((SECONDS + 8))
  while ((SECONDS < end)); do
    code=$(token "$client_id" "$client_secret" acme -o /dev/null -w '%{http_code}')
    echo "$code"
  done
) >"$stream_log" &
stream=$!
sleep 2
victim=$(docker ps --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=workflow-worker" -q | head -n1)
docker stop -t 30 "$victim" >/dev/null
wait $stream
total=$(wc -l <"$stream_log")
bad=$(grep -vc '^200$' "$stream_log" || true)
check "no request failed while a worker stopped ($total requests, $bad failed)" test "$bad" -eq 0 -a "$total" -gt 20
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$victim")
check "the stopped worker drained and exited cleanly (exit $exit_code)" test "$exit_code" -eq 0

# --- NATS permissions ------------------------------------------------------------------------
answer=$(compose exec -T otel-collector python3 /opt/nats-permission-check.py nats workflow-worker \
  "${NATS_WORKFLOW_WORKER_PASSWORD:-workflow-worker-local}" claimflow.signer.v1.issue 2>&1 || true)
check "a worker's NATS credentials cannot ask the signer ($answer)" grep -q "Permissions Violation" <<<"$answer"

# --- one trace across the services -----------------------------------------------------------
trace_id=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
token "$client_id" "$client_secret" acme -o /dev/null -H "traceparent: 00-$trace_id-$(python3 -c 'import secrets; print(secrets.token_hex(8))')-01"
services=""
for _ in $(seq 1 30); do
  services=$( (compose logs --no-color otel-collector 2>/dev/null || true) | (grep "$trace_id" || true) | python3 -c "
import json, sys
names = set()
for line in sys.stdin:
    line = line.split('|', 1)[-1].strip()
    try:
        names.add(json.loads(line)['service'])
    except ValueError:
        pass
print(' '.join(sorted(names)))")
  [[ $services == "auth-service signer workflow-worker" ]] && break
  sleep 1
done
check "one trace id reached the collector with spans of all three services ($services)" \
  test "$services" = "auth-service signer workflow-worker"

# --- JSON logs with trace ids ----------------------------------------------------------------
# A refused request is logged (in its request's span).
token "$client_id" wrong-secret acme -o /dev/null
sleep 1
line=$( (compose logs --no-color auth-service 2>/dev/null || true) | (grep '"trace_id"' || true) | tail -n1 | cut -d'|' -f2-)
check "services log JSON lines with trace_id" python3 -c "import json,sys; assert json.loads(sys.argv[1])['trace_id']" "$line"

# --- the cluster -----------------------------------------------------------------------------
if [[ $cluster == true ]]; then
  peers=$(compose exec -T nats curl -fsS "http://127.0.0.1:8222/jsz?accounts=true&streams=true" | python3 -c "
import json, sys
streams = [s for a in json.load(sys.stdin).get('account_details', []) for s in a.get('stream_detail', [])]
records = [s for s in streams if s['name'] == 'CLAIMFLOW_RECORDS']
print(1 + len(records[0].get('cluster', {}).get('replicas') or []) if records else 0)")
  check "the records stream is kept on all three nats-servers ($peers)" test "$peers" -eq 3
  log "killing nats-2"
  compose kill nats-2 >/dev/null 2>&1
  codes=$(for _ in $(seq 1 20); do token "$client_id" "$client_secret" acme -o /dev/null -w '%{http_code}\n'; done)
  bad=$(grep -vc '^200$' <<<"$codes" || true)
  check "with one nats-server killed, tokens are issued (20 requests, $bad failed)" test "$bad" -eq 0
fi

echo "$passed passed, $failed failed"
((failed == 0))
