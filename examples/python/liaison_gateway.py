#!/usr/bin/env python3
"""A Liaison HTTP gateway client in plain Python (standard library only).

The gateway (`liaison gateway up --as AGENCY_DIR`) holds the agency's keys: it validates, signs and
sends what this client posts, and verifies what it hands out. Every received message must be
acknowledged (POST its `ack` path) once it is safely applied; until then the gateway keeps it, and
gives it to the next reader if this one goes away. A message is (sender, id): deduplicate by both.

    export LIAISON_GATEWAY_URL=http://127.0.0.1:8080
    export LIAISON_GATEWAY_TOKEN=lgw_...   # liaison gateway token create --as DIR --scopes send,receive
    python3 liaison_gateway.py send CaseReferral --to xa-ngo-harbour --body '{"kind": "REFERRAL_KIND_PROTECTION", "summary": "..."}'
    python3 liaison_gateway.py receive --count 1            # long poll, acknowledging each message
    python3 liaison_gateway.py receive --count 1 --sse      # the same over server-sent events
"""

import argparse
import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class GatewayError(Exception):
    """An RFC 9457 problem answered by the gateway: `code` is the Liaison error code, `rule` the deciding policy rule."""

    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        self.code = problem.get("code")
        self.rule = problem.get("rule")
        super().__init__(f"HTTP {status} {self.code}: {problem.get('detail')}")


class Gateway:
    """A client of one agency's gateway."""

    def __init__(self, url, token, timeout=70):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        h = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                text = res.read().decode("utf-8")
                return (json.loads(text) if text else None), dict(res.headers)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8")
            try:
                problem = json.loads(text)
            except ValueError:
                problem = {"detail": text}
            raise GatewayError(e.code, problem) from None

    def send(self, type_name, body, idempotency_key=None, **options):
        """Send a message: options are to, handling, tlp, caseRef, correlationId, causationId, expiresAt. Returns the receipt."""
        query = urllib.parse.urlencode({k: v for k, v in options.items() if v is not None})
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        receipt, _ = self._call("POST", f"/v1/messages/{urllib.parse.quote(type_name)}" + (f"?{query}" if query else ""), body, headers)
        return receipt

    def receive(self, wait=20, max_messages=16):
        """Long poll: up to max_messages held for this reader until acknowledged (or until the lease expires)."""
        answer, _ = self._call("GET", f"/v1/messages?wait={int(wait)}&max={int(max_messages)}")
        return answer["messages"]

    def ack(self, message):
        """Acknowledge a received message (by its sender and id)."""
        self._call("POST", message["ack"])

    def stream(self, max_messages=16):
        """Server-sent events: yields each message; the stream holds at most max_messages un-acknowledged."""
        parts = urllib.parse.urlsplit(self.url)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname, parts.port, timeout=self.timeout)
        try:
            conn.request("GET", f"/v1/messages?max={int(max_messages)}", headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"})
            res = conn.getresponse()
            if res.status != 200:
                raise GatewayError(res.status, json.loads(res.read().decode("utf-8") or "{}"))
            event, data = None, []
            while True:
                line = res.readline()
                if not line:
                    return
                line = line.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if event == "message" and data:
                        yield json.loads("\n".join(data))
                    event, data = None, []
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
        finally:
            conn.close()


def main(argv=None):
    p = argparse.ArgumentParser(description="Liaison HTTP gateway client (standard library only)")
    p.add_argument("--url", default=os.environ.get("LIAISON_GATEWAY_URL", "http://127.0.0.1:8080"))
    p.add_argument("--token", default=os.environ.get("LIAISON_GATEWAY_TOKEN"))
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send", help="send a message; prints the receipt as JSON")
    s.add_argument("type")
    s.add_argument("--body", required=True, help="the message body as JSON")
    s.add_argument("--to")
    s.add_argument("--tlp")
    s.add_argument("--handling")
    s.add_argument("--case-ref")
    s.add_argument("--idempotency-key")
    r = sub.add_parser("receive", help="receive messages, print each as one JSON line and acknowledge it")
    r.add_argument("--count", type=int, default=1, help="stop after this many messages")
    r.add_argument("--wait", type=int, default=20, help="long poll: seconds to wait per call")
    r.add_argument("--sse", action="store_true", help="use the server-sent-event stream instead of long polls")
    r.add_argument("--no-ack", action="store_true", help="print without acknowledging (the messages are delivered again)")
    args = p.parse_args(argv)
    if not args.token:
        p.error("give --token or set LIAISON_GATEWAY_TOKEN")
    gw = Gateway(args.url, args.token)
    try:
        if args.command == "send":
            receipt = gw.send(args.type, json.loads(args.body), idempotency_key=args.idempotency_key, to=args.to, tlp=args.tlp, handling=args.handling, caseRef=args.case_ref)
            print(json.dumps(receipt))
            return 0
        seen = 0
        messages = gw.stream() if args.sse else iter(lambda: gw.receive(wait=args.wait), None)
        for item in messages:
            for m in item if isinstance(item, list) else [item]:
                print(json.dumps(m), flush=True)
                if not args.no_ack:
                    gw.ack(m)
                seen += 1
                if seen >= args.count:
                    return 0
        return 0
    except GatewayError as e:
        print(json.dumps(e.problem), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
