"""Run the command line as ``python -m searchapp``."""

from searchapp.cli import main

main(prog_name="searchapp")
