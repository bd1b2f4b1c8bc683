"""`python -m fcsbe.cli`: the `fcsbe` command (tests and containers start the server this way)."""

from fcsbe.cli import main

main()
