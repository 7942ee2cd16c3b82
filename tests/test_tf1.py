"""The TensorFlow-1 front door: a classic TF1 program runs after changing
only its import line, and the TF1-style MLP follows the PyTorch style's loss
curve step by step."""

import numpy as np
import pytest

import minifw.compat.tf1 as tf
from minifw.data import load_digits
from minifw.static import FeedError


def _one_hot(y, n=10):
    out = np.zeros((len(y), n), np.float32)
    out[np.arange(len(y)), y] = 1
    return out


def test_classic_softmax_regression_program_runs_unchanged():
    (xtr, ytr), (xte, yte) = load_digits("train", seed=0), load_digits("test", seed=0)
    xtr, xte = xtr.reshape(-1, 64), xte.reshape(-1, 64)
    tf.reset_default_graph()
    # --- the program as TF1's tutorial writes it (MNIST -> the embedded digits) ---
    x = tf.placeholder(tf.float32, [None, 64])
    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.nn.softmax(tf.matmul(x, W) + b)
    y_ = tf.placeholder(tf.float32, [None, 10])
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(accuracy, feed_dict={x: xte, y_: _one_hot(yte)})
        for i in range(300):
            lo = (i * 100) % (len(xtr) - 100)
            sess.run(train_step, feed_dict={x: xtr[lo:lo + 100], y_: _one_hot(ytr[lo:lo + 100])})
        after = sess.run(accuracy, feed_dict={x: xte, y_: _one_hot(yte)})
    assert before < 0.2  # all-zero weights: one class everywhere
    assert after > 0.9


def test_adam_matches_minifw_optim_adam():
    import minifw as mf
    from minifw import optim

    w0 = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    target = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    tf.reset_default_graph()
    w = tf.Variable(w0)
    loss = tf.reduce_sum(tf.square(w - target))
    step = tf.train.AdamOptimizer(0.1).minimize(loss)
    p = mf.tensor(w0, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(20):
            sess.run(step)
            opt.zero_grad()
            ((p - mf.tensor(target)) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(sess.run(w), p.numpy(), rtol=1e-4, atol=1e-5)


def test_tf1_mlp_follows_the_pytorch_loss_curve():
    from minifw.compat import styles

    a = styles.run("pytorch", "mlp", epochs=1)
    b = styles.run("tf1", "mlp", epochs=1)
    assert len(a.batch_losses) == len(b.batch_losses) > 10
    np.testing.assert_allclose(b.batch_losses, a.batch_losses, rtol=1e-4, atol=1e-5)


def test_placeholder_without_shape_is_refused():
    with pytest.raises(ValueError, match="give a shape"):
        tf.placeholder(tf.float32)


def test_missing_feed_names_the_placeholder():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3], name="images")
    y = tf.reduce_sum(x * 2.0)
    with tf.Session() as sess, pytest.raises(FeedError, match="images"):
        sess.run(y)


def test_sparse_and_dense_cross_entropy_agree():
    tf.reset_default_graph()
    logits = tf.placeholder(tf.float32, [None, 4])
    labels = tf.placeholder(tf.int64, [None])
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    dense = tf.nn.softmax_cross_entropy_with_logits(labels=tf.one_hot(labels, 4), logits=logits)
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    lab = np.array([0, 3, 1, 2, 3])
    with tf.Session() as sess:
        s, d = sess.run([sparse, dense], {logits: z, labels: lab})
    ref = -(z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(5), lab]
    np.testing.assert_allclose(s, ref, rtol=1e-5)
    np.testing.assert_allclose(d, ref, rtol=1e-5)
