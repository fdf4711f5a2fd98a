"""A plan: steps in a DAG keyed by step key. networkx stays inside this module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import networkx as nx

from clusterbuild.errors import InputError
from clusterbuild.plan.steps import Step


class Plan:
    def __init__(self) -> None:
        self._graph: nx.DiGraph = nx.DiGraph()
        self._order: list[Step] | None = None
        self.warnings: list[str] = []  # what the planner noticed (a user should know)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def add(self, step: Step) -> str:
        """Add a step (or merge it into an equal-keyed one); return its key."""
        key = step.key
        existing: Step | None = self._graph.nodes[key]["step"] if key in self._graph else None
        if existing is not None:
            platforms = tuple(dict.fromkeys((*existing.platforms, *step.platforms)))
            step = replace(existing, platforms=platforms)
        self._graph.add_node(key, step=step)
        for need in step.needs:
            if need not in self._graph:
                raise ValueError(f"{step.label} needs a step that is not planned")
            self._graph.add_edge(need, key)
        self._order = None
        return key

    @property
    def steps(self) -> list[Step]:
        """All steps, dependencies first, in a stable order."""
        if self._order is None:
            try:
                keys = nx.lexicographical_topological_sort(
                    self._graph, key=lambda k: self._graph.nodes[k]["step"].slot)
                self._order = [self._graph.nodes[k]["step"] for k in keys]
            except nx.NetworkXUnfeasible:
                raise InputError("the plan has a dependency cycle") from None
        return self._order

    def __getitem__(self, key: str) -> Step:
        step: Step = self._graph.nodes[key]["step"]
        return step

    def __len__(self) -> int:
        return len(self._graph)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

