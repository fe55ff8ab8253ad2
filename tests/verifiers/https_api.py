#!/usr/bin/python3
"""A two-element API over https for the HTTP backends' TLS tests: answers every POST with a
Tencent-style match ({"Response": {"Result": "0", "RequestId": "tls-N"}}). Usage:
https_api.py CERT_PEM KEY_PEM. Listens on a free loopback port and prints
"listening on 127.0.0.1:PORT"; serves until killed."""
import http.server
import itertools
import json
import ssl
import sys

counter = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"Response": {"Result": "0", "RequestId": f"tls-{next(counter)}"}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
