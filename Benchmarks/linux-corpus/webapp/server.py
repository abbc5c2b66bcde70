#!/usr/bin/python3
"""Vigil test web app: a forking (Apache-prefork-like) HTTP server with CGI.
Deliberately vulnerable: it runs CGI scripts as root (no setuid nobody) and
cgi-bin/lookup.py passes a form field to the shell."""
import http.server, os, socketserver, sys
http.server.nobody_uid = lambda: 0          # keep root: vulnerable config
class Handler(http.server.CGIHTTPRequestHandler):
    cgi_directories = ["/cgi-bin"]
    def log_message(self, fmt, *a):
        with open(os.environ.get("WEBLOG", "/dev/null"), "a") as f:
            f.write("%s %s\n" % (self.address_string(), fmt % a))
class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
os.chdir(sys.argv[2] if len(sys.argv) > 2 else ".")
Server(("127.0.0.1", port), Handler).serve_forever()
