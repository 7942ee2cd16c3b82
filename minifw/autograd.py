"""PyTorch's ``torch.autograd`` namespace: ``minifw.autograd.grad(...)``."""

from minifw.autodiff.reverse import autograd_grad as grad
from minifw.autodiff.reverse import backward

__all__ = ["grad", "backward"]
