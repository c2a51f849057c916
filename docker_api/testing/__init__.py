"""A fake Docker Engine for unit tests, faked at the HTTP transport.

:class:`FakeDockerEngine` answers the Engine API from memory through an
``httpx.MockTransport``, so the real :class:`~docker_api.DockerClient` code
(paths, status handling, error mapping, frame parsing) runs unchanged::

    from docker_api import NotFound
    from docker_api.testing import FakeDockerEngine

    async def test_create_and_start():
        fake = FakeDockerEngine(images=["code-engine-base:bookworm"])
        async with fake.client() as docker:  # or DockerClient(transport=fake.transport)
            container_id = await docker.containers.create(
                {"Image": "code-engine-base:bookworm", "Labels": {"pool": "python"}}
            )
            await docker.containers.start(container_id)
        assert fake.container(container_id).running
        assert fake.container(container_id).config["Labels"] == {"pool": "python"}

What it implements: ping/version/info; container create (404 unless the image
is in ``fake.images``, 409 on a duplicate name), start (304 when running),
kill (409 when not running), remove (404 unknown, 409 running without force),
inspect, list (``all`` and the ``label``/``name``/``id``/``status`` filters),
update, one-shot stats (``FakeContainer.stats`` overrides the sample), wait
(``not-running``, ``next-exit``, ``removed``), attach; image inspect/remove,
build and import. Anything else answers 404 ``page not found``.

Driving failures:

* ``fake.down = True``: every request raises ``httpx.ConnectError``, which the
  client reports as ``DaemonUnavailable``.
* ``fake.fail_next("POST", r"/start$", status=500, message="boom")``: the next
  matching request gets that error answer.
* ``await fake.exit_container(container_id, exit_code=1)``: the container's
  main process "ends"; attach streams see end of stream, waiters wake up.
* ``fake.build_output = [{"stream": "..."}, {"error": "failed"}]``: scripted
  ``/build`` progress.

Attach. Every attach gets a fresh in-memory connection. The client end is the
``network_stream`` of a ``101`` response; the container end is a
:class:`FakeAttachPeer` that the test drives. Get peers either in arrival
order with ``await fake.next_attach()``, or as they are created through the
synchronous ``fake.on_attach`` hook, which suits "runner" tasks serving many
containers::

    async def echo_runner(peer: FakeAttachPeer) -> None:
        while data := await peer.receive_stdin():  # b"" once the client closed
            await peer.send_frame(STDOUT, data)

    async def test_pool(nursery):
        fake = FakeDockerEngine(images=["code-engine-base:bookworm"])
        fake.on_attach = lambda peer: nursery.start_soon(echo_runner, peer)
        ...

``peer.send_raw(data)`` sends arbitrary bytes (half frames, garbage) and
``await peer.close()`` ends the stream as an exiting container would.

Time. The fake never sleeps and uses no wall-clock time: it only blocks on
Trio primitives (``wait`` until the container changes state, attach reads until
the peer sends). It therefore runs unchanged under ``trio.testing.MockClock``
(``autojump_clock`` fixture of pytest-trio), where virtual time only moves
through your code's own sleeps and deadlines. A call that nothing will ever
wake (``containers.wait`` on a container no one stops, ``stream.receive()``
with no peer output) makes the autojump clock skip straight to the next
deadline, so guard such calls with ``trio.fail_after`` and assert exact virtual
times::

    async def test_exec_deadline(autojump_clock):
        fake = FakeDockerEngine(images=["code-engine-base:bookworm"])
        async with fake.client() as docker:
            ...
            with trio.move_on_after(5):
                await stream.receive()  # peer stays silent
            assert trio.current_time() == 5

httpx timeouts are not enforced by ``httpx.MockTransport``; limits must come
from Trio cancel scopes, which is how the service sets them anyway.
"""

from .engine import FakeDockerEngine
from .state import FakeBuild, FakeContainer
from .streams import FakeAttachPeer, FakeNetworkStream, attach_pair

__all__ = [
    "FakeAttachPeer",
    "FakeBuild",
    "FakeContainer",
    "FakeDockerEngine",
    "FakeNetworkStream",
    "attach_pair",
]
