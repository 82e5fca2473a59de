#!/usr/bin/env python3
"""Runs the code blocks of docs/*.md marked ```sh runnable, so the documented commands keep working.

Each Markdown file gets a fresh temporary directory (the working directory of its blocks, with
config/, scripts/, systemd/, docker/ and docs/ linked in, as in the repository root); its
blocks run in order, each in `bash -euo pipefail`, with `jadevectordb` (the binary under test)
first on PATH, JADEVECTORDB_CONFIG_DIR set to the repository's config/, JADEVECTORDB_DATA_DIR
to ./data and JADEVECTORDB_PORT to the port given. Blocks needing root or system services
(systemctl, docker) are marked plain ```sh and are not run.

Usage: scripts/run-doc-blocks.py BINARY PORT [docs/file.md ...]
Exit status: 0 when every block succeeds, 1 otherwise (each failure printed with file:line).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if len(sys.argv) < 3:
    print(__doc__)
    sys.exit(2)
binary, port = os.path.abspath(sys.argv[1]), sys.argv[2]
files = sys.argv[3:] or sorted(glob.glob(os.path.join(repo, "docs", "*.md")))

fence = re.compile(r"^```sh runnable\s*$")
failures, ran = 0, 0
for path in files:
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if fence.match(lines[i]):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((start, "\n".join(body) + "\n"))
        i += 1
    if not blocks:
        continue
    work = tempfile.mkdtemp(prefix="jade-docs.")
    try:
        bindir = os.path.join(work, ".bin")
        os.mkdir(bindir)
        os.symlink(binary, os.path.join(bindir, "jadevectordb"))
        # Blocks are written to run from the repository root: link its operator-facing folders.
        for folder in ("config", "scripts", "systemd", "docker", "docs"):
            os.symlink(os.path.join(repo, folder), os.path.join(work, folder))
        env = {k: v for k, v in os.environ.items() if not k.startswith("JADEVECTORDB_") and k != "NOTIFY_SOCKET"}
        env.update(
            PATH=bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            JADEVECTORDB_CONFIG_DIR=os.path.join(repo, "config"),
            JADEVECTORDB_DATA_DIR=os.path.join(work, "data"),
            JADEVECTORDB_PORT=port,
            JADEVECTORDB_HOST="127.0.0.1",
            JADEVECTORDB_WORKERS="2",
            REPO=repo,
        )
        for line, body in blocks:
            ran += 1
            where = f"{os.path.relpath(path, repo)}:{line}"
            try:
                result = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", body], cwd=work, env=env,
                    capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                print(f"FAIL {where}: timed out")
                failures += 1
                break
            if result.returncode != 0:
                print(f"FAIL {where}: exit {result.returncode}\n--- block\n{body}--- output\n{result.stdout}{result.stderr}")
                failures += 1
                break  # later blocks of the file build on this one
            print(f"ok   {where}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
print(f"{ran} blocks run, {failures} failed")
sys.exit(1 if failures or ran == 0 else 0)
