"""A plan: steps in a DAG keyed by step key, kept in insertion order.

A step may only need steps already added, so the graph cannot have a cycle; ``steps``
orders it dependencies first, ready steps by slot (a lexicographical topological sort).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import replace

from clusterbuild.plan.steps import Step


class Plan:
    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}  # key -> step, in the order first added
        self._dependents: dict[str, list[str]] = {}
        self._order: list[Step] | None = None
        self.warnings: list[str] = []  # what the planner noticed (a user should know)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def add(self, step: Step) -> str:
        """Add a step (or merge it into an equal-keyed one); return its key."""
        key = step.key
        existing = self._steps.get(key)
        if existing is not None:
            platforms = tuple(dict.fromkeys((*existing.platforms, *step.platforms)))
            self._steps[key] = replace(existing, platforms=platforms)
            self._order = None
            return key
        for need in step.needs:
            if need not in self._steps:
                raise ValueError(f"{step.label} needs a step that is not planned")
        self._steps[key] = step
        for need in dict.fromkeys(step.needs):
            self._dependents.setdefault(need, []).append(key)
        self._order = None
        return key

    @property
    def steps(self) -> list[Step]:
        """All steps, dependencies first, in a stable order."""
        if self._order is None:
            self._order = self._sorted()
        return self._order

    def _sorted(self) -> list[Step]:
        position = {key: n for n, key in enumerate(self._steps)}
        waiting = {key: len(set(step.needs)) for key, step in self._steps.items()}
        heap = [(step.slot, position[key], key) for key, step in self._steps.items() if not waiting[key]]
        heapq.heapify(heap)
        order: list[Step] = []
        while heap:
            key = heapq.heappop(heap)[2]
            order.append(self._steps[key])
            for dependent in self._dependents.get(key, ()):
                waiting[dependent] -= 1
                if not waiting[dependent]:
                    heapq.heappush(heap, (self._steps[dependent].slot, position[dependent], dependent))
        return order

    def __getitem__(self, key: str) -> Step:
        return self._steps[key]

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)
