"""YAML parsing for the profile, catalogue, codelists and patients files, in one place."""

from __future__ import annotations

from typing import Any

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (about seven times faster on the profile, the same
documents), else the pure-Python one. Safe either way: plain data only, no Python objects."""


def parse(text: str) -> Any:
    """The plain data of one YAML document; ``yaml.YAMLError`` (with the line) when it is not valid YAML."""
    return yaml.load(text, Loader=LOADER)
