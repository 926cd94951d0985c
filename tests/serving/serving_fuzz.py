"""Schemathesis over a running server's /openapi.json: the suite's bounded run (test_serving_openapi.py)
and the benchmark's deep one (benchmarks/bench_serving_fuzz.py) share this code.

Checks, on every response: no 5xx; the status code, Content-Type, headers and body are the ones the spec
declares for that operation (so an undocumented error or a body that does not match `Video` / `Error`
fails). Cases come positive (valid per the spec) and negative (invalid on purpose).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]


@dataclass
class FuzzReport:
    cases: Counter = field(default_factory=Counter)  # operation -> cases sent
    statuses: Counter = field(default_factory=Counter)  # status code -> responses
    by_operation: dict[str, Counter] = field(default_factory=dict)  # operation -> status code -> responses
    failures: list[tuple[str, str]] = field(default_factory=list)  # (operation, what failed)
    stateful_steps: int = 0

    def record(self, operation: str, status: int) -> None:
        self.statuses[status] += 1
        self.by_operation.setdefault(operation, Counter())[status] += 1

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


def load(url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(url + "/openapi.json")


def fuzz_operations(
    url: str, max_examples: int, modes: tuple[GenerationMode, ...] = tuple(GenerationMode)
) -> FuzzReport:
    """`max_examples` cases per operation and generation mode, every response checked."""
    report = FuzzReport()
    schema = load(url)
    for result in schema.get_all_operations():
        for mode in modes:
            _fuzz_one(result.ok(), mode, max_examples, report)
    return report


def _fuzz_one(operation, mode: GenerationMode, max_examples: int, report: FuzzReport) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    def run(case) -> None:
        report.cases[operation.label] += 1
        try:
            response = case.call(timeout=30)
            report.record(operation.label, response.status_code)
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # a failed check: recorded, the run goes on
            report.failures.append((operation.label, str(exc)[:2000]))

    try:
        run()
    except Unsatisfiable:  # nothing to vary (an operation without parameters has no negative cases)
        pass


def fuzz_stateful(url: str, max_examples: int, report: FuzzReport | None = None) -> FuzzReport:
    """Schemathesis' stateful phase: sequences that follow the spec's links (create → retrieve, remix,
    download, delete the video it made)."""
    report = report or FuzzReport()
    machine = load(url).as_state_machine()

    class Counted(machine):  # type: ignore[misc, valid-type]
        def call(self, case, **kwargs):
            kwargs.setdefault("timeout", 30)
            response = super().call(case, **kwargs)
            report.stateful_steps += 1
            report.cases[f"stateful {case.operation.label}"] += 1
            report.record(f"stateful {case.operation.label}", response.status_code)
            return response

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:
                report.failures.append((f"stateful {case.operation.label}", str(exc)[:2000]))

    Counted.run(
        settings=settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            stateful_step_count=10,
        )
    )
    return report
