"""YAML reading for the platform's own files and contracts: libyaml's safe loader when PyYAML
was built with it (~9× faster than the pure-Python one, which start-up would pay on every
command), else PyYAML's own safe loader."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, through libyaml when available."""
    return yaml.load(text, Loader=SAFE_LOADER)
