#!/usr/bin/env bash
# Follow finished builds over Server-Sent Events with nothing but curl.
#
#   GATEWAY_URL=http://127.0.0.1:4000/graphql GATEWAY_TOKEN=hng_… sh examples/follow-builds.sh
#
# Prints one line per finished build: its cursor, then the event as JSON
# (pipe it to jq for fields); says on stderr when the stream is open. To resume where a previous run stopped, pass
# the cursor it printed last: LAST_EVENT_ID=<cursor> sh examples/follow-builds.sh
# (the gateway replays what finished since, then goes on live; an
# EventSource does the same by itself with its Last-Event-ID header).
# Optional: PROJECT=nixpkgs to see one project's builds only.
set -euo pipefail

url=${GATEWAY_URL:-http://127.0.0.1:4000/graphql}
filter=${PROJECT:+"(filter: { project: \"$PROJECT\" })"}
query="subscription { buildFinished${filter:-} { cursor buildId pendingSince build { job system buildStatus jobset { name project { name } } } } }"

# -N: print each event as it arrives. --fail: a refused token (401) exits non-zero.
curl --silent --show-error --fail -N -G "$url" \
  -H 'Accept: text/event-stream' \
  ${GATEWAY_TOKEN:+-H "Authorization: Bearer $GATEWAY_TOKEN"} \
  ${LAST_EVENT_ID:+-H "Last-Event-ID: $LAST_EVENT_ID"} \
  --data-urlencode "query=$query" |
  while IFS= read -r line; do
    case $line in
      'event: '*) event=${line#event: } ;;
      'id: '*) id=${line#id: } ;;
      'data: '*) data=${line#data: } ;;
      'retry: '*) echo "following finished builds at $url${LAST_EVENT_ID:+, after $LAST_EVENT_ID}" >&2 ;;
      '')
        # A blank line ends an event; comments (':') and `retry:` carry none.
        if [ "${event:-}" = next ] && [ -n "${data:-}" ]; then printf '%s %s\n' "${id:-}" "$data"; fi
        if [ "${event:-}" = complete ]; then exit 0; fi
        event='' id='' data=''
        ;;
    esac
  done
