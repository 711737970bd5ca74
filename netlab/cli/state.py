"""Process-wide switches set while parsing options and read by the error path.

`--debug` is parsed by click inside a command, but the error handler in
`netlab.cli.main.main` runs outside click's context, so the flag lives here.
"""

debug: bool = False
