"""Caffe network and solver files for the embedded digits, written the way
Caffe's own ``examples/mnist/lenet_train_test.prototxt`` and
``lenet_solver.prototxt`` are (same layer names, fillers, ``lr_mult`` 1/2,
``inv`` policy).  The digits are 8x8, not 28x28, so the convolutions are 3x3
with padding 1 instead of 5x5, and the pixel counts 0..16 are scaled by 1/16
instead of 1/256.
"""

from __future__ import annotations

LENET = """\
name: "LeNet"
layer {
  name: "mnist"
  type: "Data"
  top: "data"
  top: "label"
  include { phase: TRAIN }
  transform_param { scale: 0.0625 }
  data_param { source: "digits" batch_size: 64 }
}
layer {
  name: "mnist"
  type: "Data"
  top: "data"
  top: "label"
  include { phase: TEST }
  transform_param { scale: 0.0625 }
  data_param { source: "digits" batch_size: 90 }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 }
  param { lr_mult: 2 }
  convolution_param {
    num_output: 20
    kernel_size: 3
    pad: 1
    stride: 1
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" }
  }
}
layer {
  name: "relu0"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "pool1"
  type: "Pooling"
  bottom: "conv1"
  top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "conv2"
  type: "Convolution"
  bottom: "pool1"
  top: "conv2"
  param { lr_mult: 1 }
  param { lr_mult: 2 }
  convolution_param {
    num_output: 50
    kernel_size: 3
    pad: 1
    stride: 1
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" }
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv2"
  top: "conv2"
}
layer {
  name: "pool2"
  type: "Pooling"
  bottom: "conv2"
  top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "ip1"
  type: "InnerProduct"
  bottom: "pool2"
  top: "ip1"
  param { lr_mult: 1 }
  param { lr_mult: 2 }
  inner_product_param {
    num_output: 500
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" }
  }
}
layer {
  name: "relu2"
  type: "ReLU"
  bottom: "ip1"
  top: "ip1"
}
layer {
  name: "ip2"
  type: "InnerProduct"
  bottom: "ip1"
  top: "ip2"
  param { lr_mult: 1 }
  param { lr_mult: 2 }
  inner_product_param {
    num_output: 10
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" }
  }
}
layer {
  name: "accuracy"
  type: "Accuracy"
  bottom: "ip2"
  bottom: "label"
  top: "accuracy"
  include { phase: TEST }
}
layer {
  name: "loss"
  type: "SoftmaxWithLoss"
  bottom: "ip2"
  bottom: "label"
  top: "loss"
}
"""

LENET_SOLVER = """\
# The train/test net protocol buffer definition
net: "lenet_train_test.prototxt"
# test_iter specifies how many forward passes the test should carry out:
# 4 batches of 90 cover the 360 test digits.
test_iter: 4
# Carry out testing every 45 training iterations (about two passes over the data).
test_interval: 45
# The base learning rate, momentum and the weight decay of the network.
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
# The learning rate policy
lr_policy: "inv"
gamma: 0.0001
power: 0.75
# Display every 45 iterations
display: 45
# The maximum number of iterations (about 24 passes over the 1,437 training digits)
max_iter: 540
solver_mode: CPU
"""

MLP = """\
name: "MLP"
layer {
  name: "digits"  type: "Data"  top: "data"  top: "label"
  include { phase: TRAIN }
  transform_param { scale: 0.0625 }
  data_param { source: "digits" batch_size: 32 }
}
layer {
  name: "digits"  type: "Data"  top: "data"  top: "label"
  include { phase: TEST }
  transform_param { scale: 0.0625 }
  data_param { source: "digits" batch_size: 90 }
}
layer {
  name: "ip1"  type: "InnerProduct"  bottom: "data"  top: "ip1"
  inner_product_param { num_output: 128 weight_filler { type: "xavier" } bias_filler { type: "constant" } }
}
layer { name: "relu1"  type: "ReLU"  bottom: "ip1"  top: "ip1" }
layer {
  name: "ip2"  type: "InnerProduct"  bottom: "ip1"  top: "ip2"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } bias_filler { type: "constant" } }
}
layer { name: "accuracy"  type: "Accuracy"  bottom: "ip2"  bottom: "label"  top: "accuracy"
        include { phase: TEST } }
layer { name: "loss"  type: "SoftmaxWithLoss"  bottom: "ip2"  bottom: "label"  top: "loss" }
"""

MLP_SOLVER = """\
net: "mlp_train_test.prototxt"
test_iter: 4
test_interval: 45
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0001
lr_policy: "step"
gamma: 0.5
stepsize: 450
display: 45
max_iter: 1350
"""

EXAMPLES = {"cnn": (LENET, LENET_SOLVER), "mlp": (MLP, MLP_SOLVER)}
