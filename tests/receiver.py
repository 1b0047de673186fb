"""A local HTTPS webhook receiver for alert tests: it stands where Teams, Slack or a generic JSON
webhook would be, and keeps what it was sent. Its certificate is issued by the sandbox's CA, which
the dashboard and the worker already trust (GRAPH_CA_BUNDLE)."""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from graphsandbox.certs import CA_CERT, CA_KEY, issue_server_certificate


class WebhookReceiver:
    def __init__(self, sandbox_state_dir: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix="webhook-receiver-"))
        for name in (CA_CERT, CA_KEY):
            shutil.copy(Path(sandbox_state_dir) / name, folder / name)
        cert = issue_server_certificate(folder)
        self.received: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    data = json.loads(body)
                except ValueError:
                    data = body.decode("utf-8", "replace")
                receiver.received.append(
                    {"path": self.path, "json": data, "content_type": self.headers.get("Content-Type", "")}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert_path, cert.key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"https://{self.host}{path}"

    def clear(self) -> None:
        self.received.clear()
        self.status = 200

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.05)
        return list(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
