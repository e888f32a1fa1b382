#!/usr/bin/env bash
# Load generator for an MCP server over Streamable HTTP.
#
# Opens one MCP session with curl (initialize, then notifications/initialized),
# then points wrk at the session with a single JSON-RPC request, repeated with
# a fresh id each time. The per-request work (ids, headers, body checks, the
# final numbers) lives in mcp-load.lua next to this file.
#
# The last line of stdout is always the RESULT line; the benches in
# tests/benches parse it. Run without arguments for the knobs.

set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
lua_script="$here/mcp-load.lua"

usage() {
    cat >&2 <<'EOF'
usage: mcp-load.sh URL METHOD_OR_BODY [TOKEN]

  URL             the MCP endpoint, e.g. http://127.0.0.1:8080/mcp
  METHOD_OR_BODY  a JSON-RPC method name without params (ping, tools/list),
                  or a complete JSON-RPC request object ({"jsonrpc":"2.0",...});
                  its top-level "id" is replaced by a distinct id per request
  TOKEN           optional bearer token, sent as "Authorization: Bearer TOKEN"
                  on the handshake and on every request

environment:
  DURATION=20s     how long wrk runs (wrk syntax: 10s, 2m, ...)
  CONNS=16         open connections
  THREADS=2        wrk threads (at most CONNS)
  TIMEOUT=5s       per-request timeout in wrk; the handshake allows the same
                   number of seconds per curl call
  EXPECT='"result"'  every 2xx body must contain this text (empty: no check)
  REJECT=          no 2xx body may contain this text (empty: no check),
                   e.g. REJECT='"isError":true' for tool calls
  PROTOCOL=2025-11-25  protocolVersion offered in initialize
  QUIET=           1: print only the RESULT line on stdout (errors still go
                   to stderr); otherwise the handshake is narrated on stderr
                   and wrk's report is shown before the RESULT line

last line of stdout:
  RESULT method=M rps=R p50_ms=P p99_ms=P non2xx=N sock_errors=N bad_body=N valid=yes|no
  valid=no when any response was not 2xx, any socket error or timeout
  happened, any body failed EXPECT/REJECT, or no request completed.
exit status: 0 when valid=yes, 1 when valid=no, 2 on a usage error.
EOF
}

if [[ $# -lt 2 || $# -gt 3 ]]; then
    usage
    exit 2
fi

url=$1
what=$2
token=${3:-}

duration=${DURATION:-20s}
conns=${CONNS:-16}
threads=${THREADS:-2}
timeout=${TIMEOUT:-5s}
expect=${EXPECT-'"result"'}
reject=${REJECT:-}
protocol=${PROTOCOL:-2025-11-25}
quiet=${QUIET:-}
[[ $quiet == 0 ]] && quiet=

say() {
    [[ -n $quiet ]] || printf '%s\n' "$*" >&2
}

fail() {
    printf 'mcp-load: %s\n' "$*" >&2
}

# The request body wrk repeats, and the method name reported in RESULT.
if [[ $what == \{* ]]; then
    body=$what
    method=$(printf '%s' "$body" | sed -n 's/.*"method"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)
    method=${method:-unknown}
else
    if [[ ! $what =~ ^[A-Za-z0-9_./:-]+$ ]]; then
        fail "not a method name or a JSON object: $what"
        exit 2
    fi
    method=$what
    body="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$method\"}"
fi

# A RESULT line for runs that never reached wrk.
result_line() {
    printf 'RESULT method=%s rps=%s p50_ms=%s p99_ms=%s non2xx=%s sock_errors=%s bad_body=%s valid=%s\n' "$@"
}
give_up() {
    fail "$1"
    result_line "$method" 0 0 0 0 0 0 no
    exit 1
}

for tool in curl wrk; do
    command -v "$tool" >/dev/null 2>&1 || give_up "$tool is not installed (Debian: apt-get install $tool)"
done
[[ -f $lua_script ]] || give_up "missing $lua_script"
[[ $conns =~ ^[1-9][0-9]*$ ]] || give_up "CONNS must be a positive integer, not '$conns'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || give_up "THREADS must be a positive integer, not '$threads'"
((threads <= conns)) || threads=$conns

# Seconds for curl's --max-time, from wrk-style TIMEOUT (5s, 500ms, 1m, 5).
case $timeout in
    *ms) curl_time=$(awk -v v="${timeout%ms}" 'BEGIN { printf "%.3f", v / 1000 }') ;;
    *m) curl_time=$(awk -v v="${timeout%m}" 'BEGIN { print v * 60 }') ;;
    *s) curl_time=${timeout%s} ;;
    *) curl_time=$timeout ;;
esac

common=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
[[ -n $token ]] && common+=(-H "Authorization: Bearer $token")

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-load.XXXXXX")
session=""
cleanup() {
    # Ending the session is a courtesy; a server that refuses it is fine.
    if [[ -n $session ]]; then
        curl -sS -o /dev/null --max-time "$curl_time" -X DELETE "${common[@]}" \
            -H "Mcp-Session-Id: $session" "$url" >/dev/null 2>&1 || true
    fi
    rm -rf -- "$work"
}
trap cleanup EXIT

# post BODY [EXTRA_CURL_ARGS...]: POST to the endpoint; the status code goes to
# stdout, headers and body to $work/headers and $work/body.
post() {
    local data=$1
    shift
    curl -sS --max-time "$curl_time" -X POST "${common[@]}" "$@" \
        -D "$work/headers" -o "$work/body" -w '%{http_code}' \
        --data-binary "$data" "$url"
}

# 1. initialize
init_body="{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$protocol\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp-load\",\"version\":\"1.0\"}}}"
status=$(post "$init_body") || give_up "initialize: curl could not reach $url"
[[ $status == 2?? ]] || give_up "initialize: HTTP $status: $(head -c 300 "$work/body")"
grep -q '"result"' "$work/body" || give_up "initialize: no result: $(head -c 300 "$work/body")"
session=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$work/headers" | tr -d '\r' | tail -n 1)
negotiated=$(sed -n 's/.*"protocolVersion"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$work/body" | head -n 1)
negotiated=${negotiated:-$protocol}
if [[ -n $session ]]; then
    say "session $session, protocol $negotiated"
else
    say "no Mcp-Session-Id header: running without a session, protocol $negotiated"
fi

session_args=(-H "MCP-Protocol-Version: $negotiated")
[[ -n $session ]] && session_args+=(-H "Mcp-Session-Id: $session")

# 2. notifications/initialized (a notification: 202 Accepted, no body)
status=$(post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${session_args[@]}") ||
    give_up "notifications/initialized: curl failed"
[[ $status == 2?? ]] || give_up "notifications/initialized: HTTP $status: $(head -c 300 "$work/body")"

# 3. one probe of the measured request, so that a request the server refuses
#    fails fast with a readable message, and a bad body is shown once
status=$(post "$body" "${session_args[@]}") || give_up "$method: curl failed"
[[ $status == 2?? ]] || give_up "$method: HTTP $status: $(head -c 300 "$work/body")"
say "probe $method: HTTP $status, $(wc -c <"$work/body") bytes"
if { [[ -n $expect ]] && ! grep -qF -- "$expect" "$work/body"; } ||
    { [[ -n $reject ]] && grep -qF -- "$reject" "$work/body"; }; then
    fail "warning: the probe's body fails EXPECT/REJECT: $(head -c 300 "$work/body")"
fi

# 4. the load
say "wrk: $threads threads, $conns connections, $duration"
wrk_out="$work/wrk.out"
export MCPLOAD_BODY=$body
export MCPLOAD_SESSION=$session
export MCPLOAD_PROTOCOL=$negotiated
export MCPLOAD_TOKEN=$token
export MCPLOAD_EXPECT=$expect
export MCPLOAD_REJECT=$reject
export MCPLOAD_THREADS=$threads
export MCPLOAD_OUT="$work/numbers"
if ! wrk -t "$threads" -c "$conns" -d "$duration" --timeout "$timeout" \
    -s "$lua_script" "$url" >"$wrk_out" 2>&1; then
    cat "$wrk_out" >&2
    give_up "wrk failed"
fi
[[ -n $quiet ]] || cat "$wrk_out"
[[ -s $MCPLOAD_OUT ]] || give_up "wrk wrote no numbers: $(cat "$wrk_out")"

# mcp-load.lua leaves key=value lines in $MCPLOAD_OUT.
declare -A n=()
while IFS='=' read -r key value; do
    n[$key]=$value
done <"$MCPLOAD_OUT"

valid=yes
if ((n[requests] == 0 || n[non2xx] > 0 || n[sock_errors] > 0 || n[bad_body] > 0)); then
    valid=no
fi
if [[ -n ${n[sample]:-} ]]; then
    fail "first failing response: ${n[sample]}"
fi

result_line "$method" "${n[rps]}" "${n[p50_ms]}" "${n[p99_ms]}" \
    "${n[non2xx]}" "${n[sock_errors]}" "${n[bad_body]}" "$valid"
[[ $valid == yes ]]
