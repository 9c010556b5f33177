"""The wheel that the Docker image installs (`pip install .`) carries every module and static file.

An editable install (`./dev`) imports from the source tree, so a package missing from the wheel only
shows in the image: this builds the wheel and compares it with the tree.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipped_sources() -> set[str]:
    """Every file of the two packages that the service or the CLI needs at run time."""
    files = set()
    for package in ("training", "service"):
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                files.add(path.relative_to(ROOT).as_posix())
    return files


def test_wheel_contains_every_module_and_static_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("topicframe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name for name in archive.namelist() if not name.startswith("topicframe-")}
    missing = shipped_sources() - in_wheel
    assert not missing, f"files missing from the wheel: {sorted(missing)}"
