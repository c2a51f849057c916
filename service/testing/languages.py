"""A language defined in a test: awk, as a contributor would add it (languages/awk.toml).

The base image has mawk, so its image needs no download; the unit tests read it
and the integration test builds an image of it and serves it.
"""

AWK = """
name = "awk"
display_name = "AWK (mawk)"
aliases = ["awk", "mawk"]
extensions = ["awk"]
main_file = "main.awk"
version = ["mawk", "-W", "version"]

[run]
argv = ["mawk", "-f", "{build}/main.awk"]

[image]
packages = ["mawk"]

[[tests]]
name = "hello"
code = 'BEGIN { print "hello, world" }'
stdout = "hello, world\\n"
"""
