# A stand-in for the OpenTelemetry Collector where its image cannot be had: receives OTLP/HTTP
# JSON on :4318 and prints one line per span (trace id, service, span name) to its output,
# which `docker compose logs otel-collector` shows.
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            request = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        for resource in request.get("resourceSpans", []):
            service = next(
                (a["value"].get("stringValue") for a in resource.get("resource", {}).get("attributes", [])
                 if a.get("key") == "service.name"),
                "unknown",
            )
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    print(json.dumps({"trace_id": span.get("traceId"), "service": service, "name": span.get("name")}), flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 4318), Receiver).serve_forever()
