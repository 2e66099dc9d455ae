"""Figures, targets and the result files (JSON plus a Markdown table) of a benchmark run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    name: str
    value: Any  # a number, a text, or None when the scenario could not produce it
    unit: str = ""
    target: str = ""  # in words, e.g. "<= 2 s"; empty: informative only
    met: bool | None = None  # None: no target

    @classmethod
    def checked(
        cls, name: str, value: Any, unit: str, target: str, ok: Callable[[Any], bool]
    ) -> Figure:
        return cls(name, value, unit, target, None if value is None else ok(value))


@dataclass
class Scenario:
    number: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  [{self.number}] {figure.name}: {_value(figure)}{_verdict(figure)}", flush=True)
        return figure

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        figures = [Figure(**f) for f in data.pop("figures")]
        return cls(figures=figures, **data)


def _value(figure: Figure) -> str:
    value = figure.value
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value} {figure.unit}".strip()


def _verdict(figure: Figure) -> str:
    if not figure.target:
        return ""
    return f" (target {figure.target}: {'met' if figure.met else 'MISSED'})"


def markdown(machine: dict[str, Any], scenarios: list[Scenario], command: str) -> str:
    lines = [
        f"Measured {machine['date']} on {machine['cores']} cores ({machine['cpu_model']}), "
        f"Python {machine['python']}, commit `{machine['commit']}`: `{command}`",
        "",
        "| # | scenario | figure | value | target | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scenario in scenarios:
        for figure in scenario.figures:
            result = "" if not figure.target else ("met" if figure.met else "**missed**")
            lines.append(
                f"| {scenario.number} | {scenario.title} | {figure.name} | {_value(figure)} | "
                f"{figure.target} | {result} |"
            )
    # The same note (the ceiling's formula) on several scenarios is printed once.
    numbers: dict[str, list[str]] = {}
    for scenario in scenarios:
        for note in scenario.notes:
            numbers.setdefault(note, []).append(scenario.number)
    notes = [f"- {', '.join(n)}: {note}" for note, n in numbers.items()]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def save(
    name: str, machine: dict[str, Any], scenarios: list[Scenario], command: str
) -> tuple[Path, Path]:
    RESULTS.mkdir(exist_ok=True)
    data = {
        "machine": machine,
        "command": command,
        "scenarios": [s.to_json() for s in scenarios],
    }
    json_path = RESULTS / f"{name}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path = RESULTS / f"{name}.md"
    md_path.write_text(markdown(machine, scenarios, command))
    return json_path, md_path
