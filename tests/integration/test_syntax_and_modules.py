"""Interpreted programs that do not parse are compile errors, on both subjects; JavaScript
written as an ES module runs as node runs a .mjs file, warm and cold."""

from __future__ import annotations

import base64

import pytest

from engine_client import build_request
from service.testing.client import run_code, send

PROBLEMS = "problems.execute.request"
COLD = {"timeout_ms": 9000}  # other limits than the defaults: no warm start


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def case(stdin: str, expected: str) -> dict:
    return {"stdin": b64(stdin), "expected_output": b64(expected)}


@pytest.mark.parametrize("fields", [{}, COLD], ids=["default", "cold"])
def test_a_python_syntax_error_is_a_compile_error_with_the_parsers_words(daemon, fields):
    reply = run_code(daemon.nats_url, "python", "print('a')\nif x\n", **fields)
    assert reply["status"] == "compile_error", reply
    assert "SyntaxError" in reply["error"] and "main.py" in reply["error"], reply


def test_a_runtime_error_that_names_syntax_stays_a_runtime_error(daemon):
    code = "import sys\nsys.stderr.write('SyntaxError: not really\\n')\nsys.exit(1)"
    reply = run_code(daemon.nats_url, "python", code)
    assert reply["status"] == "runtime_error", reply
    raised = run_code(daemon.nats_url, "python", "raise SyntaxError('raised, not parsed')")
    assert raised["status"] == "runtime_error", raised


def test_a_problem_whose_python_does_not_parse_is_one_compile_error(daemon):
    request = build_request("python", "n = int(input(\nprint(n)", tests=[case("1\n", "1\n")] * 5)
    reply = send(daemon.nats_url, request, subject=PROBLEMS, timeout=120)
    assert reply["status"] == "compile_error", reply
    assert reply["tests"] == [] and reply["passed"] == 0 and reply["total"] == 5
    assert "SyntaxError" in (reply.get("compile_output") or reply.get("error") or ""), reply


def test_a_problem_that_parses_and_fails_is_graded_test_by_test(daemon):
    request = build_request("python", "raise SyntaxError('x')", tests=[case("1\n", "1\n")] * 3)
    reply = send(daemon.nats_url, request, subject=PROBLEMS, timeout=120)
    assert [test["status"] for test in reply["tests"]] == ["runtime_error"] * 3, reply


ESM = """import { readFileSync } from "fs";
import { basename } from "node:path";
import { twice } from "./lib/twice.mjs";
const input = readFileSync(0, "utf8").trim();
const later = await new Promise((done) => setTimeout(() => done(twice(Number(input))), 10));
console.log(later, basename(import.meta.url), typeof require, process.argv.slice(2).join(","));
"""
TWICE = "export const twice = (n) => 2 * n;\n"


@pytest.mark.parametrize("fields", [{}, COLD], ids=["default", "cold"])
def test_an_es_module_runs_as_from_a_mjs_file(daemon, fields):
    files = [{"name": "lib/twice.mjs", "content": b64(TWICE)}]
    reply = run_code(
        daemon.nats_url, "javascript", ESM, stdin="21\n", args=["a", "b"], files=files, **fields
    )
    assert reply["status"] == "ok", reply
    assert reply["output"] == "42 main.js undefined a,b\n", reply


@pytest.mark.parametrize("fields", [{}, COLD], ids=["default", "cold"])
def test_commonjs_keeps_require_and_module(daemon, fields):
    code = "const fs = require('fs');\nconsole.log(require.main === module, typeof fs.readFileSync)"
    reply = run_code(daemon.nats_url, "javascript", code, **fields)
    assert reply["output"] == "true function\n", reply


def test_an_es_module_that_does_not_parse_is_a_compile_error(daemon):
    reply = run_code(daemon.nats_url, "javascript", "import fs from 'fs';\nlet = = 1;\n")
    assert reply["status"] == "compile_error", reply
    assert "main.js:2" in reply["error"], reply


def test_an_es_module_in_a_problem(daemon):
    code = 'import { readFileSync } from "fs";\nconsole.log(readFileSync(0, "utf8").trim());'
    request = build_request("javascript", code, tests=[case("7\n", "7\n"), case("8\n", "8\n")])
    reply = send(daemon.nats_url, request, subject=PROBLEMS, timeout=120)
    assert [test["status"] for test in reply["tests"]] == ["accepted"] * 2, reply


# A main file that parses and loads a module that does not: the module's words.
BROKEN_MODULES = {
    "python": ("import helper\nprint(helper.x)\n", "helper.py", "x = (1,\n", "helper.py"),
    "javascript": (
        "const { x } = require('./helper.js');\nconsole.log(x);\n",
        "helper.js",
        "module.exports = { x: ( };\n",
        "helper.js",
    ),
    "lua": (
        "local h = require('helper')\nprint(h.x)\n",
        "helper.lua",
        "return { x = }\n",
        "helper.lua",
    ),
    "php": (
        "<?php\ninclude __DIR__ . '/helper.php';\necho $x;\n",
        "helper.php",
        "<?php $x = (;\n",
        "helper.php",
    ),
    "ruby": ("require_relative 'helper'\nputs X\n", "helper.rb", "X = (1\n", "helper.rb"),
    "perl": (
        "use Helper;\nprint $Helper::x;\n",
        "Helper.pm",
        "package Helper;\nour $x = (;\n1;\n",
        "Helper.pm",
    ),
    # Bash goes on after a sourced file that does not parse, unless told not to.
    "bash": (
        "set -e\n. /work/build/helper.sh\necho $x\n",
        "helper.sh",
        "if then fi\n",
        "helper.sh",
    ),
}


@pytest.mark.parametrize("language", sorted(BROKEN_MODULES))
def test_a_module_that_does_not_parse_is_the_programs_compile_error(daemon, language):
    code, name, module, named = BROKEN_MODULES[language]
    files = [{"name": name, "content": b64(module)}]
    reply = run_code(daemon.nats_url, language, code, files=files)
    assert reply["status"] == "compile_error", reply
    assert named in reply["error"], reply


def test_a_problem_whose_module_does_not_parse_is_one_compile_error(daemon):
    code, name, module, _ = BROKEN_MODULES["python"]
    files = [{"name": name, "content": b64(module)}]
    request = build_request("python", code, files=files, tests=[case("", "1\n")] * 3)
    reply = send(daemon.nats_url, request, subject=PROBLEMS, timeout=120)
    assert reply["status"] == "compile_error" and reply["tests"] == [], reply


def test_a_lua_module_beside_main_lua_is_found(daemon):
    files = [{"name": "helper.lua", "content": b64("return { x = 5 }\n")}]
    reply = run_code(daemon.nats_url, "lua", "print(require('helper').x)\n", files=files)
    assert (reply["status"], reply["output"]) == ("ok", "5\n"), reply
