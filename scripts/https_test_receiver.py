#!/usr/bin/env python3
"""A throwaway HTTPS receiver for Vigil's output tests (127.0.0.1 only).

Usage: https_test_receiver.py PORT_FILE CERT KEY OUTPUT
Listens on an ephemeral loopback port (written to PORT_FILE once listening), appends
each POST body to OUTPUT and answers 200. Runs until killed.
"""
import http.server
import ssl
import sys

port_file, cert, key, output = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(output, "ab") as f:
            f.write(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
