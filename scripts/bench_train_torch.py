"""Times one training epoch of PyTorch (CPU) on Fashion-MNIST, for bench-train.sh.

Usage: bench_train_torch.py ARCH THREADS BATCH DATA_DIR
Prints one JSON line: {"arch": ..., "seconds": ...}. Same architecture, batch
size, optimizer (SGD, momentum 0.9) and thread count as the shiftkit run.
"""
import gzip
import json
import sys
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def model(arch):
    nn = torch.nn
    if arch == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    sizes = [int(s) for s in arch.removeprefix("mlp:").split("-")]
    layers = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


def main():
    arch, threads, batch, data_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.tensor(idx(f"{data_dir}/train-images-idx3-ubyte.gz"), dtype=torch.float32) / 255
    x = x.reshape(-1, 1, 28, 28)
    y = torch.tensor(idx(f"{data_dir}/train-labels-idx1-ubyte.gz"), dtype=torch.int64)
    m = model(arch)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(len(y))
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        b = perm[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(m(x[b]), y[b])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"arch": arch, "seconds": seconds, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
