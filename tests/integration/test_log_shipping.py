"""Log records reach a BetterStack-style HTTP ingestion endpoint, in batches, with the token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from service.testing.client import run_code
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer
from service.testing.waiting import wait_until


class Ingest(BaseHTTPRequestHandler):
    received: list[tuple[str, list[dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Ingest.received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_job_records_are_shipped_with_the_bearer_token(tmp_path):
    nats_server = NatsServer(tmp_path)  # its own: no other daemon takes the request
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ingest"
    daemon = Daemon(
        nats_server.url,
        tmp_path / "d.log",
        {
            "BETTERSTACKUPLOADURL": url,
            "BETTERSTACKSOURCETOKEN": "secret-token",
            "ENVIRONMENT": "production",
        },
    )
    try:
        reply = run_code(nats_server.url, "python", "print(1)", request_id="shipped-job")
        assert reply["status"] == "ok"

        def shipped() -> dict | None:
            records = [r for _, batch in Ingest.received for r in batch]
            return next((r for r in records if r.get("job_id") == "shipped-job"), None)

        job = wait_until(
            shipped, timeout=10, interval=0.2, what="the job's record at the ingestion endpoint"
        )
        assert job["status"] == "ok"
        assert job["level"] == "info"
        assert {token for token, _ in Ingest.received} == {"Bearer secret-token"}
        # Production logs on stderr are JSON lines too.
        assert any(
            line.startswith("{") and '"shipped-job"' in line
            for line in daemon.log_text().splitlines()
        )
    finally:
        assert daemon.stop() == 0
        server.shutdown()
        nats_server.stop()
