"""PyTorch's ``torch.autograd`` namespace: ``minifw.autograd.grad(...)``."""

from minifw.eager.backward import backward, grad

__all__ = ["grad", "backward"]
