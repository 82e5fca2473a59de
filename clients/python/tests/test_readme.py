"""The README's quick-start example, run as a script against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from server import ADMIN_PASSWORD, Server

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(server: Server, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "no python block in the README"
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    env = dict(os.environ, JADEVECTORDB_URL=server.url, JADEVECTORDB_PASSWORD=ADMIN_PASSWORD)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["a 0.994 {'color': 'red'}", "b 0.11 {'color': 'blue'}"]
