"""Diehl & Cook's readout: label each neuron by its strongest class, vote by class.

After learning, the network is shown labelled images with learning off; each excitatory
neuron is assigned the class for which its mean spike count per image is highest (a
neuron that never fires stays unassigned, `-1`). A test image is then classified as the
class whose assigned neurons fire the most on average (the paper's rule; BindsNET's
"all activity"). These are plain numpy functions of spike counts.
"""

import numpy as np


def assign_labels(counts: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The class of each neuron: the one with its highest mean response.

    As the authors' `get_new_assignments`: a neuron's mean count per class is its summed
    count over that class's images divided by their number; it takes the class with the
    strictly largest mean above zero (the first on ties), else stays `-1`.

    **Arguments:**

    - `counts`: `(n_samples, n_neurons)` spike counts; `labels`: `(n_samples,)` classes.
    - `n_classes`: number of classes.

    **Returns:** `(n_neurons,)` int assignments in `-1..n_classes-1`.

    >>> counts = np.array([[3, 0, 0], [0, 2, 0], [1, 0, 0]])
    >>> assign_labels(counts, np.array([0, 1, 0]), 2).tolist()
    [0, 1, -1]
    """
    counts = np.asarray(counts, dtype=np.float64)
    labels = np.asarray(labels)
    if counts.ndim != 2 or labels.shape != (counts.shape[0],):
        raise ValueError(
            f"counts must be (n_samples, n_neurons) and labels (n_samples,), got "
            f"{counts.shape} and {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    sums = np.zeros((n_classes, counts.shape[1]))
    np.add.at(sums, labels, counts)
    seen = np.bincount(labels, minlength=n_classes).astype(np.float64)
    means = sums / np.maximum(seen, 1.0)[:, None]
    best = np.argmax(means, axis=0)
    return np.where(means.max(axis=0) > 0, best, -1).astype(np.int64)


def classify(counts: np.ndarray, assignments: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Predicted classes: the class whose assigned neurons have the highest mean count.

    A class without assigned neurons scores 0; ties go to the lowest class.

    **Arguments:**

    - `counts`: `(n_samples, n_neurons)` spike counts.
    - `assignments`: `(n_neurons,)` from `assign_labels`.
    - `n_classes`: number of classes.

    **Returns:** `(n_samples,)` int predictions.

    >>> classify(np.array([[3, 0, 5], [0, 2, 0]]), np.array([0, 1, -1]), 2).tolist()
    [0, 1]
    """
    counts = np.asarray(counts, dtype=np.float64)
    assignments = np.asarray(assignments)
    if counts.ndim != 2 or assignments.shape != (counts.shape[1],):
        raise ValueError(
            f"counts must be (n_samples, n_neurons) and assignments (n_neurons,), got "
            f"{counts.shape} and {assignments.shape}"
        )
    onehot = (assignments[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)
    n_assigned = onehot.sum(axis=0)
    scores = counts @ onehot / np.maximum(n_assigned, 1.0)[None, :]
    return np.argmax(scores, axis=1).astype(np.int64)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of `predictions` equal to `labels`."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return float(np.mean(predictions == labels)) if labels.size else float("nan")
