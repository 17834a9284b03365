#!/usr/bin/env python3
"""Read the pending build_finished backlog and acknowledge it, with Python's standard library only.

    GATEWAY_URL=http://127.0.0.1:4000/graphql GATEWAY_TOKEN=hng_... \\
        python3 examples/backlog.py --consumer release-sync            # list what is pending
    ... python3 examples/backlog.py --consumer release-sync --acknowledge   # and acknowledge it

Without --consumer it reads Hydra's own column (an `ack` token bound to no
consumer, and a gateway in owner mode, to acknowledge). Each acknowledgement
is compare-and-set on (buildId, pendingSince): a build that finished again
since it was read answers STALE (its newer finish stays pending), one that
someone acknowledged first ALREADY_ACKNOWLEDGED. A real script would do its
work for each build before acknowledging it.

Output: one line per pending build (`pending <id> <project>:<jobset> <job>
<status> since <pendingSince>`), then with --acknowledge one line per answer
(`acknowledged <id> <OUTCOME>`). Exit status 0, or 1 with the gateway's
error code (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, ...) on stderr.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

PENDING = """
query Pending($after: String, $consumer: String) {
  pendingBuildFinished(first: 500, after: $after, consumer: $consumer) {
    edges { pendingSince node { id job buildStatus jobset { name project { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

ACKNOWLEDGE = """
mutation Acknowledge($items: [AcknowledgeBuildFinishedInput!]!, $consumer: String) {
  acknowledgeBuildsFinished(items: $items, consumer: $consumer) { buildId outcome pendingSince }
}"""


class GatewayError(Exception):
    """The gateway answered with errors: `code` is the first one's extensions.code."""

    def __init__(self, errors):
        self.code = next((e.get("extensions", {}).get("code") for e in errors if e.get("extensions", {}).get("code")), "UNKNOWN")
        super().__init__("; ".join(e.get("message", "?") for e in errors))


def graphql(url, token, query, variables):
    """POSTs one operation as JSON (the gateway takes no other body) and returns its data."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # 401, 403, 400: the body still says why
        body = json.load(error)
    # A batch answers item by item: an unknown build is null with an error at its index.
    if body.get("errors") and not body.get("data"):
        raise GatewayError(body["errors"])
    for item_error in body.get("errors", []):
        print(f"error: {item_error.get('message')} at {item_error.get('path')}", file=sys.stderr)
    return body["data"]


def pending(url, token, consumer):
    """Every pending occurrence, oldest first, page by page."""
    after = None
    while True:
        page = graphql(url, token, PENDING, {"after": after, "consumer": consumer})["pendingBuildFinished"]
        yield from page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def main():
    parser = argparse.ArgumentParser(description="Read the pending build_finished backlog, and acknowledge it.")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:4000/graphql"))
    parser.add_argument("--consumer", help="this consumer's pending set instead of Hydra's column")
    parser.add_argument("--acknowledge", action="store_true", help="acknowledge every build listed")
    args = parser.parse_args()
    token = os.environ.get("GATEWAY_TOKEN")

    try:
        edges = list(pending(args.url, token, args.consumer))
        for edge in edges:
            build = edge["node"]
            jobset = build.get("jobset") or {}
            where = f"{(jobset.get('project') or {}).get('name', '?')}:{jobset.get('name', '?')}"
            print(f"pending {build['id']} {where} {build['job']} {build['buildStatus']} since {edge['pendingSince']}")
        if args.acknowledge:
            items = [{"buildId": e["node"]["id"], "pendingSince": e["pendingSince"]} for e in edges]
            for start in range(0, len(items), 1000):  # HNG_MAX_ACK_BATCH's default
                answers = graphql(args.url, token, ACKNOWLEDGE, {"items": items[start : start + 1000], "consumer": args.consumer})
                for answer in answers["acknowledgeBuildsFinished"]:
                    if answer:
                        print(f"acknowledged {answer['buildId']} {answer['outcome']}")
    except GatewayError as error:
        print(f"backlog.py: {error} ({error.code})", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"backlog.py: cannot reach {args.url}: {error.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
