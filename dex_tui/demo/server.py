"""The loopback HTTPS transport: serves a FakeCloud on 127.0.0.1 with a certificate from a CA generated
for this run (``dex_tui.demo.certs``), so the real transport (sockets, TLS, timeouts) can be exercised.

One port serves all three services: the identity platform at the root, Graph under ``/graph`` and
the Defender for Endpoint API under ``/mde`` (a tenant segment is a GUID, a domain, ``organizations``
or ``common``, never ``graph`` or ``mde``, so the roots cannot clash).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dex_tui.demo.cloud import FakeCloud
from dex_tui.errors import UsageError

HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: DemoServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (timeouts, resets, TLS refused by the client) is normal here; anything
        else is one line on stderr, never a traceback with request data."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | ssl.SSLError | TimeoutError):
            return
        print(f"dex-tui demo server: internal error: {type(error).__name__}: {error}", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY the body waits for the client's
    # delayed ACK (about 40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Never log requests: headers and bodies carry tokens."""
        return None

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = f"https://{HOST}:{owner.port}{self.path}"
        reply = owner.cloud.handle(self.command, url, dict(self.headers.items()), body)
        if reply.fault == "timeout":
            owner.stopping.wait(owner.hang_seconds)
            self.close_connection = True
            return
        if reply.fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.fault == "truncated":
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.fault == "truncated":
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.close_connection = True
            return
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class DemoServer:
    """Serve ``cloud`` over loopback HTTPS until the context exits.

    Attributes once started: ``port``, ``login_url``, ``graph_url``, ``mde_url`` and ``ca_file`` (the PEM
    of the generated CA; pass it per request as ``verify=``, or to ``--ca-bundle``).
    """

    def __init__(self, cloud: FakeCloud, port: int = 0, *, hang_seconds: float = 30.0) -> None:
        self.cloud = cloud
        self.requested_port = port
        self.hang_seconds = hang_seconds
        self.stopping = threading.Event()
        self.port = 0
        self.login_url = self.graph_url = self.mde_url = ""
        self.ca_file = ""
        self._dir: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DemoServer:
        from dex_tui.demo.certs import issue_demo_certificates

        self._dir = Path(tempfile.mkdtemp(prefix="dex-tui-demo-"))
        files = issue_demo_certificates(self._dir, (HOST, "localhost"))
        ca_path = files.ca_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files.leaf_chain_file, files.leaf_key_file)
        try:
            server = _Server((HOST, self.requested_port), self)
        except OSError as exc:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise UsageError(f"cannot listen on {HOST}:{self.requested_port} ({exc.strerror}).",
                             title="Demo server cannot start",
                             next_step="Choose another --port, or leave it out to pick a free one.") from exc
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self.port = server.server_address[1]
        root = f"https://{HOST}:{self.port}"
        self.login_url, self.graph_url, self.mde_url = root, f"{root}/graph", f"{root}/mde"
        self.ca_file = str(ca_path)
        for url, service in ((self.login_url, "login"), (self.graph_url, "graph"), (self.mde_url, "mde")):
            self.cloud.add_base(url, service)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="dex-tui-demo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
