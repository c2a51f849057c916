"""The leftovers class in every served language beyond the four the suite attacks in
depth: files on every writable place and a process left running, written the way
each language does it. The reset between jobs is the agent's and knows no
language; these cases hold it to that for each language's runtime (a JVM, Mono,
a program linked by fpc, an interpreter's own process spawning).

After each, the probe (HostileBench.assert_clean) must find the container as
new: no process, no file, no IPC object, no socket; and the container is kept.
Process and thread bombs are attacked in depth in Python, C++, Go and JavaScript
(test_processes.py); every other language's file carries one among its
self-tests (tests/integration/test_language_selftests.py) but SQL's, whose shell
starts processes only through `.system`, a shell: Bash's bomb.
"""

from __future__ import annotations

import pytest

from service.languages import lookup

from .hostile_support import Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile

PROGRAMS = {
    "bash": """
for place in /tmp/left /dev/shm/left left; do echo x > "$place"; done
sleep 1000 >/dev/null 2>&1 &
echo left
""",
    "c": r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    const char *places[] = {"/tmp/left", "/dev/shm/left", "left"};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(places[i], "w");
        if (!f) return 2;
        fputs("x", f);
        fclose(f);
    }
    if (fork() == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0); dup2(null, 1); dup2(null, 2);
        setsid();
        execlp("sleep", "sleep", "1000", (char *)0);
        _exit(1);
    }
    puts("left");
    return 0;
}
""",
    "java": """
import java.nio.file.*;
public class Main {
    public static void main(String[] args) throws Exception {
        for (String place : new String[] {"/tmp/left", "/dev/shm/left", "left"})
            Files.writeString(Path.of(place), "x");
        new ProcessBuilder("sleep", "1000")
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
        System.out.println("left");
    }
}
""",
    "rust": """
use std::process::{Command, Stdio};
fn main() {
    for place in ["/tmp/left", "/dev/shm/left", "left"] {
        std::fs::write(place, "x").unwrap();
    }
    Command::new("sleep").arg("1000")
        .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null())
        .spawn().unwrap();
    println!("left");
}
""",
    "csharp": """
using System.Diagnostics;
using System.IO;
class P {
    static void Main() {
        foreach (var place in new[] { "/tmp/left", "/dev/shm/left", "left" })
            File.WriteAllText(place, "x");
        var sleep = new ProcessStartInfo("sleep", "1000") {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process.Start(sleep);
        System.Console.WriteLine("left");
    }
}
""",
    "pascal": """
uses Unix;
const places: array[0..2] of string = ('/tmp/left', '/dev/shm/left', 'left');
var f: text; i: integer;
begin
  for i := 0 to 2 do begin
    assign(f, places[i]); rewrite(f); write(f, 'x'); close(f);
  end;
  fpSystem('sleep 1000 >/dev/null 2>&1 &');
  writeln('left');
end.
""",
    "pypy": """
import subprocess
for place in ("/tmp/left", "/dev/shm/left", "left"):
    with open(place, "w") as f:
        f.write("x")
subprocess.Popen(
    ["sleep", "1000"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    start_new_session=True,
)
print("left")
""",
    "ruby": """
["/tmp/left", "/dev/shm/left", "left"].each { |place| File.write(place, "x") }
Process.detach(spawn("sleep", "1000", [:out, :err] => "/dev/null"))
puts "left"
""",
    "php": """<?php
foreach (["/tmp/left", "/dev/shm/left", "left"] as $place) file_put_contents($place, "x");
exec("sleep 1000 > /dev/null 2>&1 &");
echo "left\\n";
""",
    "perl": """
for my $place ("/tmp/left", "/dev/shm/left", "left") {
    open(my $f, ">", $place) or die "$place: $!";
    print $f "x";
    close $f;
}
system("sleep 1000 >/dev/null 2>&1 &");
print "left\\n";
""",
    "lua": """
for _, place in ipairs({"/tmp/left", "/dev/shm/left", "left"}) do
  local f = assert(io.open(place, "w"))
  f:write("x")
  f:close()
end
os.execute("sleep 1000 >/dev/null 2>&1 &")
print("left")
""",
    # The sqlite3 shell's own dot-commands reach the file system and processes.
    "sql": """
.output /tmp/left
SELECT 'x';
.output /dev/shm/left
SELECT 'x';
.output left
SELECT 'x';
.output stdout
.system sh -c "sleep 1000 >/dev/null 2>&1 &"
SELECT 'left';
""",
}

CASES = [
    Hostile(
        f"{language}-leaves-files-and-a-process",
        language,
        code,
        "ok",
        # Nothing on stderr: every step of the attack went through.
        check=lambda reply: reply["output"] == "left\n" and reply["error"] == "",
    )
    for language, code in PROGRAMS.items()
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_leftovers_in_every_language(sandbox: HostileBench, baseline, case: Hostile) -> None:
    if lookup(case.language) is None:
        pytest.skip(f"{case.language} is not served here (CODE_ENGINE_LANGUAGES)")
    sandbox.exercise(case)
