"""Deep-network training by the rule objects (``symdyn.DeepNetwork``) against a hand-written
numpy loop of the same network and rule (target: <= 1.3x the time per epoch), a PyTorch CPU
loop where torch is installed, and the time of the default digits suite.

Network 64-100-100-10, tanh hidden units, softmax output with cross-entropy, biases; digits
(1437 training samples), mini-batches of 32, lr 0.05; rules BP and ARBP (the hand-written
ARBP also learns C_h = C_h + lr * O_h B_{h+1}^T / b). Both sides start from the same weights
and see the same batches, and must end with the same weights (checked). BLAS runs on one
thread on both sides, as the experiments do. Also: the test accuracy of scikit-learn's
MLPClassifier of the same shape (plain SGD, same rate and batches per epoch), as the
reference a plain numpy MLP reaches."""

from __future__ import annotations

import time
import warnings

import numpy as np
from _common import machine
from threadpoolctl import threadpool_limits

from symdyn.training import DeepNetwork, Run, load_digits, run_one

LR, B, EPOCHS_TIMED = 0.05, 32, 5


def hand_written_epoch(W, b, C, X, T, order, adaptive):
    """One epoch of BP (``C`` empty) or ARBP, written out."""
    for start in range(0, X.shape[1], B):
        idx = order[start:start + B]
        x, t = X[:, idx], T[:, idx]
        n = x.shape[1]
        s1 = W[1] @ x + b[1]
        o1 = np.tanh(s1)
        s2 = W[2] @ o1 + b[2]
        o2 = np.tanh(s2)
        s3 = W[3] @ o2 + b[3]
        z = np.exp(s3 - s3.max(axis=0, keepdims=True))
        e = t - z / z.sum(axis=0, keepdims=True)
        B3 = e
        B2 = (1 - o2 * o2) * ((C[2] if adaptive else W[3].T) @ B3)
        B1 = (1 - o1 * o1) * ((C[1] if adaptive else W[2].T) @ B2)
        if adaptive:
            C[2] += LR * (o2 @ B3.T) / n
            C[1] += LR * (o1 @ B2.T) / n
        for h, (Bh, Oh) in {1: (B1, x), 2: (B2, o1), 3: (B3, o2)}.items():
            W[h] += LR * (Bh @ Oh.T) / n
            b[h] += LR * Bh.sum(axis=1, keepdims=True) / n


def symdyn_epoch(net, X, T, order):
    for start in range(0, X.shape[1], B):
        idx = order[start:start + B]
        net.step(X[:, idx], T[:, idx], LR)


def compare(rule, X, T):
    net = DeepNetwork("64-100-100-10", rule, activation="tanh", seed=0)
    W = {h: w.copy() for h, w in net.W.items()}
    b = {h: v.copy() for h, v in net.b.items()}
    C = {h: c.copy() for h, c in net.C.items()}
    rng = np.random.default_rng(1)
    orders = [rng.permutation(X.shape[1]) for _ in range(EPOCHS_TIMED)]
    t_ours, t_hand = [], []
    for order in orders:  # interleaved, so that load on the machine hits both alike
        t0 = time.perf_counter()
        symdyn_epoch(net, X, T, order)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hand_written_epoch(W, b, C, X, T, order, rule == "arbp")
        t_hand.append(time.perf_counter() - t0)
    err = max(float(np.abs(net.W[h] - W[h]).max()) for h in W)
    return min(t_ours), min(t_hand), err


def torch_epoch_time(X, T):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.Tanh(),
                                torch.nn.Linear(100, 100), torch.nn.Tanh(),
                                torch.nn.Linear(100, 10)).double()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.tensor(X.T)
    y = torch.tensor(T.argmax(axis=0))
    best = float("inf")
    for _ in range(EPOCHS_TIMED):
        t0 = time.perf_counter()
        for start in range(0, x.shape[0], B):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[start:start + B]),
                                                     y[start:start + B])
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - t0)
    return best


def sklearn_reference(d, epochs=30):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    accs = []
    for seed in range(3):
        clf = MLPClassifier(hidden_layer_sizes=(100, 100), activation="tanh", solver="sgd",
                            learning_rate_init=LR, batch_size=B, momentum=0.0, alpha=0.0,
                            max_iter=epochs, random_state=seed, tol=0.0,
                            n_iter_no_change=epochs + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(d.X_train, d.Y_train.argmax(axis=1))
        accs.append(clf.score(d.X_test, d.Y_test.argmax(axis=1)))
    return float(np.mean(accs)), float(np.std(accs, ddof=1))


def suite_estimate(d):
    """CPU and wall time of a sample of the default suite's runs, extrapolated to all 63."""
    sample = [Run(rule="bp"), Run(rule="srbp", variant="no-derivative"),
              Run(rule="arbp", variant="tanh-channel"), Run(rule="rbp", variant="adaptive")]
    c0, w0 = time.process_time(), time.perf_counter()
    for r in sample:
        run_one(r, d)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return cpu / len(sample) * 63, wall / len(sample) * 63


def main():
    print(machine())
    d = load_digits()
    X, T = np.ascontiguousarray(d.X_train.T), np.ascontiguousarray(d.Y_train.T)
    with threadpool_limits(limits=1, user_api="blas"):
        for rule in ("bp", "arbp"):
            ours, hand, err = compare(rule, X, T)
            print(f"{rule}: symdyn {1e3 * ours:.1f} ms/epoch, hand-written numpy "
                  f"{1e3 * hand:.1f} ms/epoch: ratio {ours / hand:.2f} (target <= 1.3); same "
                  f"weights after {EPOCHS_TIMED} epochs to {err:.1e}")
        tt = torch_epoch_time(X, T)
        print("PyTorch CPU loop: not installed, skipped" if tt is None else
              f"PyTorch CPU loop (BP, 1 thread): {1e3 * tt:.1f} ms/epoch")
        m, s = sklearn_reference(d)
        print(f"scikit-learn MLPClassifier 64-100-100-10 tanh, plain SGD, 30 epochs, 3 seeds: "
              f"test accuracy {m:.3f} ± {s:.3f}")
        cpu, wall = suite_estimate(d)
    print(f"default suite (63 runs x 30 epochs, with per-epoch measurements), extrapolated "
          f"from 4 runs: {cpu:.0f} s CPU, {wall:.0f} s wall on this machine now")


if __name__ == "__main__":
    main()
