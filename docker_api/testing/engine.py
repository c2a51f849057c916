"""An in-memory Docker Engine behind an ``httpx.MockTransport``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from ..client import DockerClient
from .state import FakeBuild, FakeContainer, exit_code_for, fake_digest, normalize_image, now
from .streams import FakeAttachPeer, FakeNetworkStream, attach_pair

Handler = Callable[[httpx.Request, re.Match[str]], Awaitable[httpx.Response]]

_VERSION_PREFIX = re.compile(r"^/v[0-9.]+(?=/)")
_TRUE = {"1", "true", "True", "yes"}


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message})


def _json_lines(messages: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(message).encode() + b"\r\n" for message in messages)


class _UpgradedBody(httpx.AsyncByteStream):
    """Empty body of a 101 answer; closing it drops the connection, as httpcore does."""

    def __init__(self, connection: FakeNetworkStream) -> None:
        self._connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield

    async def aclose(self) -> None:
        await self._connection.aclose()


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    message: str
    remaining: int


class FakeDockerEngine:
    """Enough of the Engine API, in memory, to exercise code built on DockerClient.

    See :mod:`docker_api.testing` for a usage guide. All state is public:
    ``images`` (normalised reference -> inspect dict), ``containers`` (id ->
    :class:`FakeContainer`), ``builds``, ``requests``.

    Args:
        images: References that exist from the start (``"alpine"`` means
            ``"alpine:latest"``).

    Attributes:
        down: When true, every request fails with ``httpx.ConnectError``, so
            the client raises ``DaemonUnavailable``.
        on_attach: Called synchronously with each new :class:`FakeAttachPeer`,
            e.g. ``lambda peer: nursery.start_soon(fake_runner, peer)``.
        build_output: Progress messages streamed by ``/build``; include
            ``{"error": ...}`` to make the build fail (no image is added then).
        stats_tick: When set, a one-shot ``/stats`` answers at the next multiple
            of it on the Trio clock, as Docker 20.10 does (its collector runs
            once a second and a one-shot request waits for the next run).
        events: What ``/events`` answers, filtered by its ``container`` and
            ``event`` filters: the fake logs nothing itself, tests append
            (:meth:`log_event`), and it streams no live events.
    """

    def __init__(self, images: Iterable[str] = ()) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, FakeContainer] = {}
        self.builds: list[FakeBuild] = []
        self.requests: list[httpx.Request] = []
        self.down = False
        self.on_attach: Callable[[FakeAttachPeer], None] | None = None
        self.build_output: list[dict[str, Any]] | None = None
        self.stats_tick: float | None = None
        self.events: list[dict[str, Any]] = []
        self._failures: list[_Failure] = []
        self._counter = 0
        self._attach_send, self._attach_receive = trio.open_memory_channel[FakeAttachPeer](math.inf)
        self._transport = httpx.MockTransport(self._handle)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(f"^{pattern}$"), handler)
            for method, pattern, handler in [
                ("GET", r"/_ping", self._ping),
                ("HEAD", r"/_ping", self._ping),
                ("GET", r"/version", self._version),
                ("GET", r"/info", self._info),
                ("GET", r"/system/df", self._disk_usage),
                ("GET", r"/events", self._events),
                ("POST", r"/containers/create", self._create),
                ("GET", r"/containers/json", self._list),
                ("POST", r"/containers/(?P<ref>[^/]+)/start", self._start),
                ("POST", r"/containers/(?P<ref>[^/]+)/kill", self._kill),
                ("DELETE", r"/containers/(?P<ref>[^/]+)", self._remove),
                ("GET", r"/containers/(?P<ref>[^/]+)/json", self._inspect),
                ("POST", r"/containers/(?P<ref>[^/]+)/update", self._update),
                ("GET", r"/containers/(?P<ref>[^/]+)/stats", self._stats),
                ("POST", r"/containers/(?P<ref>[^/]+)/wait", self._wait),
                ("POST", r"/containers/(?P<ref>[^/]+)/attach", self._attach),
                ("GET", r"/images/(?P<name>.+)/json", self._image_inspect),
                ("DELETE", r"/images/(?P<name>.+)", self._image_remove),
                ("POST", r"/build", self._build),
                ("POST", r"/images/create", self._import),
            ]
        ]
        for reference in images:
            self.add_image(reference)

    # Test-facing API.

    @property
    def transport(self) -> httpx.MockTransport:
        """Pass as ``DockerClient(transport=...)``."""
        return self._transport

    def client(self, **kwargs: Any) -> DockerClient:
        """Return a :class:`DockerClient` talking to this fake."""
        return DockerClient(transport=self._transport, **kwargs)

    def add_image(self, reference: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Make ``reference`` exist; returns its inspect dict."""
        self._counter += 1
        name = normalize_image(reference)
        image = {
            "Id": f"sha256:{fake_digest('image', self._counter)}",
            "RepoTags": [name],
            "Created": now(),
            "Config": {"Labels": dict(labels or {})},
        }
        self.images[name] = image
        return image

    def container(self, ref: str) -> FakeContainer:
        """Look a container up by id, unique id prefix or name; KeyError if absent."""
        container = self._find(ref)
        if container is None:
            raise KeyError(ref)
        return container

    async def next_attach(self) -> FakeAttachPeer:
        """Wait for the next attach request (in arrival order) and return its peer."""
        return await self._attach_receive.receive()

    async def exit_container(self, ref: str, exit_code: int = 0) -> None:
        """Make a running container exit, as if its main process ended.

        Its attach streams reach end of stream and waiters wake up.
        """
        await self._stop(self.container(ref), exit_code)

    def log_event(self, ref: str, action: str) -> None:
        """Add a container event (``"oom"``, ``"die"``, ...) to what ``/events`` answers."""
        container = self.container(ref)
        self.events.append(
            {
                "Type": "container",
                "Action": action,
                "status": action,
                "id": container.id,
                "Actor": {"ID": container.id, "Attributes": {}},
            }
        )

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 500,
        message: str = "injected failure",
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status``.

        ``path_pattern`` is a regex searched in the path without its version
        prefix, e.g. ``r"/containers/create"`` or ``r"/start$"``.
        """
        self._failures.append(
            _Failure(method.upper(), re.compile(path_pattern), status, message, count)
        )

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received, without the version prefix."""
        return [(r.method, _VERSION_PREFIX.sub("", r.url.path)) for r in self.requests]

    # Dispatch.

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused (fake)", request=request)
        path = _VERSION_PREFIX.sub("", request.url.path)
        for failure in self._failures:
            if failure.method == request.method and failure.pattern.search(path):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return _error(failure.status, failure.message)
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and method == request.method:
                return await handler(request, match)
        return _error(404, "page not found")

    def _find(self, ref: str) -> FakeContainer | None:
        ref = ref.removeprefix("/")
        if ref in self.containers:
            return self.containers[ref]
        for container in self.containers.values():
            if container.name == ref:
                return container
        matches = [c for c in self.containers.values() if c.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def _lookup(self, match: re.Match[str]) -> FakeContainer | httpx.Response:
        container = self._find(match["ref"])
        if container is None:
            return _error(404, f"No such container: {match['ref']}")
        return container

    async def _stop(self, container: FakeContainer, exit_code: int) -> None:
        container.status = "exited"
        container.exit_code = exit_code
        container.finished_at = now()
        container.exits += 1
        for peer in container.attach_peers:
            await peer.close()
        container.notify()

    # System.

    async def _ping(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return httpx.Response(200, text="OK", headers={"Api-Version": "1.41"})

    async def _version(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return httpx.Response(
            200,
            json={"Version": "20.10.0-fake", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64"},
        )

    async def _info(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        running = sum(c.running for c in self.containers.values())
        return httpx.Response(
            200,
            json={
                "Containers": len(self.containers),
                "ContainersRunning": running,
                "Images": len(self.images),
                "NCPU": 4,
                "MemTotal": 16 * 1024**3,
                "ServerVersion": "20.10.0-fake",
                "Runtimes": {"runc": {"path": "runc"}},
            },
        )

    async def _disk_usage(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        containers = [
            {**c.summary(), **({"SizeRw": c.size_rw} if c.size_rw else {})}
            for c in self.containers.values()
        ]
        return httpx.Response(
            200,
            json={
                "LayersSize": sum(int(i.get("Size", 0)) for i in self.images.values()),
                "Images": list(self.images.values()),
                "Containers": containers,
                "Volumes": [],
                "BuildCache": [],
            },
        )

    # Containers.

    async def _events(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        filters = json.loads(request.url.params.get("filters") or "{}")
        fields = {"container": lambda e: e["Actor"]["ID"], "event": lambda e: e["Action"]}
        fields["type"] = lambda e: e["Type"]
        wanted = [
            event
            for event in self.events
            if all(fields[key](event) in values for key, values in filters.items())
        ]
        return httpx.Response(200, content=_json_lines(wanted))

    async def _create(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        config = json.loads(request.content or b"{}")
        image = normalize_image(str(config.get("Image", "")))
        if image not in self.images:
            return _error(404, f"No such image: {image}")
        name = request.url.params.get("name")
        if name is not None and self._find(name) is not None:
            return _error(
                409, f'Conflict. The container name "/{name}" is already in use by container.'
            )
        self._counter += 1
        container_id = fake_digest("container", self._counter)
        container = FakeContainer(
            id=container_id,
            name=name or f"fake_{container_id[:12]}",
            config=config,
            image=image,
            image_id=self.images[image]["Id"],
            host_config=dict(config.get("HostConfig") or {}),
        )
        self.containers[container_id] = container
        return httpx.Response(201, json={"Id": container_id, "Warnings": []})

    async def _list(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        include_all = request.url.params.get("all", "false") in _TRUE
        filters: dict[str, list[str]] = json.loads(request.url.params.get("filters") or "{}")
        for key in filters:
            if key not in ("label", "name", "id", "status"):
                return _error(400, f"invalid filter '{key}'")
        selected = []
        for container in self.containers.values():
            if not include_all and not container.running:
                continue
            if _matches(container, filters):
                selected.append(container.summary())
        return httpx.Response(200, json=selected)

    async def _start(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        if container.running:
            return httpx.Response(304)
        container.status = "running"
        container.started_at = now()
        container.notify()
        return httpx.Response(204)

    async def _kill(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        signal = request.url.params.get("signal", "SIGKILL")
        exit_code = exit_code_for(signal)
        if exit_code is None:
            return _error(400, f"Invalid signal: {signal}")
        if not container.running:
            return _error(
                409,
                f"Cannot kill container: {match['ref']}: Container {container.id} is not running",
            )
        container.signals.append(signal)
        await self._stop(container, exit_code)
        return httpx.Response(204)

    async def _remove(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        if container.running:
            if request.url.params.get("force", "false") not in _TRUE:
                return _error(
                    409,
                    f"You cannot remove a running container {container.id}. "
                    "Stop the container before attempting removal or force remove",
                )
            await self._stop(container, exit_code_for("SIGKILL") or 137)
        del self.containers[container.id]
        container.removed = True
        for peer in container.attach_peers:
            await peer.close()
        container.notify()
        return httpx.Response(204)

    async def _inspect(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        return httpx.Response(200, json=container.inspect())

    async def _update(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        resources = json.loads(request.content or b"{}")
        container.updates.append(resources)
        container.host_config.update(resources)
        return httpx.Response(200, json={"Warnings": []})

    async def _stats(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        if self.stats_tick:
            tick = self.stats_tick
            await trio.sleep_until((math.floor(trio.current_time() / tick) + 1) * tick)
        return httpx.Response(200, json=container.sample_stats())

    async def _wait(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        condition = request.url.params.get("condition", "not-running")
        exits_before = container.exits
        done: dict[str, Callable[[], bool]] = {
            "not-running": lambda: not container.running,
            "next-exit": lambda: container.exits > exits_before or container.removed,
            "removed": lambda: container.removed,
        }
        if condition not in done:
            return _error(400, f"invalid condition: {condition!r}")
        while not done[condition]():
            await container.changed.wait()
        return httpx.Response(200, json={"StatusCode": container.exit_code, "Error": None})

    async def _attach(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        container = self._lookup(match)
        if isinstance(container, httpx.Response):
            return container
        client_end, peer = attach_pair(container.id)
        container.attach_peers.append(peer)
        if container.status == "exited":
            await peer.close()
        self._attach_send.send_nowait(peer)
        if self.on_attach is not None:
            self.on_attach(peer)
        return httpx.Response(
            101,
            headers={
                "Connection": "Upgrade",
                "Upgrade": "tcp",
                "Content-Type": "application/vnd.docker.raw-stream",
            },
            stream=_UpgradedBody(client_end),
            extensions={"network_stream": client_end},
        )

    # Images.

    async def _image_inspect(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        image = self._find_image(match["name"])
        if image is None:
            return _error(404, f"No such image: {match['name']}")
        return httpx.Response(200, json=image)

    async def _image_remove(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        image = self._find_image(match["name"])
        if image is None:
            return _error(404, f"No such image: {match['name']}")
        in_use = [c for c in self.containers.values() if c.image_id == image["Id"]]
        if in_use and request.url.params.get("force", "false") not in _TRUE:
            return _error(
                409,
                f"conflict: unable to remove repository reference {match['name']!r} "
                f"(must force) - container {in_use[0].id[:12]} is using its referenced image",
            )
        for name in image["RepoTags"]:
            self.images.pop(name, None)
        return httpx.Response(200, json=[{"Untagged": tag} for tag in image["RepoTags"]])

    def _find_image(self, reference: str) -> dict[str, Any] | None:
        image = self.images.get(normalize_image(reference))
        if image is not None:
            return image
        for candidate in self.images.values():
            if candidate["Id"] in (reference, f"sha256:{reference}"):
                return candidate
        return None

    async def _build(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        params = request.url.params
        tag = params.get("t", "")
        labels = json.loads(params.get("labels") or "{}")
        build = FakeBuild(
            tag=tag,
            body=request.content,
            dockerfile=params.get("dockerfile", "Dockerfile"),
            labels=labels,
            nocache=params.get("nocache", "false") in _TRUE,
        )
        self.builds.append(build)
        output = self.build_output
        if output is None:
            output = [
                {"stream": "Step 1/1 : FROM scratch"},
                {"stream": "\n"},
                {"stream": "Successfully built fake\n"},
                {"stream": f"Successfully tagged {tag}\n"},
            ]
        if tag and not any("error" in m or "errorDetail" in m for m in output):
            self.add_image(tag, labels=labels)
        return httpx.Response(200, content=_json_lines(output))

    async def _import(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        params = request.url.params
        if params.get("fromSrc") != "-":
            return _error(400, "the fake Engine only supports fromSrc=-")
        reference = f"{params.get('repo', '')}:{params.get('tag') or 'latest'}"
        self.builds.append(FakeBuild(tag=reference, body=request.content, imported=True))
        image = self.add_image(reference)
        return httpx.Response(200, content=_json_lines([{"status": image["Id"]}]))


def _matches(container: FakeContainer, filters: dict[str, list[str]]) -> bool:
    for wanted in filters.get("label", []):
        key, sep, value = wanted.partition("=")
        if key not in container.labels or (sep and container.labels[key] != value):
            return False
    names = filters.get("name")
    if names and not any(re.search(name, container.name) for name in names):
        return False
    ids = filters.get("id")
    if ids and not any(container.id.startswith(prefix) for prefix in ids):
        return False
    statuses = filters.get("status")
    return not statuses or container.status in statuses
