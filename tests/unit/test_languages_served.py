"""Which languages a daemon serves (CODE_ENGINE_LANGUAGES), and how clients learn them."""

from __future__ import annotations

import json

import msgspec
import pytest

from service import languages
from service.operations import catalog
from service.operations.discovery import Discovery
from wire.languages import decode_languages


@pytest.fixture
def only_python_and_go(monkeypatch):
    monkeypatch.setattr(languages, "_served", languages.select("python,go"))


def test_an_unserved_language_is_unknown_and_the_served_ones_are_named(only_python_and_go):
    assert languages.lookup("golang").name == "go"
    assert languages.lookup("cpp") is None
    assert languages.supported() == "go, python"
    assert languages.guess_from_filename("x.cpp") is None


def test_the_default_serves_every_file_but_the_opt_in_ones():
    everything = {lang.name for lang in languages.all_languages()}
    served = {lang.name for lang in languages.select("all")}
    opt_in = {lang.name for lang in languages.all_languages() if lang.data.opt_in}
    assert served == everything - opt_in and {"python", "cpp"} <= served


def test_a_shared_extension_goes_to_the_language_its_variants_vary():
    assert languages.guess_from_filename("main.py").name == "python"
    assert languages.guess_from_filename("a.CPP").name == "cpp"


def test_the_languages_subject_answers_names_versions_aliases_and_extensions(
    only_python_and_go,
):
    answer = catalog.handler("unit-1", languages.served(), lambda: {"go": "go1.23"})(b"")
    reply = decode_languages(answer)
    assert reply.instance == "unit-1"
    go, python = reply.languages
    assert (go.name, go.version, go.compiled, go.extensions) == ("go", "go1.23", True, ["go"])
    assert python.version == "" and "py" in python.aliases and not python.compiled
    assert catalog.table(reply).splitlines()[1].split()[:2] == ["go", "go1.23"]


def test_srv_info_carries_the_same_list_in_its_metadata(only_python_and_go):
    listed = catalog.catalog("unit-1", languages.served(), {})
    d = Discovery("unit-1", "9", {}, metadata=lambda: {"languages": _json(listed)})
    info = msgspec.json.decode(d.info())
    assert info["metadata"]["protocol"]
    names = [entry["name"] for entry in json.loads(info["metadata"]["languages"])]
    assert names == ["go", "python"]


def _json(reply) -> str:
    return msgspec.json.encode(reply.languages).decode()
