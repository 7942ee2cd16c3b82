"""Start the real TensorBoard program on 127.0.0.1 and wait until it answers.

>>> with Board("runs") as b:                                           # doctest: +SKIP
...     print(b.url, b.get("/data/plugins_listing"))

TensorBoard runs in its own process (``python -m tensorboard.main``), bound to
127.0.0.1 only; :meth:`Board.stop` (or leaving the ``with``) ends it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from minifw.errors import MinifwError

from .writer import require


class BoardError(MinifwError, RuntimeError):
    """TensorBoard did not start (or stopped) before it answered."""


class ChromiumNotFound(MinifwError, FileNotFoundError):
    """No headless browser to take a screenshot with."""


CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "chrome", "chrome-headless-shell")


def find_chromium() -> str | None:
    """A Chromium-family browser on PATH (``MINIFW_CHROMIUM`` names one; empty: none), or None."""
    forced = os.environ.get("MINIFW_CHROMIUM")
    if forced is not None:
        return shutil.which(forced) if forced else None
    return next((p for p in map(shutil.which, CHROMIUMS) if p), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Board:
    """The ``tensorboard`` program over ``logdir`` on 127.0.0.1:``port`` (0: a free one).

    ``start()`` returns once ``/data/plugins_listing`` answers, or raises :class:`BoardError` after ``timeout``
    seconds (or when the program exits first), with what it printed.
    """

    def __init__(self, logdir: str, port: int = 6006, reload_interval: float = 1.0):
        self.logdir, self.port, self.reload_interval = str(logdir), port, reload_interval
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir, "--host", "127.0.0.1",
                "--port", str(self.port), "--reload_interval", str(self.reload_interval)]

    def start(self, timeout: float = 60.0) -> "Board":
        require("show")
        if self.port == 0:
            self.port = free_port()
        self._log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a long-lived board never blocks on it
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BoardError(f"tensorboard exited with code {self.proc.returncode} before answering: "
                                 f"{self.output().strip()[-800:]}")
            try:
                self.get("/data/plugins_listing", timeout=2)
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise BoardError(f"tensorboard did not answer on {self.url} within {timeout:g} s")

    def output(self) -> str:
        """What the tensorboard program has printed so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def get(self, path: str, timeout: float = 10):
        """GET ``path`` from the running TensorBoard; JSON answers are decoded."""
        with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=timeout) as r:
            body = r.read()
            kind = r.headers.get("Content-Type", "")
        return json.loads(body) if "json" in kind else body

    def screenshot(self, path, tab: str = "graphs", size: tuple[int, int] = (1400, 900), wait_ms: int = 15000,
                   timeout: float = 120.0) -> str:
        """A PNG of TensorBoard's ``tab`` (``graphs``, ``scalars``, ...) taken by headless Chromium.

        The browser loads the page from this board (127.0.0.1, nothing from the internet) and waits
        ``wait_ms`` of page time for it to draw.  Raises :class:`ChromiumNotFound` without a browser."""
        exe = find_chromium()
        if exe is None:
            raise ChromiumNotFound("no headless browser to take the screenshot: install Chromium (Debian: "
                                   "apt install chromium) or name one in MINIFW_CHROMIUM")
        path = os.path.abspath(os.fspath(path))
        if os.path.exists(path):
            os.remove(path)
        with tempfile.TemporaryDirectory() as profile:
            cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--mute-audio",
                   "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
                   f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                   f"--virtual-time-budget={wait_ms}", f"--screenshot={path}", f"{self.url}#{tab}"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if not os.path.exists(path):
            raise BoardError(f"{os.path.basename(exe)} wrote no screenshot (exit {r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()[-600:]}")
        return path

    def wait(self) -> int:
        return self.proc.wait() if self.proc is not None else 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "Board":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
