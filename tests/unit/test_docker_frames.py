"""Pure parsers of docker_api: multiplexed frames and JSON progress lines."""

import struct

import pytest

from docker_api import Frame, FrameParser, ProtocolError
from docker_api.frames import STDERR, STDOUT, encode_frame
from docker_api.progress import decode_progress_line, progress_error


def test_encode_frame_layout() -> None:
    assert encode_frame(STDERR, b"abc") == b"\x02\x00\x00\x00\x00\x00\x00\x03abc"


def test_one_frame_in_one_chunk() -> None:
    parser = FrameParser()
    assert parser.feed(encode_frame(STDOUT, b"hello\n")) == [Frame(STDOUT, b"hello\n")]
    assert parser.buffered == 0


def test_frame_is_a_plain_tuple() -> None:
    frame = FrameParser().feed(encode_frame(STDOUT, b"x"))[0]
    assert frame == (1, b"x")
    stream_type, payload = frame
    assert (stream_type, payload) == (1, b"x")


def test_several_frames_in_one_chunk() -> None:
    data = encode_frame(STDOUT, b"one") + encode_frame(STDERR, b"two") + encode_frame(1, b"")
    assert FrameParser().feed(data) == [(1, b"one"), (2, b"two"), (1, b"")]


def test_frame_split_byte_by_byte() -> None:
    parser = FrameParser()
    data = encode_frame(STDOUT, b"split payload")
    frames = []
    for i in range(len(data)):
        frames += parser.feed(data[i : i + 1])
        if i < len(data) - 1:
            assert frames == []
            assert parser.buffered == i + 1
    assert frames == [(1, b"split payload")]
    assert parser.buffered == 0


def test_split_inside_header_and_frames_straddling_chunks() -> None:
    parser = FrameParser()
    data = encode_frame(STDOUT, b"a" * 10) + encode_frame(STDERR, b"b" * 5)
    assert parser.feed(data[:3]) == []
    assert parser.feed(data[3:20]) == [(1, b"a" * 10)]
    assert parser.buffered == 2
    assert parser.feed(data[20:]) == [(2, b"b" * 5)]


def test_large_payload() -> None:
    payload = bytes(range(256)) * 1024
    parser = FrameParser()
    data = encode_frame(STDOUT, payload)
    assert parser.feed(data[:70_000]) == []
    assert parser.feed(data[70_000:]) == [(1, payload)]


def test_partial_frame_stays_buffered() -> None:
    parser = FrameParser()
    parser.feed(encode_frame(STDOUT, b"abcdef")[:-2])
    assert parser.buffered == 12


@pytest.mark.parametrize(
    "header",
    [
        struct.pack(">BxxxL", 7, 1),  # unknown stream type
        b"\x01\x00\x01\x00\x00\x00\x00\x01",  # non-zero padding
        b"hello wo",  # raw TTY output
    ],
)
def test_invalid_header_raises(header: bytes) -> None:
    with pytest.raises(ProtocolError, match="Tty"):
        FrameParser().feed(header + b"x")


def test_good_frames_before_garbage_are_returned_first() -> None:
    parser = FrameParser()
    assert parser.feed(encode_frame(STDOUT, b"ok") + b"garbage!") == [(1, b"ok")]
    with pytest.raises(ProtocolError):
        parser.feed(b"")
    with pytest.raises(ProtocolError):
        parser.feed(encode_frame(STDOUT, b"later"))


def test_progress_line_with_one_object() -> None:
    assert decode_progress_line('{"stream": "Step 1/2"}\r') == [{"stream": "Step 1/2"}]


def test_progress_line_with_glued_objects_and_blanks() -> None:
    line = ' {"status": "a"}{"status": "b"}  {"aux": {"ID": "sha256:1"}} '
    assert decode_progress_line(line) == [
        {"status": "a"},
        {"status": "b"},
        {"aux": {"ID": "sha256:1"}},
    ]
    assert decode_progress_line("   ") == []


@pytest.mark.parametrize("line", ['{"stream": ', "not json", "[1, 2]"])
def test_malformed_progress_line(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_progress_line(line)


def test_progress_error_text() -> None:
    assert progress_error({"stream": "fine"}) is None
    assert progress_error({"error": "boom", "errorDetail": {"message": "detail"}}) == "boom"
    assert progress_error({"errorDetail": {"code": 1, "message": "detail"}}) == "detail"
    assert progress_error({"error": ""}) == '{"error": ""}'
