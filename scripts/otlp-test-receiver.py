#!/usr/bin/env python3
"""An OTLP/HTTP JSON logs receiver for Vigil's tests.

Decodes each POST /v1/logs body with the official definitions (PyPI opentelemetry-proto:
protobuf's json_format.Parse into ExportLogsServiceRequest, unknown fields refused),
answers 200 with an empty ExportLogsServiceResponse, or 400 naming the decode error, and
appends one JSON line per log record to OUT as decoded. Prints its port on stdout.

usage: otlp-test-receiver.py OUT
"""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

OUT = sys.argv[1]


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/logs":
            return self.answer(404, '{"message":"not found"}')
        if self.headers.get("Content-Type") != "application/json":
            return self.answer(415, '{"message":"expected application/json"}')
        try:
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            request = json_format.Parse(raw.decode("utf-8"), ExportLogsServiceRequest())
        except Exception as e:  # the test reads the reason from the error file
            with open(OUT + ".errors", "a") as f:
                f.write(str(e).replace("\n", " ") + "\n")
            return self.answer(400, json.dumps({"message": str(e)}))
        with open(OUT, "a") as f:
            for rl in request.resource_logs:
                resource = {a.key: value(a.value) for a in rl.resource.attributes}
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        f.write(json.dumps({
                            "resource": resource,
                            "scope": sl.scope.name,
                            "time_unix_nano": r.time_unix_nano,
                            "observed_time_unix_nano": r.observed_time_unix_nano,
                            "severity_number": r.severity_number,
                            "severity_text": r.severity_text,
                            "body": value(r.body),
                            "attributes": {a.key: value(a.value) for a in r.attributes},
                            "gzip": self.headers.get("Content-Encoding") == "gzip",
                            "authorization": self.headers.get("Authorization"),
                        }) + "\n")
        self.answer(200, "{}")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
