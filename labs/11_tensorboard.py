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
# %% [markdown] zh
# # 实验 11 — 看见训练：TensorBoard 与 Visdom
#
# *25–35 分钟。* 课程笔记说 TensorFlow 在可视化上胜出：“TensorBoard 跟踪损失和准确率，可视化计算图、随时间变化的
# 权重直方图、图像、文本和音频、性能剖析；Visdom：回调、绘图、环境——简单而有限”。这里你用自己的一次训练来检验
# 这个说法。你会把手写数字 CNN（LeNet）训练几个 epoch，同时由 `minifw.tensorboard` 写出真正的 TensorBoard 事件
# 文件；在 127.0.0.1 上启动真正的 `tensorboard` 程序，并通过它的 HTTP 数据 API 读回它的各个标签页会显示什么；
# 一个无界面浏览器会给 Graphs 标签页拍一张照片。与之并列的 `LivePlot` 是 Visdom 的模式：一张由回调在每个 epoch
# 重画的图。最后的表格只在这次运行确实展示了某项时，才勾选笔记里的那一项说法。
# **练习 11.1：** 把每个类别的测试准确率记录为标量，每个数字一条曲线。
#
# 需要 `pip install 'minifw[tensorboard]'`（tensorboardX 负责写入，`tensorboard` 负责展示）。

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
# %% [markdown] zh
# ## 训练，并写出 TensorBoard 要显示的内容
#
# 一个 PyTorch 风格的循环，TensorBoard 日志是手动写的：`SummaryWriter` 用的是 PyTorch 的名字（`add_scalar`、
# `add_histogram`、`add_image`、`add_text`、`add_graph`），`EpochLogger` 每个 epoch 调用它们一次：损失和准确率
# 作为标量、学习率、每个权重及其梯度的直方图，以及模型认错的测试数字（拼成一张图像，它们的标签作为文本）。
# `add_graph` 写出网络的 minifw 静态图（每层一个名字作用域），第二个训练步会用 `minifw.profiler` 逐个算子地计时，
# 写进 Text 标签页。单元格下方的 `LivePlot` 在每个 epoch 结束时更新，就像 Visdom 的回调那样。每个 epoch 的权重
# 都保存了下来（`state_dict`），供练习使用。

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
# %% [markdown] zh
# 写进 Text 标签页的性能剖析是一个 `Profile` 对象；作为单元格的值，它显示为一张表：

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
# %% [markdown] zh
# ## 练习 11.1 — 每个数字的准确率，画成十条曲线
#
# 一个总的准确率掩盖了网络还在混淆哪些数字。编写 `log_class_accuracy(writer, model, x, y, step)`：对从 0 到 9
# 的每个数字 d，把**真实标签为 d** 的样本中被 `model` 正确分类的比例，作为 `step` 处的一个标量记录下来：
# 可以调用十次 `writer.add_scalar(f"class_accuracy/{d}", value, step)`，也可以调用一次
# `writer.add_scalars("class_accuracy", {str(d): value, ...}, step)`（TensorBoard 会把十条曲线画在一张图里）。
# `predict_classes(model, x)`（上面已导入）在评估模式下给出预测的数字。检查程序会通过你的函数写入一个新文件夹，
# 用 TensorBoard 自己的读取器读回事件文件，并把每个值与模型真实的各类别准确率比较。

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
# %% [markdown] zh
# 现在为这次训练本身记录它：把每个 epoch 的权重放回网络，就得到该 epoch 在曲线上的点。

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
# %% [markdown] zh
# ## 真正的 TensorBoard，以及它的数据 API 说了什么
#
# `Board` 在 127.0.0.1 的一个空闲端口上针对这个文件夹运行 `tensorboard` 程序，并等到它响应为止。浏览器中的
# 各个标签页，正是用我们这里读取的同一套 HTTP 数据 API 画出来的：先是 `/data/plugins_listing`（哪些标签页有数据），
# 然后是每个插件的标签（tag）和值。

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
# %% [markdown] zh
# 学习者在 Scalars 标签页里看到的练习结果：十条各类别曲线，从 board 读回（用 `add_scalars` 时每个数字一个 run，
# 用 `add_scalar` 时每个数字一个 tag）。

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
# %% [markdown] zh
# ## Graphs 标签页的截图
#
# Graphs 标签页用 JavaScript 绘制 GraphDef，所以数据 API 无法展示它；一个无界面的 Chromium（系统软件包，这里
# 不会下载）从 board 加载页面并保存一张 PNG。在真正的标签页里，双击某一层的方框可以展开它的算子。

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
# %% [markdown] zh
# ## Visdom 的模式：实时绘图
#
# Visdom 给 PyTorch 循环提供*回调*，把数据点推送到*绘图*上，这些绘图在它的服务器上按*环境*分组。`LivePlot` 就是
# 去掉服务器的这种模式：它在训练单元格下方画出了图，并在每个 epoch 结束时重画。下面是它保存的内容：

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
# %% [markdown] zh
# ## 笔记里的表格，用这次运行来核对
#
# 每一项说法只有在这次运行确实展示了它时才会被勾选：TensorBoard 的一行要求数据 API 返回了该插件的数据，Visdom 的
# 一行要求实时绘图确实做到了那件事。音频一项保持不勾选：minifw 的写入器没有 `add_audio`，所以这里没有任何东西
# 能展示它（TensorBoard 本身可以）。

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
# %% [markdown] zh
# ## 停止 board
#
# board 是一个独立的进程：停止它，并删除临时文件夹。

# %%
board.stop()
shutil.rmtree(logdir, ignore_errors=True)
print(f"stopped: tensorboard exited with code {board.proc.returncode}")

# %% [markdown]
# **In a terminal:** `minifw train --model cnn --tensorboard runs` writes the same event files (Keras'
# `fit(callbacks=[TensorBoard("runs")])` too), `minifw board runs` starts the board and prints its address,
# and `minifw board runs --screenshot g.png` saves the Graphs tab.
# %% [markdown] zh
# **在终端里：** `minifw train --model cnn --tensorboard runs` 写出同样的事件文件（Keras 的
# `fit(callbacks=[TensorBoard("runs")])` 也可以），`minifw board runs` 启动 board 并打印它的地址，
# `minifw board runs --screenshot g.png` 保存 Graphs 标签页的截图。
