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


def test_repository_readme_example_runs(server: Server, tmp_path: Path) -> None:
    """The Python example on the repository README's first screen, with its default URL pointed
    at the test server and the bootstrap password file where the example reads it."""
    readme = Path(__file__).resolve().parents[3] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    assert blocks, "no python block in the repository README"
    assert "http://127.0.0.1:8080" in blocks[0]
    script = tmp_path / "example.py"
    script.write_text(blocks[0].replace("http://127.0.0.1:8080", server.url))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bootstrap-admin-password").write_text(ADMIN_PASSWORD + "\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[{'id': 'a', 'score': 0.99"), done.stdout
