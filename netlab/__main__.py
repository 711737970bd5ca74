"""`python -m netlab` is the same program as the `netlab` console script."""

from netlab.cli.main import main

if __name__ == "__main__":
    main(prog_name="netlab")
