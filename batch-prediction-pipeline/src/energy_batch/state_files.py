"""Small JSON files under ENERGY_HOME/state, replaced atomically (temp file + rename).

A kill at any moment leaves either the previous or the new file, never a torn one, so a reader
(`status`, a resumed simulation) always sees a whole document.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomically(path: Path, payload: Any) -> None:
    """Replace `path` with `payload` as indented JSON (non-JSON values written with str())."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
