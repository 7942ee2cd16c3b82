"""The labs' machinery: sources in sync, learner copies, checks that name the input, the CLI.

Executing the notebooks themselves is in test_labs_notebooks.py (slow), apart
from lab 1, which is quick and stays in the fast tier.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minifw as mf
from minifw import labs
from minifw.autodiff.dual import Dual
from minifw.labs import checks, notebooks
from minifw.labs.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[1]


def _build_module():
    spec = importlib.util.spec_from_file_location("labs_build", ROOT / "labs" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- the notebooks -------------------------------------------------------------------------
@pytest.mark.parametrize("lab", labs.LABS, ids=lambda lab: lab.slug)
def test_committed_notebook_matches_its_source_and_has_no_outputs(lab):
    assert _build_module().problems(lab) == []  # every language it lists: built, current, fully translated
    for lang in lab.langs:
        assert not notebooks.has_outputs(notebooks.read(lab.solution_path(lang)))


@pytest.mark.parametrize("lab", labs.LABS, ids=lambda lab: lab.slug)
def test_learner_copy_replaces_every_solution_with_a_stub(lab):
    sol = labs.solution(lab.number)
    assert notebooks.has_solutions(sol)
    copy = labs.learner(lab.number)
    text = json.dumps(copy)
    assert notebooks.BEGIN not in text and notebooks.END not in text
    assert "NotImplementedError" in text
    assert len(copy["cells"]) == len(sol["cells"])
    for ex_id, _ in lab.exercises:  # every exercise has a check cell
        assert any("check_" in "".join(c["source"]) for c in copy["cells"]), ex_id
    compile("\n".join("".join(c["source"]) for c in copy["cells"] if c["cell_type"] == "code"
                      and not "".join(c["source"]).lstrip().startswith("%")), lab.filename, "exec")


def test_strip_solutions_keeps_the_indentation_and_refuses_unbalanced_markers():
    src = "def f(x):\n    a = 1\n    # BEGIN SOLUTION\n    return a + x\n    # END SOLUTION\n"
    out = notebooks.strip_solutions(src)
    assert out == f"def f(x):\n    a = 1\n    {notebooks.STUB}\n"
    with pytest.raises(ValueError, match="without"):
        notebooks.strip_solutions("# BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        notebooks.strip_solutions("x = 1\n# END SOLUTION\n")


def test_from_percent_makes_markdown_and_code_cells_without_outputs():
    nb = notebooks.from_percent("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n")
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code"]
    assert nb["cells"][0]["source"] == ["# Title\n", "text"]
    assert nb["cells"][1]["outputs"] == [] and nb["cells"][1]["execution_count"] is None


def test_new_writes_a_learner_copy_and_never_overwrites_work(tmp_path):
    path = labs.new(3, tmp_path)
    assert path.name == "03_forward_vs_reverse.ipynb"
    assert notebooks.read(path)["metadata"]["minifw_learner"] is True
    with pytest.raises(FileExistsError, match="already exists"):
        labs.new("03", tmp_path)
    assert labs.new(3, tmp_path, overwrite=True) == path
    with pytest.raises(ValueError, match="no lab"):
        labs.get(42)


# --- the checks: pass on answers, name the input / expected / got otherwise -------------------
def _stub(*args):
    raise NotImplementedError("exercise: replace this line with your code")


def _hint(check, candidate) -> str:
    with pytest.raises(CheckFailed) as e:
        check(candidate)
    return str(e.value)


@pytest.mark.parametrize("check", [checks.check_dual_rule, checks.check_tangents, checks.check_vjp,
                                   checks.check_adjoints, checks.check_jacfwd, checks.check_toy_graph,
                                   checks.check_keras_mlp, checks.check_fused_kernel, checks.check_confusion_matrix,
                                   checks.check_jit_friendly])
def test_every_check_says_a_stub_is_not_done(check):
    assert "not done yet" in _hint(check, _stub)


def test_dual_rule_check():
    import math

    assert checks.check_dual_rule(lambda x: Dual(math.log1p(math.exp(x.primal)),
                                                 x.tangent / (1 + math.exp(-x.primal))))
    hint = _hint(checks.check_dual_rule, lambda x: Dual(math.log1p(math.exp(x.primal)), 1 / (1 + math.exp(-x.primal))))
    assert "input Dual(-3.0, 2.5)" in hint and "expected tangent" in hint and "scaled by" in hint
    assert "expected a Dual" in _hint(checks.check_dual_rule, lambda x: 1.0)


def test_tangent_column_check_names_the_first_wrong_row_and_a_missing_path():
    import math

    right = [1, 4, 2 * math.sqrt(2), 4, -8, -8 / math.e, 1 + 8 / math.e]  # v̇_0 .. v̇_6, worked by hand
    assert checks.check_tangents(right)
    assert checks.check_tangents(lambda: right)
    hint = _hint(checks.check_tangents, right[:6] + [8 / math.e])  # v̇_6 = v̇_0 - v̇_5: forgot the direct path
    assert "row v̇_6" in hint and "misses v_0 → v_6" in hint and "expected 3.94304, got 2.94304" in hint
    hint = _hint(checks.check_tangents, [1, 4, math.sqrt(2) / 2] + right[3:])  # sin's value, not its tangent
    assert "row v̇_2" in hint and "The rule: v̇_2 = v̇_1 × cos v_1" in hint and "misses" not in hint
    assert "expected 7 numbers" in _hint(checks.check_tangents, right[1:])


def test_adjoint_column_check_goes_backwards_and_names_the_missing_path():
    import math

    e2 = math.exp(2)
    right = [2 * (1 + e2), 1 + e2, 1 + e2, 1, 1]  # x̄1 .. x̄5 in the notes' numbering
    assert checks.check_adjoints(right)
    hint = _hint(checks.check_adjoints, [2, 1, 1, 1, 1])  # x̄3 from the direct path only
    assert hint.count("row ") == 1 and "row x̄3" in hint and "misses x3 (v_1) → x4 (v_2) → x5 (v_3)" in hint
    hint = _hint(checks.check_adjoints, [2 * (1 + e2), 1 + e2, e2, 1, 1])  # only the path through exp
    assert "row x̄3" in hint and "misses x3 (v_1) → x5 (v_3)" in hint
    hint = _hint(checks.check_adjoints, [2, 1 + e2, 1 + e2, 1, 1])
    assert "row x̄1" in hint and "expected 16.7781, got 2" in hint and "misses" in hint
    assert "a list of 5 numbers" in _hint(checks.check_adjoints, "16.8, 8.39")


def test_vjp_check():
    assert checks.check_vjp(lambda g, out, x: g * (mf.sigmoid(x) * (1 + x * (1 - mf.sigmoid(x)))))
    hint = _hint(checks.check_vjp, lambda g, out, x: mf.sigmoid(x) * (1 + x * (1 - mf.sigmoid(x))))
    assert "input x = [ 0.  1. -2.]" in hint and "expected" in hint and "got" in hint and "cotangent g" in hint
    assert "at x = 1 expected 0.927671, got 0.731059" in _hint(checks.check_vjp, lambda g, out, x: g * mf.sigmoid(x))


def test_jacfwd_check():
    def good(f, x):
        return np.stack([np.asarray(mf.jvp(f, (x,), (np.eye(x.size)[j],))[1]) for j in range(x.size)], axis=1)

    assert checks.check_jacfwd(good)
    assert "transposed" in _hint(checks.check_jacfwd, lambda f, x: good(f, x).T)
    for whole in (mf.jacfwd, mf.jacrev):  # right numbers, but not built from jvps
        hint = _hint(checks.check_jacfwd, lambda f, x, whole=whole: np.asarray(whole(f)(x)))
        assert "mf.jvp was called 0 times" in hint and "exactly one mf.jvp per input (3 here)" in hint
    assert "mf.jvp was called 6 times" in _hint(checks.check_jacfwd, lambda f, x: (good(f, x), good(f, x))[1])
    hint = _hint(checks.check_jacfwd, lambda f, x: good(f, x) * 2)
    assert "J[0, 0]" in hint and "expected" in hint


def test_toy_graph_check():
    from minifw import static

    def build(op=lambda a, b: (a * b) / (a + b)):
        with static.Graph() as g:
            a, b = static.placeholder((), name="a"), static.placeholder((), name="b")
            r = op(a, b)
        return g, a, b, r

    assert checks.check_toy_graph(build)
    hint = _hint(checks.check_toy_graph, lambda: build(lambda a, b: a * b / (a - b)))
    assert "feeding a = 15.0, b = 5.0" in hint and "3.75" in hint

    def with_constants():
        with static.Graph() as g:
            a, b = static.constant(15.0), static.placeholder((), name="b")
        return g, a, b, a * b / (a + b)

    assert "a should be a static.placeholder" in _hint(checks.check_toy_graph, with_constants)
    assert "(graph, a, b, result)" in _hint(checks.check_toy_graph, lambda: build()[1:])


def test_keras_check():
    from minifw import keras
    from minifw.keras import layers

    def model(hidden=32, act="softmax", hidden_act="relu"):
        m = keras.Sequential()
        m.add(keras.Input(shape=(64,)))
        m.add(layers.Dense(hidden, activation=hidden_act))
        m.add(layers.Dense(10, activation=act))
        return m

    assert checks.check_keras_mlp(model)
    assert "expected 2,410 parameters" in _hint(checks.check_keras_mlp, lambda: model(128))
    assert "softmax" in _hint(checks.check_keras_mlp, lambda: model(32, None))
    assert "activation is tanh, and the exercise asks for relu" in _hint(checks.check_keras_mlp,
                                                                         lambda: model(hidden_act="tanh"))
    assert "activation is none (linear)" in _hint(checks.check_keras_mlp, lambda: model(hidden_act=None))


def _python_loop(x, y, out):
    for i in range(x.shape[0]):
        out[i] = (x[i] * y[i] + 1) * x[i] - y[i]


def test_fused_kernel_check_fails_a_python_loop_and_a_numpy_chain_with_both_times():
    hint = _hint(lambda f: checks.check_fused_kernel(f, n_time=20_000), _python_loop)
    assert "not faster than the unfused chain" in hint and "yours" in hint and "the unfused chain" in hint
    hint = _hint(checks.check_fused_kernel, lambda x, y, out: np.copyto(out, (x * y + 1) * x - y))
    assert "temporary arrays" in hint and "ms, the unfused chain" in hint and "median of 7" in hint
    hint = _hint(lambda f: checks.check_fused_kernel(f, n_time=1000), lambda x, y, out: _python_loop(x[:-1], y, out))
    assert "n = 1: at index 0" in hint and "never written" in hint


@pytest.mark.slow  # compiles a parallel numba kernel (seconds)
def test_fused_kernel_check_passes_a_compiled_fused_kernel():
    from numba import njit, prange

    @njit(parallel=True)
    def fused(x, y, out):
        for i in prange(x.shape[0]):
            out[i] = (x[i] * y[i] + np.float32(1.0)) * x[i] - y[i]

    assert checks.check_fused_kernel(fused)


def test_confusion_matrix_check():
    def cm(t, p, k):
        m = np.zeros((k, k), int)
        np.add.at(m, (t, p), 1)
        return m

    assert checks.check_confusion_matrix(cm)
    assert "transposed" in _hint(checks.check_confusion_matrix, lambda t, p, k: cm(t, p, k).T)
    assert "expected a 3x3" in _hint(checks.check_confusion_matrix, lambda t, p, k: cm(t, p, k + 1))


def test_jit_friendly_check():
    assert checks.check_jit_friendly(lambda x: mf.where(mf.sum(x) > 0, x * 2.0, -x))
    hint = _hint(checks.check_jit_friendly, checks.branchy)
    assert "tracing failed" in hint and "mf.where" in hint and "x = [1.0, 2.0, -0.5]" in hint
    assert "expected" in _hint(checks.check_jit_friendly, lambda x: x * 2.0)


# --- running a notebook: lab 1 is quick ------------------------------------------------------
def test_lab1_check_passes_on_the_solution_and_fails_with_a_hint_on_the_stub(tmp_path):
    notebooks.write(labs.solution(1), tmp_path / labs.get(1).filename)
    report = labs.check(1, tmp_path)
    assert report.ok, (report.exercises, report.errors)
    learner_dir = tmp_path / "learner"
    labs.new(1, learner_dir)
    report = labs.check(1, learner_dir)
    assert not report.ok
    assert [r.exercise for r in report.exercises] == ["1.1", "1.2"]
    for r in report.exercises:
        assert r.status == "failed" and "NotImplementedError" in r.message


# --- the CLI ---------------------------------------------------------------------------------
def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_cli_lab_list_new_and_bad_numbers(tmp_path):
    r = _cli("lab", "list")
    assert r.returncode == 0, r.stderr
    assert "Derivatives by hand" in r.stdout and "jit and its pitfalls" in r.stdout
    r = _cli("lab", "new", "2", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "02_reverse_mode.ipynb").exists()
    r = _cli("lab", "new", "2", str(tmp_path))
    assert r.returncode != 0 and "already exists" in r.stderr and "Traceback" not in r.stderr
    r = _cli("lab", "check", "99")
    assert r.returncode != 0 and "no lab" in r.stderr and "Traceback" not in r.stderr
    r = _cli("lab", "check", "4", str(tmp_path))
    assert r.returncode != 0 and "minifw lab new 4" in r.stderr


def test_cli_lab_open_without_jupyterlab_says_so_in_one_line(tmp_path):
    # JupyterLab is a dependency: hide it from this one run to see what a broken install says
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['jupyterlab'] = None\n")
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "lab", "open", "1", str(tmp_path / "nb")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode != 0
    assert "JupyterLab is missing" in r.stderr and "pip install minifw" in r.stderr
    assert "Traceback" not in r.stderr


# --- lab 11's check: it reads the event files back ---------------------------------------------
def test_class_accuracy_check_reads_the_event_files_and_catches_wrong_curves():
    pytest.importorskip("tensorboard", reason="the check reads the event files with TensorBoard's reader")
    from minifw import nn
    from minifw.data import load_digits
    from minifw.tensorboard.callbacks import predict_classes

    mf.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))  # untrained: uneven per-class accuracies
    x, y = load_digits("test")
    x, y = x[:120], y[:120]

    def right(writer, m, xs, ys, step):
        pred = predict_classes(m, xs)
        for d in range(10):
            writer.add_scalar(f"class_accuracy/{d}", float(np.mean(pred[ys == d] == d)), step)

    def grouped(writer, m, xs, ys, step):  # add_scalars: one run per digit
        pred = predict_classes(m, xs)
        writer.add_scalars("acc", {f"digit{d}": float(np.mean(pred[ys == d] == d)) for d in range(10)}, step)

    def overall(writer, m, xs, ys, step):
        pred = predict_classes(m, xs)
        for d in range(10):
            writer.add_scalar(f"class_accuracy/{d}", float(np.mean(pred == ys)), step)

    def precision(writer, m, xs, ys, step):
        pred = predict_classes(m, xs)
        for d in range(10):
            writer.add_scalar(f"class_accuracy/{d}", float(np.mean(ys[pred == d] == d)) if np.any(pred == d)
                              else 0.0, step)

    def stub(writer, m, xs, ys, step):
        raise NotImplementedError("exercise: replace this line with your code")

    check = lambda f: checks.check_class_accuracy(f, model, x, y)  # noqa: E731
    assert check(right) and check(grouped)
    assert "not done yet" in _hint(check, stub)
    assert "no scalars" in _hint(check, lambda *a: None)
    assert "overall accuracy" in _hint(check, overall)
    assert "precision" in _hint(check, precision)
    assert "one curve per digit" in _hint(check, lambda w, m, xs, ys, s: w.add_scalar("accuracy", 0.5, s))
    assert "expected one point at each step" in _hint(check, lambda w, m, xs, ys, s: right(w, m, xs, ys, 0))
    assert labs.get(11).slug == "tensorboard"


# --- lab 9's check talks HTTP to a real `minifw serve` ------------------------------------------
@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_predict_request_check_against_a_running_server(tmp_path):
    import socket
    import time

    import httpx

    from minifw import nn
    from minifw.data import load_digits
    from minifw.serve import export_version

    mf.manual_seed(3)
    net = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    rng = np.random.default_rng(3)  # weights large enough that the labels differ from image to image
    net.load_state_dict({k: mf.tensor(rng.standard_normal(np.shape(v)).astype(np.float32))
                         for k, v in net.state_dict().items()})
    images, _ = load_digits("test")
    with mf.no_grad():
        assert len(set(net(mf.tensor(images[:37].reshape(-1, 64))).numpy().argmax(1).tolist())) > 2
    export_version(net, np.zeros((1, 64), np.float32), tmp_path / "digits")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "digits",
                             "--model_base_path", str(tmp_path / "digits"), "--rest_api_port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/models/digits"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert proc.poll() is None and time.time() < deadline, "minifw serve did not start"

        def hint(body, labels):
            with pytest.raises(CheckFailed) as e:
                checks.check_predict_request(body, labels, url + ":predict", net, images)
            return str(e.value)

        def rows(x):
            return {"instances": x.reshape(len(x), -1).tolist()}

        def argmax(a):
            return np.argmax(a["predictions"], axis=1)

        assert checks.check_predict_request(rows, argmax, url + ":predict", net, images)
        assert "not done yet" in hint(_stub, argmax) and "not done yet" in hint(rows, _stub)
        assert "columnar" in hint(lambda x: {"inputs": rows(x)["instances"]}, argmax)
        assert "400" in hint(lambda x: {"instances": x.tolist()}, argmax)  # 8x8 images: the server names the shape
        assert ".tolist()" in hint(lambda x: {"instances": list(x.reshape(len(x), -1))}, argmax)
        assert "expected 5 instances" in hint(lambda x: {"instances": x.reshape(-1, 64)[:1].tolist()}, argmax)
        assert "those are the scores" in hint(rows, lambda a: np.asarray(a["predictions"]))
        assert "the model predicts" in hint(lambda x: rows(x[::-1]), argmax)  # the images in the wrong order
        assert "the model predicts" in hint(rows, lambda a: np.argmin(a["predictions"], axis=1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_average_gradients_check():
    def mean(rank_grads):
        return [np.mean(gs, axis=0) for gs in zip(*rank_grads)]

    def in_place(rank_grads):
        total = rank_grads[0]
        for grads in rank_grads[1:]:
            for t, g in zip(total, grads):
                t += g
        return [t / len(rank_grads) for t in total]

    assert checks.check_average_gradients(mean)
    assert "not done yet" in _hint(checks.check_average_gradients, _stub)
    hint = _hint(checks.check_average_gradients, lambda rg: [np.sum(gs, axis=0) for gs in zip(*rg)])
    assert "SUM over the 2 ranks" in hint and "divide by the number of ranks (2)" in hint and "batch of 32" in hint
    assert "expected" in _hint(checks.check_average_gradients, lambda rg: [np.sum(gs, axis=0) / 2 for gs in zip(*rg)])
    assert "one list per rank" in _hint(checks.check_average_gradients, lambda rg: [mean(rg)] * len(rg))
    assert "changed the ranks' input" in _hint(checks.check_average_gradients, in_place)
