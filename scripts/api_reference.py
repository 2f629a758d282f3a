#!/usr/bin/env python3
"""Writes docs/reference/api.md, the administrators' API reference, from the OpenAPI document
the gateway serves at /_halo/api/openapi.json. With --check, writes nothing and exits 1 when
the committed page differs from what it would write.

    .venv/bin/python scripts/api_reference.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from halo_gate.admin.reference import default_document, markdown  # noqa: E402

PAGE = ROOT / "docs" / "reference" / "api.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page (docs/reference/api.md)")
    args = parser.parse_args()
    path: Path = args.page
    page = markdown(default_document())
    if args.check:
        if not path.exists() or path.read_text() != page:
            print(f"{path} is out of date: run scripts/api_reference.py")
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
