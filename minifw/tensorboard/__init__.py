"""``minifw.tensorboard``: the real TensorBoard for minifw (scalars, histograms, images, text, the graph).

>>> from minifw.tensorboard import SummaryWriter                      # doctest: +SKIP
>>> w = SummaryWriter("runs/mlp")                                     # doctest: +SKIP
>>> w.add_scalar("loss", 0.5, 1); w.add_graph(net, x); w.close()      # doctest: +SKIP

Then ``minifw board runs`` (or ``tensorboard --logdir runs``).  The writer
needs the ``tensorboard`` extra (``pip install 'minifw[tensorboard]'``); this
package imports it only when a writer is made.
"""

from .callbacks import EpochLogger, Reporter, TensorBoard
from .writer import INSTALL, SummaryError, SummaryWriter, TensorBoardNotInstalled, missing, require

__all__ = ["EpochLogger", "Reporter", "TensorBoard", "INSTALL", "SummaryError", "SummaryWriter",
           "TensorBoardNotInstalled", "missing", "require"]
