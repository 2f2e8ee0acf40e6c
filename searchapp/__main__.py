"""Run the command line as ``python -m searchapp``."""

# Worker processes import this module again under another name; only a real run starts,
# and only a real run imports the command line (an indexing worker needs none of it).
if __name__ == "__main__":
    from searchapp.cli import main

    main(prog_name="searchapp")
