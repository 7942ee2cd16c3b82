"""The top-level names resolve to what they say, whether or not their
submodules were imported first (lazy names must not be shadowed)."""

import subprocess
import sys

PROBE = """
import minifw.jit, minifw.autodiff.forward, minifw.autodiff.dual  # submodules first
import minifw as mf
assert callable(mf.jit) and mf.jit.__module__ == "minifw.jit", mf.jit
for name in ("jvp", "jacfwd", "jacrev", "hessian", "grad", "value_and_grad", "vjp"):
    assert callable(getattr(mf, name)), name
assert isinstance(mf.Dual, type)
assert mf.nn.Linear and mf.static.Session and mf.optim.Adam
print("ok")
"""


def test_lazy_and_eager_names_survive_submodule_imports():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_forward_mode_loads_on_first_use_only():
    r = subprocess.run([sys.executable, "-c", "import sys, minifw as mf; a = 'minifw.autodiff.forward' in sys.modules; "
                        "mf.jacfwd; print(a, 'minifw.autodiff.forward' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "True"], r.stdout + r.stderr
