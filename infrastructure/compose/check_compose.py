"""Structural checks of docker-compose.yml for machines without the `docker compose` plugin.

`docker compose config -q` is the real validator; where it is missing (CI runners, the dev
containers) this catches the mistakes yamllint cannot see: a Dockerfile path that does not exist,
a `depends_on` naming no service, a named volume that is not declared, a port published twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml


def problems(compose: dict[str, Any], root: Path) -> list[str]:
    """Every structural problem found, each naming the service and the rule it breaks."""
    found: list[str] = []
    services: dict[str, Any] = compose.get("services") or {}
    declared_volumes = set((compose.get("volumes") or {}).keys())
    if not services:
        return ["no services defined"]
    published: Counter[str] = Counter()
    for name, service in services.items():
        build = service.get("build")
        if isinstance(build, dict):
            context = root / build.get("context", ".")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                found.append(f"{name}: build.dockerfile {dockerfile.relative_to(root)} does not exist")
        if not build and not service.get("image"):
            found.append(f"{name}: needs an image or a build section")
        depends = service.get("depends_on") or {}
        for target in depends if isinstance(depends, (dict, list)) else []:
            if target not in services:
                found.append(f"{name}: depends_on names unknown service {target!r}")
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            is_path = source.startswith((".", "/", "~", "$"))
            if not is_path and source not in declared_volumes:
                found.append(f"{name}: volume {source!r} is not declared under top-level volumes")
            if is_path and source.startswith("./") and not (root / source).exists():
                found.append(f"{name}: bind-mount source {source} does not exist")
        for port in service.get("ports") or []:
            host_side = str(port).rsplit(":", 1)[0]
            published[host_side] += 1
    found += [f"host port {port} is published by {count} services" for port, count in published.items() if count > 1]
    return found


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "docker-compose.yml").resolve()
    found = problems(yaml.safe_load(path.read_text()), path.parent)
    for problem in found:
        print(f"{path.name}: {problem}", file=sys.stderr)
    if not found:
        print(f"{path.name}: structure ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
