#!/usr/bin/env python3
"""A throwaway HTTPS receiver for Vigil's output tests (127.0.0.1 only).

Usage: https_test_receiver.py PORT_FILE CERT KEY OUTPUT [CLIENT_CA]
Listens on an ephemeral loopback port (written to PORT_FILE once listening), appends
each POST body to OUTPUT and answers 200. Runs until killed.
With CLIENT_CA, the receiver requires mutual TLS: a client certificate signed by a CA in
that PEM file, or the handshake fails; the subject CN of each client that posts is
appended to OUTPUT.peers.
"""
import http.server
import ssl
import sys

port_file, cert, key, output = sys.argv[1:5]
client_ca = sys.argv[5] if len(sys.argv) > 5 else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(output, "ab") as f:
            f.write(body)
        peer = self.connection.getpeercert() if client_ca else None
        if peer:
            subject = dict(item for rdn in peer["subject"] for item in rdn)
            with open(output + ".peers", "a") as f:
                f.write(subject.get("commonName", "") + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
if client_ca:
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_ca)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
