"""Benchmark commands hand their figures to `manage.py bench` as a JSON file (--figures), beside what they print."""

import json
from pathlib import Path


def add_argument(parser) -> None:
    parser.add_argument("--figures", type=Path, help="grava os números medidos neste arquivo JSON (para o `bench`)")


def save(options, figures: dict) -> None:
    if options.get("figures"):
        Path(options["figures"]).write_text(json.dumps(figures, ensure_ascii=False, default=str), encoding="utf-8")
