"""``minifw board DIR``: the real TensorBoard over a folder of event files.

    minifw train --model cnn --tensorboard runs/cnn
    minifw board runs            # TensorBoard at http://127.0.0.1:6006/
    minifw board runs --screenshot graph.png   # a PNG of the Graphs tab (headless Chromium), then stop

Bound to 127.0.0.1 only; Ctrl+C stops it.
"""

from __future__ import annotations

import os
import signal
import sys

import typer
from minifw_cli.common import console, fail, friendly
from minifw_cli.main import app

from minifw.i18n import _


@app.command("board", help=_("Start TensorBoard on 127.0.0.1 over LOGDIR and print its address."))
@friendly
def board(
    logdir: str = typer.Argument(..., help=_("The folder of event files (e.g. what --tensorboard wrote).")),
    port: int = typer.Option(6006, "--port", min=0, max=65535, help=_("Port on 127.0.0.1; 0 picks a free one.")),
    screenshot: str = typer.Option(None, "--screenshot",
                                   help=_("Write a PNG of a tab (headless Chromium) and stop.")),
    tab: str = typer.Option("graphs", "--tab", help=_("The tab --screenshot shows (graphs, scalars, ...).")),
) -> None:
    if not os.path.isdir(logdir):
        fail(f"{logdir}: " + _("no such folder (write one with `{command}`)").format(
            command=f"minifw train --tensorboard {logdir}"))
    from minifw.tensorboard import TensorBoardNotInstalled, require
    from minifw.tensorboard.board import Board, find_chromium

    try:
        require("show")
    except TensorBoardNotInstalled as e:
        fail(str(e))
    if screenshot:
        if find_chromium() is None:  # before starting anything
            fail(_("--screenshot needs a headless Chromium: install it (Debian: apt install chromium) or name one "
                   "in MINIFW_CHROMIUM"))
        with Board(logdir, 0 if port == 6006 else port) as b:
            path = b.screenshot(screenshot, tab=tab)
        console.print(_("wrote {path} ({tab} tab of {folder})").format(path=path, tab=tab, folder=logdir),
                      markup=False, highlight=False)
        return
    b = Board(logdir, port).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a `kill` stops TensorBoard too (finally, below)
    try:
        console.print(_("TensorBoard at {url} (serving {folder}; Ctrl+C to stop)").format(url=b.url, folder=logdir),
                      markup=False, highlight=False)
        sys.stdout.flush()  # the address is the one thing a caller waits for, even through a pipe
        b.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()
