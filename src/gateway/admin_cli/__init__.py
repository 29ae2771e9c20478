"""`pcache admin`: a command line over the admin REST API, configured like aws-cli.

    pcache admin [--endpoint-url URL] [--profile P] [--region R] [--json] NOUN ACTION ...

It signs its own requests (auth.sigv4_sign) and talks HTTP through urllib: no AWS SDK, no
aiohttp, so it starts fast and stays inside the gateway package's import rules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from gateway.admin_cli.client import AdminClient, ApiError
from gateway.admin_cli.commands import Context, UsageProblem, build_parser
from gateway.admin_cli.profile import ConfigProblem, resolve

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run one admin command; returns the exit code (0 ok, 1 API error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help is 0, a usage error 2
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        conn = resolve(
            os.environ if env is None else env,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            region=args.region,
            ca_bundle=args.ca_bundle,
            verify_tls=not args.no_verify_ssl,
        )
        ctx = Context(AdminClient(conn), args.json, sys.stdout, sys.stderr)
        args.func(ctx, args)
    except (ConfigProblem, UsageProblem) as err:
        print(f"pcache admin: {err}", file=sys.stderr)
        return 2
    except ApiError as err:
        print(f"{err.code}: {err.message}", file=sys.stderr)
        return 1
    return 0
