"""Starting and stopping a real `jadevectordb serve` for the tests (every wait bounded)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import httpx

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("JADEVECTORDB_BIN") or REPO / ".build" / "debug" / "jadevectordb")
ADMIN_PASSWORD = "Client-Test-Passw0rd!"
_LIMITS = ("LOGIN", "REGISTRATION", "PASSWORD_RESET", "API", "GLOBAL")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One server process with its own port and data directory."""

    def __init__(self, env: Optional[Mapping[str, str]] = None, launcher: Optional[List[str]] = None) -> None:
        if not BIN.is_file():
            raise FileNotFoundError(f"server binary not found at {BIN} (build it, or set JADEVECTORDB_BIN)")
        self.dir = Path(tempfile.mkdtemp(prefix="jvdb-client-test-"))
        self.data_dir = self.dir / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment: Dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.dir)),
            "JADEVECTORDB_CONFIG_DIR": str(REPO / "config"),
            "JADEVECTORDB_HOST": "127.0.0.1",
            "JADEVECTORDB_PORT": str(self.port),
            "JADEVECTORDB_WORKERS": "2",
            "JADEVECTORDB_DATA_DIR": str(self.data_dir),
            "JADEVECTORDB_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JADEVECTORDB_SECURITY_IP_ALLOWLIST": "127.0.0.1/32",
        }
        for name in _LIMITS:
            environment[f"JADEVECTORDB_RATE_LIMITS_{name}_LIMIT"] = "10000"
            environment[f"JADEVECTORDB_RATE_LIMITS_{name}_BURST"] = "10000"
        environment.update(env or {})
        self.log_path = self.dir / "server.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [*(launcher or []), str(BIN), "serve"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not healthy within {timeout} s:\n{self.log_tail()}")

    def worker_pids(self) -> List[int]:
        """The master's children (the workers), from /proc."""
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
