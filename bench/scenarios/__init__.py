"""The scenarios, in the order they run and are reported."""

from __future__ import annotations

from dataclasses import dataclass

from bench import read_api
from bench.core import Scenario
from bench.scenarios.drain import scoring_drain
from bench.scenarios.e2e import end_to_end
from bench.scenarios.growth import growth
from bench.scenarios.imports import csv_import
from bench.scenarios.ingest import ingest_batch, ingest_single
from bench.scenarios.memory import memory
from bench.scenarios.pure import pure_scoring
from bench.scenarios.rescoring import rescoring


@dataclass(frozen=True)
class Spec:
    run: Scenario
    description: str
    needs_servers: bool = True


SCENARIOS: dict[str, Spec] = {
    "ingest-single": Spec(ingest_single, "single-touchpoint POSTs with API key and Kafka acknowledgement vs a bare endpoint"),
    "ingest-batch": Spec(ingest_batch, "batch POSTs of 500 touchpoints"),
    "csv-import": Spec(csv_import, "a 100,000-row contact list (CSV) through `leadflow import` until Kafka acknowledged it all"),
    "scoring-drain": Spec(scoring_drain, "one scoring process drains a pre-loaded topic; baseline: one touchpoint per transaction"),
    "end-to-end": Spec(end_to_end, "steady touchpoints into ingest; POST that makes a lead SQL -> signed webhook"),
    "growth": Spec(growth, "scoring throughput with few vs many stored leads; scoring cost with 10 vs 100 rules"),
    "pure-scoring": Spec(pure_scoring, "the pure scoring function against a 50-rule model", needs_servers=False),
    "memory": Spec(memory, "resident memory of each service after a load period"),
    "rescoring": Spec(rescoring, "activating a changed model rescores every lead from its history"),
    "read-api": Spec(read_api.scenario, "lead list and funnel over 1,000,000 leads and about 10,000,000 touchpoints"),
}
