"""Languages as data: the schema refuses a bad file by file and field; a new file is a language."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.protocol import StepResult
from service.language_files import LanguageFileError, read, read_all
from service.languages import all_languages, from_file, select
from service.sandbox.image import context_files
from service.sandbox.image_recipe import build_script, recipe, versions_from
from service.testing.languages import AWK


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path


def test_a_language_is_a_file(tmp_path):
    write(tmp_path, "awk", AWK)
    (awk,) = all_languages(tmp_path)
    assert awk.name == "awk" and not awk.compiled
    assert awk.run_command(256) == ["mawk", "-f", "/work/build/main.awk"]
    assert awk.moved_to("/work/tool", "/work/check").run_argv[-1] == "/work/tool/main.awk"
    # The image it needs is written from it: its package, its version probe.
    files = dict(context_files(languages=(awk,)))
    assert b"mawk" in files["Dockerfile"]
    assert b"mawk -W version" in files["languages/versions.sh"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("[run]", "[run]\nstack = 1"), "awk.toml: run: Object contains unknown field `stack`"),
        (('main_file = "main.awk"', "main_file = 3"), "main_file: Expected `str`, got `int`"),
        (('main_file = "main.awk"', 'main_file = "main.py"'), "main_file: 'main.py' must be"),
        (('aliases = ["awk", "mawk"]', 'aliases = ["mawk"]'), "aliases: must hold the name"),
        (('"{build}/main.awk"', '"{bulid}/main.awk"'), "run.argv: {bulid}"),
        (('name = "hello"', 'name = "hello"\nstatus = "fine"'), "tests[0].status: 'fine'"),
        (("[image]", "[memory]\nmin_mb = 8\n[image]"), "memory.min_mb_gvisor: at least"),
        (("[image]", "[[memory.out_of_memory]]\nsignals = ['SIGNOPE']\n[image]"), "SIGNOPE"),
        (("[image]", "[compile]\nargv = ['cc']\n[image]"), "compile: Object missing required"),
        (('name = "awk"', 'name = "gawk"'), "name: 'gawk' must be"),
        (("[run]", "[run\n"), "awk.toml: is not TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_field(tmp_path, change, says):
    old, new = change
    assert old in AWK
    path = write(tmp_path, "awk", AWK.replace(old, new, 1))
    with pytest.raises(LanguageFileError) as refused:
        read(path)
    assert says in str(refused.value)
    assert str(refused.value).startswith(str(path))


def test_an_alias_belongs_to_one_language(tmp_path):
    write(tmp_path, "awk", AWK)
    write(
        tmp_path, "gawk", AWK.replace('name = "awk"', 'name = "gawk"').replace('mawk"]', 'gawk"]')
    )
    with pytest.raises(LanguageFileError, match="aliases: 'awk' is already 'awk''s"):
        read_all(tmp_path)


def test_the_selection_names_files_and_leaves_opt_in_ones_out(tmp_path):
    write(tmp_path, "awk", AWK)
    big = AWK.replace('name = "awk"', 'name = "big"\nopt_in = true')
    write(tmp_path, "big", big.replace('["awk", "mawk"]', '["big"]'))
    assert [lang.name for lang in select("all", tmp_path)] == ["awk"]
    assert [lang.name for lang in select("all,big", tmp_path)] == ["awk", "big"]
    assert [lang.name for lang in select(" Big ", tmp_path)] == ["big"]
    with pytest.raises(LanguageFileError, match="names 'cobol', which has no file"):
        select("awk,cobol", tmp_path)


def test_the_shipped_files_all_read_and_each_compiled_one_has_its_floor():
    languages = all_languages()
    assert {"python", "javascript", "go", "cpp"} <= {lang.name for lang in languages}
    for lang in languages:
        assert lang.data is not None and lang.data.tests, f"{lang.name} has no self-tests"
        assert (lang.compile_memory_floor_mb > 0) == lang.compiled


def test_out_of_memory_words_and_the_process_limit_words_that_look_alike(tmp_path):
    text = AWK.replace(
        "[image]",
        """[[memory.out_of_memory]]
exit_codes = [1]
stderr = ["java.lang.OutOfMemoryError"]
[[memory.process_limit]]
stderr = ["unable to create native thread"]
[image]""",
    )
    lang = from_file(read(write(tmp_path, "awk", text)))

    def step(stderr: bytes, exit_code: int = 1) -> StepResult:
        return StepResult(exit_code=exit_code, signal=None, stderr=stderr)

    assert lang.memory.out_of_memory(step(b"java.lang.OutOfMemoryError: Java heap space\n"))
    assert not lang.memory.out_of_memory(step(b"java.lang.OutOfMemoryError: Java heap space", 2))
    thread = b"java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory"
    assert not lang.memory.out_of_memory(step(thread))


def test_heap_flags_are_sized_from_the_jobs_limit():
    node = {lang.name: lang for lang in all_languages()}["javascript"]
    assert node.run_command(400)[:2] == ["node", "--max-old-space-size=272"]
    assert "--snapshot-blob" not in node.run_command(300)
    go = {lang.name: lang for lang in all_languages()}["go"]
    assert go.run_environment(400)["GOMEMLIMIT"] == "360MiB"


def test_npm_packages_reach_the_build_steps_through_the_context(tmp_path):
    text = AWK.replace(
        "[image]", '[image]\nnpm = ["@types/node@18.19.130"]\nbuild = ["ls $NPM_DIR"]'
    )
    lang = from_file(read(write(tmp_path, "awk", text)))
    fetched = []
    made = recipe((lang,), fetch=lambda spec: fetched.append(spec) or b"tarball")
    assert fetched == ["@types/node@18.19.130"]
    assert made.files["npm/types-node.tgz"] == b"tarball"
    assert "COPY npm/types-node.tgz /tmp/npm/" in made.instructions
    script = made.files["languages/build-awk.sh"].decode()
    assert "export NPM_DIR=/tmp/npm" in script and script.endswith("rm -rf /tmp/npm\n")
    unpinned = AWK.replace("[image]", '[image]\nnpm = ["typescript"]')
    with pytest.raises(LanguageFileError, match=r"image\.npm: 'typescript': name@version"):
        read(write(tmp_path, "awk", unpinned))


def test_the_builds_version_line_becomes_the_images_label():
    assert versions_from('code-engine-language-version {"go": "go1.23"}') == {"go": "go1.23"}
    assert versions_from("Step 3/25 : RUN ...") is None
    assert versions_from("code-engine-language-version not json") is None
    go = {lang.name: lang for lang in all_languages()}["go"]
    script = build_script(go)
    # Go's standard library is compiled under exactly the compile step's environment.
    assert "export COMPILE_ENV='GOCACHE=/tmp/go-build-cache GOPATH=/tmp/gopath" in script
