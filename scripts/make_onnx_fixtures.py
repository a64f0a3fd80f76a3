"""Builds the ONNX test fixtures (run by hand, never by shiftkit).

An MLP (16-12-5), a LeNet-5 with batch norm (1x28x28) and a conv-pool-relu
network (1x8x8, the ReLU after the pool), with seeded random
weights and batch-norm statistics, exported with both PyTorch exporters
(TorchScript, opset 13; dynamo, opset 18), plus reference outputs on fixed
inputs. Needs: pip install torch onnx onnxscript.

Usage: python3 scripts/make_onnx_fixtures.py tests/fixtures/onnx
"""
import json
import os
import sys

import torch
from torch import nn


def lenet5_bn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def mlp():
    return nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))


def pool_relu():
    """The classic PyTorch MNIST ordering: the ReLU after the pool."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
        nn.Linear(128, 10))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    for name, model, shape in [("mlp", mlp(), (16,)), ("lenet5", lenet5_bn(), (1, 28, 28)),
                               ("pool_relu", pool_relu(), (1, 8, 8))]:
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        model.eval()
        x = torch.rand(3, *shape)
        with torch.no_grad():
            y = model(x)
        example = (x[:1],)
        torch.onnx.export(model, example, f"{out}/{name}_torchscript.onnx", dynamo=False,
                          opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        torch.onnx.export(model, example, f"{out}/{name}_dynamo.onnx", dynamo=True,
                          opset_version=18, input_names=["x"], output_names=["y"],
                          external_data=False)
        with open(f"{out}/{name}_io.json", "w") as f:
            json.dump({"input_shape": list(shape),
                       "inputs": x.reshape(3, -1).tolist(),
                       "outputs": y.tolist()}, f)
        print(name, "ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/onnx")
