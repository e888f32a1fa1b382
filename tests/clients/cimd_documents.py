"""Serves client metadata documents over https on 127.0.0.1, for the
facade's Client ID Metadata Document tests.

    python cimd_documents.py DIR REDIRECT_URI

Makes a throwaway CA and a certificate for 127.0.0.1 in DIR with openssl
(the server under test trusts DIR/ca.pem through SSL_CERT_FILE), then
prints `READY <https port> <http port>` and serves over https:

    /client.json    a good document (Cache-Control: max-age=300)
    /mismatch.json  names /client.json as its client_id
    /moved.json     302 to /client.json
    /big.json       a good document padded past 5 KiB
    /secret.json    asks for client_secret_post
    /html.json      served as text/html
    /missing.json   404

and over plain http `/_fetches`: how often each path was fetched (JSON).
"""
import json
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_certificates(folder):
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ca_key, ca = os.path.join(folder, "ca.key"), os.path.join(folder, "ca.pem")
    key, csr, cert = (os.path.join(folder, n) for n in ("server.key", "server.csr", "server.pem"))
    extensions = os.path.join(folder, "server.ext")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key)
    openssl("req", "-x509", "-new", "-key", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=cnpg-mcp test CA")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(extensions, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n")
        f.write("keyUsage=critical,digitalSignature\n")
        f.write("extendedKeyUsage=serverAuth\n")
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", extensions,
    )
    return cert, key


def main(folder, redirect_uri):
    cert, key = make_certificates(folder)
    fetches = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, content_type="application/json", headers=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            base = f"https://127.0.0.1:{self.server.server_address[1]}"
            path = self.path
            if self.server is counter:
                with lock:
                    return self.send(200, json.dumps(fetches))
            with lock:
                fetches[path] = fetches.get(path, 0) + 1

            def document(client_id, **extra):
                body = {
                    "client_id": client_id,
                    "client_name": "cnpg-mcp tests (metadata document)",
                    "client_uri": base,
                    "redirect_uris": [redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }
                body.update(extra)
                return json.dumps(body)

            if path == "/client.json":
                self.send(200, document(base + path), headers=[("Cache-Control", "public, max-age=300")])
            elif path == "/mismatch.json":
                self.send(200, document(base + "/client.json"))
            elif path == "/moved.json":
                self.send(302, "", headers=[("Location", base + "/client.json")])
            elif path == "/big.json":
                self.send(200, document(base + path, software_version="x" * 6000))
            elif path == "/secret.json":
                self.send(200, document(base + path, token_endpoint_auth_method="client_secret_post"))
            elif path == "/html.json":
                self.send(200, document(base + path), content_type="text/html")
            else:
                self.send(404, json.dumps({"error": "not found"}))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    counter = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=counter.serve_forever, daemon=True).start()
    print(f"READY {server.server_address[1]} {counter.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
