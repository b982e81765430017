"""Reading small YAML/JSON files that a person writes (config files, presets, perspective sets).

A layer below :mod:`mind.training.config` and :mod:`mind.data.perspectives`, which both read such files; it imports nothing of
``mind`` but the error types.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mind.errors import ConfigError


def read_yaml_or_json(path: Path, what: str, fix: str) -> Any:
    """Parse a ``.yaml``/``.yml`` or JSON file; unreadable or malformed files raise a one-line ConfigError.

    ``what`` names the file in the message ("config file", "preset"); ``fix`` says what to do if it cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({getattr(exc, 'strerror', None) or 'not UTF-8'}); {fix}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parser errors vary by format
        detail = " ".join(str(exc).split())  # YAML errors span several lines
        raise ConfigError(f"{what} {path}: cannot parse it ({detail[:200]}); fix the syntax") from None
