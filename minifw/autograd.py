"""PyTorch's ``torch.autograd`` namespace: ``minifw.autograd.grad(...)``, ``detect_anomaly``."""

from minifw.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from minifw.eager.backward import backward, grad

__all__ = ["grad", "backward", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "AnomalyError"]
