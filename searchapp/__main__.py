"""Run the command line as ``python -m searchapp``."""

from searchapp.cli import main

# Worker processes import this module again under another name; only a real run starts.
if __name__ == "__main__":
    main(prog_name="searchapp")
