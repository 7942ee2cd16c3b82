# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 11 — Seeing training: TensorBoard vs Visdom
#
# *25–35 minutes.* The notes say TensorFlow wins on visualisation: "TensorBoard tracks loss and accuracy,
# visualises the graph, histograms of weights over time, images, text and audio, profiles; Visdom: callbacks,
# plots, environments — simple and limited". Here you check that claim on a run of your own. You train the
# digits CNN (LeNet) for a few epochs while `minifw.tensorboard` writes real TensorBoard event files, start
# the real `tensorboard` program on 127.0.0.1, and read back through its HTTP data API what its tabs would
# show; a headless browser photographs the Graphs tab. Beside it, a `LivePlot` is Visdom's model: a chart
# that a callback redraws each epoch. The table at the end ticks each of the notes' claims only if the
# run showed it.
# **Exercise 11.1:** log the per-class test accuracy as scalars, one curve per digit.
#
# Needs `pip install 'minifw[tensorboard]'` (tensorboardX writes, `tensorboard` serves).

# %%
import html
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from IPython.display import HTML, Image, display

import minifw as mf
from minifw import optim, profiler
from minifw.compat.styles import LeNet, digits_for
from minifw.data import DataLoader
from minifw.nn import functional as NF
from minifw.tensorboard import EpochLogger, SummaryWriter
from minifw.tensorboard.board import Board, ChromiumNotFound, find_chromium
from minifw.tensorboard.callbacks import predict_classes
from minifw.viz import LivePlot

(x_train, y_train), (x_test, y_test) = digits_for("cnn")
logdir = Path(tempfile.mkdtemp(prefix="minifw-lab11-"))
print(f"train {x_train.shape}, test {x_test.shape}; event files go to {logdir}")

# %% [markdown]
# ## Train, and write what TensorBoard shows
#
# A PyTorch-style loop, with the TensorBoard logging done by hand: `SummaryWriter` has PyTorch's names
# (`add_scalar`, `add_histogram`, `add_image`, `add_text`, `add_graph`), and `EpochLogger` calls them once
# per epoch: the loss and accuracy as scalars, the learning rate, a histogram of every weight and of its
# gradient, and the test digits the model gets wrong (as one image, their labels as text). `add_graph`
# writes minifw's static graph of the network (one name scope per layer), and the second training step is
# timed op by op with `minifw.profiler` and written to the Text tab. The `LivePlot` below the cell is
# updated at the end of each epoch, as a Visdom callback would be. Each epoch's weights are kept
# (`state_dict`) for the exercise.

# %%
mf.manual_seed(0)
net = LeNet()
opt = optim.Adam(net.parameters(), lr=2e-3)
loader = DataLoader((x_train, y_train), batch_size=32, shuffle=True)
writer = SummaryWriter(str(logdir))
logger = EpochLogger(writer, net, opt, samples=(x_test, y_test))
logger.log_graph(x_test[:1])

EPOCHS = 3
live = LivePlot(title="LeNet on digits, live")
snapshots, step, t0 = [], 0, time.perf_counter()
for epoch in range(EPOCHS):
    net.train()
    losses = []
    for xb, yb in loader:
        step += 1
        if step == 2:  # the first warm step: one profile of what a training step costs, op by op
            with profiler.profile("training step 2") as prof:
                opt.zero_grad()
                loss = NF.cross_entropy(net(xb), yb)
                loss.backward()
                opt.step()
            writer.add_profile(prof, step)
        else:
            opt.zero_grad()
            loss = NF.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
        losses.append(loss.item())
        writer.add_scalar("batch/loss", losses[-1], step)
    test_acc = float(np.mean(predict_classes(net, x_test) == y_test))
    logger.log_epoch(epoch, {"loss": float(np.mean(losses)), "test_accuracy": test_acc})
    snapshots.append(net.state_dict())
    live.update(epoch + 1, loss=float(np.mean(losses)), test_accuracy=test_acc)
writer.flush()
train_seconds = time.perf_counter() - t0
print(f"{EPOCHS} epochs, {step} steps in {train_seconds:.1f} s; test accuracy {test_acc:.1%}")
print(f"event files: {sorted(p.name for p in logdir.iterdir())}")

# %% [markdown]
# The profile written to the Text tab is a `Profile` object; as a cell's value it is a table:

# %%
prof

# %% [markdown]
# ## Exercise 11.1 — the accuracy of each digit, as ten curves
#
# One accuracy number hides which digits the network still confuses. Write
# `log_class_accuracy(writer, model, x, y, step)` that, for each digit d from 0 to 9, logs the fraction of the
# examples **whose true label is d** that `model` classifies right, as a scalar at `step`: either
# `writer.add_scalar(f"class_accuracy/{d}", value, step)` ten times, or one
# `writer.add_scalars("class_accuracy", {str(d): value, ...}, step)` (TensorBoard then draws the ten curves in
# one chart). `predict_classes(model, x)` (imported above) gives the predicted digits in evaluation mode.
# The check writes through your function into a fresh folder, reads the event files back with TensorBoard's
# own reader, and compares every value with the model's true per-class accuracy.

# %%
def log_class_accuracy(writer, model, x, y, step):
    # BEGIN SOLUTION
    pred = predict_classes(model, x)
    for d in range(10):
        writer.add_scalar(f"class_accuracy/{d}", float(np.mean(pred[y == d] == d)), step)
    # END SOLUTION


# %%
from minifw.labs.checks import check_class_accuracy

check_class_accuracy(log_class_accuracy, net, x_test, y_test)

# %% [markdown]
# Now log it for the run itself: each epoch's weights, put back into the network, give that epoch's curve
# points.

# %%
final = net.state_dict()
for epoch, state in enumerate(snapshots):
    net.load_state_dict(state)
    log_class_accuracy(writer, net, x_test, y_test, epoch + 1)
net.load_state_dict(final)
writer.close()
print("per-class accuracy logged for epochs", list(range(1, len(snapshots) + 1)))

# %% [markdown]
# ## The real TensorBoard, and what its data API says
#
# `Board` runs the `tensorboard` program over the folder on a free port of 127.0.0.1 and waits until it
# answers. The browser's tabs are drawn from the same HTTP data API we read here: `/data/plugins_listing`
# (which tabs have data), then each plugin's tags and values.

# %%
board = Board(str(logdir), port=0).start()
deadline = time.monotonic() + 30
while "." not in board.get("/data/runs") and time.monotonic() < deadline:
    time.sleep(0.2)  # TensorBoard loads the folder in the background
listing = board.get("/data/plugins_listing")
print(f"TensorBoard at {board.url}; tabs with data: {sorted(p for p, v in listing.items() if v['enabled'])}")


def tags(plugin):
    try:
        return board.get(f"/data/plugin/{plugin}/tags").get(".", {})
    except Exception:  # noqa: BLE001  a tab without data answers an error
        return {}


scalar_tags, hist_tags, image_tags, text_tags = tags("scalars"), tags("histograms"), tags("images"), tags("text")
loss_curve = board.get("/data/plugin/scalars/scalars?run=.&tag=epoch/loss") if "epoch/loss" in scalar_tags else []
acc_curve = (board.get("/data/plugin/scalars/scalars?run=.&tag=epoch/test_accuracy")
             if "epoch/test_accuracy" in scalar_tags else [])
w_hist = (board.get("/data/plugin/histograms/histograms?run=.&tag=weights/conv1.weight")
          if "weights/conv1.weight" in hist_tags else [])
graph_info = board.get("/data/plugin/graphs/info").get(".", {}) if listing.get("graphs", {}).get("enabled") else {}
graph_text = board.get("/data/plugin/graphs/graph?run=.&conceptual=false").decode() if graph_info else ""
class_runs = [r for r in board.get("/data/runs") if r.startswith("class_accuracy")]
class_tags = [t for t in scalar_tags if t.startswith("class_accuracy")] + class_runs
scopes = sorted({n.split("/")[0] for n in re.findall(r'name: "([^"]+)"', graph_text) if "/" in n})
text_of = {t: board.get(f"/data/plugin/text/text?run=.&tag={t}") for t in text_tags}
profile_text = "".join(x["text"] for t, xs in text_of.items() if t.startswith("profile") for x in xs)
images = (board.get("/data/plugin/images/images?run=.&tag=misclassified") if "misclassified" in image_tags else [])


def table(header, rows):
    """A small HTML table (the notebook shows it as a table; the cells are escaped)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


e = html.escape
table(("what", "read back from TensorBoard's data API"), [
    ("scalar tags", e(", ".join(sorted(t for t in scalar_tags if not t.startswith("batch/")))
                      + " (+ batch/loss" + (f", {len(class_runs)} class_accuracy runs)" if class_runs else ")"))),
    ("epoch/loss by step", e(", ".join(f"{s}: {v:.4f}" for _, s, v in loss_curve))),
    ("epoch/test_accuracy by step", e(", ".join(f"{s}: {v:.1%}" for _, s, v in acc_curve))),
    ("histogram tags", e(f"{len(hist_tags)}: " + ", ".join(sorted(hist_tags)[:6]) + ", ...")),
    ("weights/conv1.weight", e(f"{len(w_hist)} histograms (one per epoch), "
                               f"{len(w_hist[-1][2]) if w_hist else 0} buckets each")),
    ("image tags", e(f"{sorted(image_tags)}: the misclassified digits as one picture, at {len(images)} steps")),
    ("text tags", e(", ".join(f"{t} ({len(xs)} steps)" for t, xs in sorted(text_of.items())))),
    ("profile text", e(" ".join(re.sub(r"<[^>]+>", " ", profile_text).split())[:110] + " ...")),
    ("graph", e(f"run_graph = {graph_info.get('run_graph')}; {graph_text.count('node {')} nodes in the scopes "
                + ", ".join(scopes))),
])

# %% [markdown]
# What the learner sees in the Scalars tab for the exercise: the ten per-class curves, read back from the
# board (one run per digit with `add_scalars`, one tag per digit with `add_scalar`).

# %%
def class_curve(d):
    if f"class_accuracy/{d}" in scalar_tags:
        return board.get(f"/data/plugin/scalars/scalars?run=.&tag=class_accuracy/{d}")
    run = f"class_accuracy_{d}"
    return board.get(f"/data/plugin/scalars/scalars?run={run}&tag=class_accuracy") if run in class_runs else []


curves = {d: class_curve(d) for d in range(10)}
table(["digit"] + [f"epoch {k + 1}" for k in range(EPOCHS)],
      [(d, *(f"{v:.1%}" for _, _, v in curves[d])) for d in range(10) if curves[d]]
      or [("(no per-class curves: exercise 11.1 is not done)",)])

# %% [markdown]
# ## A picture of the Graphs tab
#
# The Graphs tab draws the GraphDef with JavaScript, so the data API cannot show it; a headless Chromium
# (a system package, never downloaded here) loads the page from the board and saves a PNG. Double-click a
# layer box in the real tab to open its ops.

# %%
shot = None
if find_chromium() is None:
    print("no Chromium on this machine (Debian: apt install chromium): no screenshot of the Graphs tab; "
          "the rest of the lab does not need it")
else:
    try:
        shot = board.screenshot(logdir / "graphs.png", tab="graphs", size=(1200, 700), wait_ms=10000)
        display(Image(filename=shot))
    except (ChromiumNotFound, RuntimeError, OSError) as err:
        print(f"the screenshot failed ({type(err).__name__}: {str(err)[:200]}); continuing without it")

# %% [markdown]
# ## Visdom's model: the live plot
#
# Visdom gives a PyTorch loop *callbacks* that push points to *plots*, grouped in *environments* on its
# server. `LivePlot` is that model without the server: it drew the chart under the training cell, and
# redrew it at each epoch's end. Here is what it holds:

# %%
print(f"redrawn {live.redraws} times; steps {live.steps}; " + "; ".join(
    f"{k}: {[round(v, 4) for v in vals]}" for k, vals in live.history.items()))
live

# %% [markdown]
# ## The notes' table, checked against this run
#
# Each claim is ticked only if this run showed it: a TensorBoard row when the data API returned that
# plugin's data, a Visdom row when the live plot did the thing. Audio stays unticked: minifw's writer has no
# `add_audio`, so nothing here could show it (TensorBoard itself can).

# %%
hist_steps = len(w_hist)
rows = [
    ("TensorBoard", "tracks loss and accuracy", len(loss_curve) == EPOCHS and len(acc_curve) == EPOCHS,
     f"{len(loss_curve)} loss and {len(acc_curve)} accuracy points; last accuracy "
     f"{acc_curve[-1][2]:.1%}" if acc_curve else "no scalars"),
    ("TensorBoard", "visualises the graph", bool(graph_info.get("run_graph")) and "conv1/" in graph_text,
     f"{graph_text.count('node {')} ops in layer scopes" + (" (screenshot above)" if shot else " (no screenshot)")),
    ("TensorBoard", "histograms of weights over time", hist_steps >= 2,
     f"{len(hist_tags)} histogram tags, {hist_steps} epochs of weights/conv1.weight"),
    ("TensorBoard", "images", len(images) > 0, f"the misclassified digits as an image at {len(images)} steps"),
    ("TensorBoard", "text", any(t.startswith("misclassified") and text_of[t] for t in text_tags),
     f"text tags: {', '.join(sorted(text_tags))}"),
    ("TensorBoard", "audio", "audio" in listing and listing["audio"]["enabled"],
     "nothing logged (minifw's SummaryWriter has no add_audio)"),
    ("TensorBoard", "profiles", "matmul" in profile_text,
     f"one training step, {len(prof.events)} timed ops, as a table in the Text tab"),
    ("Visdom", "callbacks", live.redraws == EPOCHS and hasattr(live, "on_epoch_end"),
     f"redrawn {live.redraws} times, once per epoch; also a Keras callback (on_epoch_end)"),
    ("Visdom", "plots", all(len(v) == EPOCHS for v in live.history.values()) and len(live.history) >= 2,
     f"{len(live.history)} curves of {EPOCHS} points, an SVG in the notebook"),
    ("Visdom", "environments", False, "not in LivePlot: Visdom groups windows by environment on its server"),
]
ticked = sum(ok for _, _, ok, _ in rows)
table(("tool", "the notes say", "seen here", "measured"),
      [(e(t), e(claim), "✓" if ok else "✗", e(detail)) for t, claim, ok, detail in rows])

# %%
tb = [ok for t, _, ok, _ in rows if t == "TensorBoard"]
vd = [ok for t, _, ok, _ in rows if t == "Visdom"]
print(f"TensorBoard: {sum(tb)} of {len(tb)} claims seen; Visdom's model: {sum(vd)} of {len(vd)}; {ticked} in all")

# %% [markdown]
# ## Stop the board
#
# The board is a process of its own: stop it, and remove the temporary folder.

# %%
board.stop()
shutil.rmtree(logdir, ignore_errors=True)
print(f"stopped: tensorboard exited with code {board.proc.returncode}")

# %% [markdown]
# **In a terminal:** `minifw train --model cnn --tensorboard runs` writes the same event files (Keras'
# `fit(callbacks=[TensorBoard("runs")])` too), `minifw board runs` starts the board and prints its address,
# and `minifw board runs --screenshot g.png` saves the Graphs tab.
