"""Hello world in every language the engine has or is adding, by engine name.

The integration tests run it through Piston for every runtime the daemons
serve (a served language without a sample here fails that test), and the
benchmark runs Python's through each door.
"""

from __future__ import annotations

C_HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
CPP_HELLO = '#include <iostream>\nint main() { std::cout << "hello" << std::endl; }\n'

HELLO: dict[str, str] = {
    "python": 'print("hello")\n',
    "pypy": 'print("hello")\n',
    "javascript": 'console.log("hello");\n',
    "typescript": 'const greeting: string = "hello";\nconsole.log(greeting);\n',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    "cpp": CPP_HELLO,
    "cpp14": CPP_HELLO,
    "cpp20": CPP_HELLO,
    "cpp23": CPP_HELLO,
    "c": C_HELLO,
    "java": "public class Main {\n  public static void main(String[] a) {\n"
    '    System.out.println("hello");\n  }\n}\n',
    "kotlin": 'fun main() {\n    println("hello")\n}\n',
    "rust": 'fn main() {\n    println!("hello");\n}\n',
    "csharp": "using System;\nclass Program {\n  static void Main() {\n"
    '    Console.WriteLine("hello");\n  }\n}\n',
    "ruby": 'puts "hello"\n',
    "php": '<?php\necho "hello\\n";\n',
    "pascal": "program Hello;\nbegin\n  writeln('hello');\nend.\n",
    "haskell": 'main :: IO ()\nmain = putStrLn "hello"\n',
    "bash": "echo hello\n",
    "lua": 'print("hello")\n',
    "perl": 'print "hello\\n";\n',
    "sql": "SELECT 'hello';\n",
}
