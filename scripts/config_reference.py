"""Write docs/config.md, the config reference, from the schema (netlab/schema.py) and train's flags.

Run after changing the schema or an entry's declared settings: make docs
(or .venv/bin/python scripts/config_reference.py)
(tests/cli/test_config_show.py fails while the page and the schema differ).
"""

from pathlib import Path

from netlab.cli.config import reference

if __name__ == "__main__":
    page = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    page.write_text(reference())
    print(f"wrote {page}")
