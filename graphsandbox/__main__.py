"""``python -m graphsandbox``: start the sandbox, print one JSON line describing it, serve until stopped."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .app import Config, SandboxApp
from .certs import issue_server_certificate
from .costs import CostSettings
from .server import SandboxServer, tls_context


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m graphsandbox", description="A local stand-in for Entra ID and Microsoft Graph."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on start)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=None, help="default: users / 20 (at least 3)")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--state-dir", default="var/sandbox", type=Path)
    parser.add_argument("--token-lifetime", type=int, default=3600, help="access token lifetime, seconds")
    parser.add_argument(
        "--demo-redirect-uri",
        action="append",
        default=[],
        help="register another redirect URI on the demo app (repeatable)",
    )
    parser.add_argument("--access-log", action="store_true", help="log each request to stderr")
    costs = parser.add_argument_group("Graph's costs (off by default; also POST /_sandbox/costs)")
    costs.add_argument("--latency", action="store_true", help="hold each Graph answer as long as the cost model says")
    costs.add_argument(
        "--latency-scale",
        type=_non_negative,
        default=None,
        metavar="F",
        help="multiply the modelled latency by F (implies --latency; 0.01 runs the same shape 100x faster)",
    )
    costs.add_argument(
        "--budget",
        action="store_true",
        help="enforce the resource-unit budget per app + tenant (sized from --users) with 429 past it",
    )
    costs.add_argument(
        "--budget-units", type=int, default=None, metavar="N", help="budget per window (implies --budget)"
    )
    costs.add_argument(
        "--budget-window", type=float, default=None, metavar="S", help="budget window in seconds (default 10)"
    )
    parser.add_argument(
        "--init-only",
        action="store_true",
        help="write the CA, certificate and sandbox.json for --port, then exit without serving",
    )
    return parser


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _costs(args: argparse.Namespace) -> CostSettings:
    settings = CostSettings(
        latency=args.latency or args.latency_scale is not None,
        budget=args.budget or args.budget_units is not None,
        budget_units=args.budget_units,
    )
    if args.latency_scale is not None:
        settings.latency_scale = args.latency_scale
    if args.budget_window is not None:
        settings.budget_window_seconds = args.budget_window
    return settings


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    app = SandboxApp(
        Config(
            users=args.users,
            groups=args.groups,
            devices=args.devices,
            seed=args.seed,
            token_lifetime=args.token_lifetime,
            extra_redirect_uris=tuple(args.demo_redirect_uri),
            costs=_costs(args),
        )
    )
    ca_path = None
    context = None
    if not args.http:
        cert = issue_server_certificate(state_dir, extra_hosts=(args.host,))
        context = tls_context(str(cert.cert_path), str(cert.key_path))
        ca_path = str(cert.ca_path)
    server = (
        None
        if args.init_only
        else SandboxServer(args.host, args.port, app, ssl_context=context, access_log=args.access_log)
    )
    port = args.port if server is None else server.port
    base_url = f"{'http' if args.http else 'https'}://{_url_host(args.host)}:{port}"
    registry = app.registry
    info = {
        "base_url": base_url,
        "ca_path": ca_path,
        "tenant_id": registry.tenant_id,
        "tenant_domain": registry.domain,
        "client_id": registry.demo_client_id,
        "client_secret": registry.demo_secret,
        "authority": f"{base_url}/{registry.tenant_id}",
        "graph_url": f"{base_url}/v1.0",
        "portal_url": f"{base_url}/_sandbox/portal",
        "state_dir": str(state_dir),
        "dashboard_client_id": registry.dashboard_client_id,
        "dashboard_client_secret": registry.dashboard_secret,
    }
    (state_dir / "sandbox.json").write_text(json.dumps(info, indent=2) + "\n")
    (state_dir / "sandbox.json").chmod(0o600)
    if server is None:  # --init-only: `make run` prepares the dashboard's demo data from this file
        print(json.dumps(info), flush=True)
        return 0

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps(info), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
