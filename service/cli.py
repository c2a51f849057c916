"""``code-engine``: serve, run a file, build the worker image, watch the dashboard."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import trio

from service.config import Settings, describe
from service.errors import EngineError
from service.languages import guess_from_filename, lookup, select, served, supported
from service.languages import serve as serve_languages
from wire.connection import NatsConnection
from wire.subjects import DEFAULT_NATS_URL, PROBLEMS_SUBJECT

log = logging.getLogger("code-engine")


def _settings_epilog() -> str:
    rows = describe()
    width = max(len(env) for env, _, _ in rows)
    lines = ["configuration (environment variables, default in brackets):"]
    for env, default, meaning in rows:
        lines.append(f"  {env:<{width}}  {meaning} [{default}]")
    return "\n".join(lines)


def _gateway_epilog() -> str:
    from gateway.settings import describe as describe_gateway

    rows = describe_gateway()
    width = max(len(env) for env, _, _ in rows)
    lines = [
        "configuration (environment variables, default in brackets; NATS and the subjects "
        "are the daemon's, see `code-engine serve --help`):"
    ]
    for env, default, meaning in rows:
        lines.append(f"  {env:<{width}}  {meaning} [{default}]")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="code-engine",
        description="Run untrusted code snippets in pre-warmed, hardened Docker containers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the daemon",
        description="Run the daemon: take requests from NATS, run them, reply.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--nats", help="NATS URL (overrides NATSURL)")
    serve.add_argument("--instance-id", help="instance id (overrides CODE_ENGINE_INSTANCE_ID)")

    run = commands.add_parser(
        "run",
        help="run a source file through the engine",
        description="Send FILE to a running engine, print its stdout and stderr, and exit "
        "with the program's exit code (125 when it did not run).",
    )
    run.add_argument("file", type=Path)
    run.add_argument("args", nargs="*", help="arguments passed to the program")
    run.add_argument("--lang", help=f"language (default: from the extension); {supported()}")
    run.add_argument("--stdin", type=Path, help="file to feed on stdin")
    run.add_argument("--timeout-ms", type=int)
    run.add_argument("--memory-mb", type=int)
    run.add_argument("--problems", action="store_true", help="use the problems subject")
    run.add_argument(
        "--nats", help=f"NATS URL or comma-separated list (default: NATSURL or {DEFAULT_NATS_URL})"
    )
    run.add_argument("--json", action="store_true", help="print the whole reply as JSON")

    build = commands.add_parser("build-image", help="build the worker image (no registry needed)")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    build.add_argument("--tag", help="image tag (default: CODE_ENGINE_IMAGE)")

    commands.add_parser(
        "languages",
        help="list the languages served (name, version, aliases, extensions)",
        description="The languages CODE_ENGINE_LANGUAGES chooses, each with the version the "
        "worker image (CODE_ENGINE_IMAGE) probed at its build.",
    )

    from problem_package.commands import add_commands

    add_commands(
        commands, f"NATS URL or comma-separated list (default: NATSURL or {DEFAULT_NATS_URL})"
    )

    gateway = commands.add_parser(
        "gateway",
        help="serve the HTTP front doors (Judge0, Piston, native, MCP) over NATS",
        description="Run the gateway: Judge0- and Piston-compatible APIs, the native HTTP API "
        "and MCP's streamable HTTP endpoint, each request sent to the daemons over NATS.",
        epilog=_gateway_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gateway.add_argument("--nats", help="NATS URL (overrides NATSURL)")
    gateway.add_argument(
        "--addr", help="host:port to listen on (overrides CODE_ENGINE_GATEWAY_ADDR)"
    )

    mcp = commands.add_parser(
        "mcp",
        help="serve MCP over stdio (for an AI agent's tool configuration)",
        description="Speak the Model Context Protocol on stdin/stdout: tools to run code and "
        "list languages, each run sent to the daemons over NATS.",
    )
    mcp.add_argument("--nats", help="NATS URL (overrides NATSURL)")

    tui = commands.add_parser("tui", help="live dashboard of running engines")
    tui.add_argument(
        "--nats", help=f"NATS URL or comma-separated list (default: NATSURL or {DEFAULT_NATS_URL})"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "run":
            return _run(args)
        if args.command == "build-image":
            return _build_image(args)
        if args.command == "tui":
            return _tui(args)
        if args.command == "languages":
            return _languages()
        if args.command in ("judge", "verify", "serve-packages"):
            from problem_package.commands import run as run_package

            return run_package(args, _nats_connection(args.nats))
        if args.command == "gateway":
            from gateway.cli import run_gateway

            return run_gateway(args.nats, args.addr)
        if args.command == "mcp":
            from gateway.cli import run_mcp_stdio

            return run_mcp_stdio(args.nats)
    except EngineError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _serve(args: argparse.Namespace) -> int:
    from service.daemon import serve
    from service.operations.logs import configure

    settings = Settings.from_env(nats_url=args.nats, instance_id=args.instance_id)
    configure(production=settings.production, level=settings.log_level)
    try:
        trio.run(serve, settings)
    except BaseExceptionGroup as group:
        # A component that could not start fails inside the nursery tree: report
        # its own error, not the group around it.
        raise _first_engine_error(group) from None
    return 0


def _first_engine_error(group: BaseExceptionGroup) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found = _first_engine_error(error)
            if isinstance(found, EngineError):
                return found
        elif isinstance(error, EngineError):
            return error
    return group


def _build_image(args: argparse.Namespace) -> int:
    from docker_api import DockerClient
    from service.sandbox.image import build_worker_image

    settings = Settings.from_env()
    serve_languages(select(settings.languages))

    async def build() -> None:
        async with DockerClient(socket_path=settings.docker_socket) as docker:
            await build_worker_image(docker, args.tag or settings.image, force=args.force)

    trio.run(build)
    return 0


def _languages() -> int:
    from docker_api import DockerClient, DockerError
    from service.operations.catalog import catalog, table
    from service.sandbox.image import image_languages

    settings = Settings.from_env()
    serve_languages(select(settings.languages))
    versions: dict[str, str] = {}

    async def probed() -> None:
        async with DockerClient(socket_path=settings.docker_socket) as docker:
            versions.update(await image_languages(docker, settings.image))

    try:
        trio.run(probed)
    except DockerError as exc:  # no Docker, or no image: the list without versions
        print(f"code-engine: no versions ({settings.image}: {exc})", file=sys.stderr)
    print(table(catalog(settings.instance_id, served(), versions)))
    return 0


def _nats_connection(flag: str | None) -> NatsConnection:
    """NATSURL (or the flag) with the CODE_ENGINE_NATS_* login and TLS settings."""
    return Settings.from_env(nats_url=flag).nats_connection


def _run(args: argparse.Namespace) -> int:
    from engine_client import EngineClient, EngineClientError

    language = lookup(args.lang) if args.lang else guess_from_filename(args.file.name)
    if language is None:
        if args.lang:
            problem = f"unknown language {args.lang!r}; supported: {supported()}"
        else:
            problem = f"cannot tell the language of {args.file}; use --lang ({supported()})"
        print(f"code-engine: {problem}", file=sys.stderr)
        return 125
    try:
        connection = _nats_connection(args.nats)  # a URL that is not NATS's is refused here
        code = _read(args.file, "source file")
        stdin = _read(args.stdin, "--stdin file") if args.stdin else b""
    except EngineError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return 125

    async def send() -> dict:
        # One request: a quick, clear failure beats a long retry.
        async with await EngineClient.connect(
            connection=connection, attempts=1, retry_wait_s=0.25
        ) as engine:
            return await engine.execute(
                language.name,
                code,
                stdin=stdin,
                args=args.args,
                timeout_ms=args.timeout_ms,
                memory_mb=args.memory_mb,
                subject=PROBLEMS_SUBJECT if args.problems else None,
            )

    try:
        reply = asyncio.run(send())
    except EngineClientError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return 125
    if args.json:
        import json

        print(json.dumps(reply, indent=2))
    else:
        sys.stdout.write(reply.get("output", ""))
        sys.stdout.flush()
        if reply.get("error"):
            sys.stderr.write(reply["error"].rstrip("\n") + "\n")
        if reply.get("status") not in ("ok", "runtime_error"):
            print(f"[{reply.get('status')}]", file=sys.stderr)
    exit_code = reply.get("exit_code")
    if reply.get("status") == "ok":
        return 0
    if isinstance(exit_code, int) and exit_code != 0:
        return exit_code
    return 125 if reply.get("status") in ("invalid_request", "busy", "internal_error") else 1


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EngineError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def _tui(args: argparse.Namespace) -> int:
    from tui.app import run_dashboard

    return run_dashboard(_nats_connection(args.nats))


if __name__ == "__main__":
    sys.exit(main())
