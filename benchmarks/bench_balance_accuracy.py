"""Balanced accuracy with and without ClassBalancer on 10:1 imbalanced digits.

Digits split 50/50 (stratified); the training half keeps 80 images of
digits 0-4 and 8 of digits 5-9. Both sides are a GridSearchCV (cv=2,
scoring balanced accuracy) over the same small DropoutCNN: one tunes its
dropout, the other the ClassBalancer strategy in front of it.

    python benchmarks/bench_balance_accuracy.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split

from cnnfix import ClassBalancer, DropoutCNN, make_pipeline
from cnnfix.datasets import load_digit_images


def main():
    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    keep = np.concatenate(
        [np.flatnonzero(y_train == c)[: 80 if c < 5 else 8] for c in range(10)]
    )
    X_train, y_train = X_train[keep], y_train[keep]
    cnn = DropoutCNN(conv_filters=(8, 16), dense_units=32, epochs=20, random_state=0)
    searches = {
        "DropoutCNN alone (grid: dropout)": GridSearchCV(
            make_pipeline(cnn),
            {"dropoutcnn__dropout": [0.25, 0.5]},
            cv=2,
            scoring="balanced_accuracy",
        ),
        "ClassBalancer + DropoutCNN (grid: strategy)": GridSearchCV(
            make_pipeline(ClassBalancer(k_neighbors=3, random_state=0), cnn),
            {"classbalancer__strategy": ["oversample", "smote"]},
            cv=2,
            scoring="balanced_accuracy",
        ),
    }
    print(
        f"train: {np.bincount(y_train).tolist()} images per digit; "
        f"test: {len(y_test)} images\n"
    )
    print("| pipeline | best params | test balanced accuracy | search time (s) |")
    print("|---|---|---|---|")
    for name, search in searches.items():
        start = time.perf_counter()
        search.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        score = balanced_accuracy_score(y_test, search.predict(X_test))
        print(f"| {name} | {search.best_params_} | {score:.4f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
