"""Go's container/heap (up, and Pop's swap-down-remove) over (labels, value) pairs: topk and
bottomk keep the very series Prometheus keeps when values tie, and NaN where it does."""

from __future__ import annotations

from collections.abc import Callable

Labels = dict[str, str]


def heap_up(heap: list[tuple[Labels, float]], j: int, less: Callable[[float, float], bool]) -> None:
    """container/heap's up()."""
    while True:
        i = (j - 1) // 2
        if j <= 0 or i == j or not less(heap[j][1], heap[i][1]):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def heap_pop(heap: list[tuple[Labels, float]], less: Callable[[float, float], bool]) -> None:
    """container/heap's Pop(): swap the root to the end, down() over the rest, remove it."""
    n = len(heap) - 1
    heap[0], heap[n] = heap[n], heap[0]
    i = 0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        if j1 + 1 < n and less(heap[j1 + 1][1], heap[j1][1]):
            j = j1 + 1
        if not less(heap[j][1], heap[i][1]):
            break
        heap[i], heap[j] = heap[j], heap[i]
        i = j
    heap.pop()
