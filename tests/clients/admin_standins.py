#!/usr/bin/env python3
"""Local stand-ins for two IdP admin APIs, for the DCR translator tests.

They speak the request and response shapes of the Keycloak admin REST API
(client-credentials token, POST /admin/realms/<realm>/clients -> 201 with
Location, GET .../client-secret) and of the Auth0 Management API (POST
/oauth/token with `audience`, POST /api/v2/clients -> 201 with client_id
and client_secret). They are stand-ins, not the products: they check the
credentials and fields a real server would refuse without, and record
every request (GET /_requests) so a test can see what was sent.

Prints `READY <port>` once listening on 127.0.0.1.
"""

import base64
import json
import secrets
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADMIN = ("admin-client", "admin-secret")
REALM = "platform"
REQUESTS = []
CLIENTS = {}


def basic_ok(header):
    if not header or not header.startswith("Basic "):
        return False
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return (urllib.parse.unquote(user), urllib.parse.unquote(password)) == ADMIN


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        REQUESTS.append({
            "method": self.command,
            "path": self.path,
            "authorization": self.headers.get("authorization", ""),
            "body": body,
        })

    def read(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.headers.get("content-type", "").startswith("application/json"):
            return json.loads(raw or "null")
        return dict(urllib.parse.parse_qsl(raw))

    def do_GET(self):
        if self.path == "/_requests":
            return self.answer(200, REQUESTS)
        self.record(None)
        prefix = f"/admin/realms/{REALM}/clients/"
        if self.path.startswith(prefix) and self.path.endswith("/client-secret"):
            if self.headers.get("authorization") != "Bearer kc-admin-token":
                return self.answer(401, {"error": "HTTP 401 Unauthorized"})
            uuid = self.path[len(prefix):-len("/client-secret")]
            if uuid not in CLIENTS:
                return self.answer(404, {"error": "Could not find client"})
            return self.answer(200, {"type": "secret", "value": CLIENTS[uuid]["secret"]})
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        body = self.read()
        self.record(body)
        # Keycloak
        if self.path == f"/realms/{REALM}/protocol/openid-connect/token":
            if not basic_ok(self.headers.get("authorization")) or body.get("grant_type") != "client_credentials":
                return self.answer(401, {"error": "unauthorized_client", "error_description": "Invalid client credentials"})
            return self.answer(200, {"access_token": "kc-admin-token", "token_type": "Bearer", "expires_in": 60})
        if self.path == f"/admin/realms/{REALM}/clients":
            if self.headers.get("authorization") != "Bearer kc-admin-token":
                return self.answer(401, {"error": "HTTP 401 Unauthorized"})
            required = ("clientId", "redirectUris", "protocol")
            if not isinstance(body, dict) or any(k not in body for k in required) or body.get("publicClient") is not False:
                return self.answer(400, {"errorMessage": "invalid client representation"})
            if any(c["clientId"] == body["clientId"] for c in CLIENTS.values()):
                return self.answer(409, {"errorMessage": f"Client {body['clientId']} already exists"})
            uuid = secrets.token_hex(8)
            CLIENTS[uuid] = {"clientId": body["clientId"], "secret": "kc-" + secrets.token_hex(12), "representation": body}
            host = self.headers.get("host")
            return self.answer(201, None, [("location", f"http://{host}/admin/realms/{REALM}/clients/{uuid}")])
        # Auth0
        if self.path == "/oauth/token":
            host = self.headers.get("host")
            if not basic_ok(self.headers.get("authorization")) or body.get("audience") != f"http://{host}/api/v2/":
                return self.answer(401, {"error": "access_denied", "error_description": "Unauthorized"})
            return self.answer(200, {"access_token": "a0-mgmt-token", "token_type": "Bearer", "expires_in": 86400})
        if self.path == "/api/v2/clients":
            if self.headers.get("authorization") != "Bearer a0-mgmt-token":
                return self.answer(401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"})
            if not isinstance(body, dict) or "name" not in body or not body.get("callbacks"):
                return self.answer(400, {"statusCode": 400, "error": "Bad Request", "message": "Payload validation error"})
            client_id = secrets.token_hex(16)
            return self.answer(201, {"client_id": client_id, "client_secret": "a0-" + secrets.token_hex(16), **body})
        self.answer(404, {"error": "not found"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
