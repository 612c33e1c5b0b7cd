"""The report: the Markdown tables of the measured rows, the targets of
docs/PERFORMANCE.md met or missed, and the machine and PostgreSQL they were
measured on.
"""

import os
import platform
import subprocess
from pathlib import Path

from bench.databases import connect
from bench.measure import Row
from bench.scenarios import QUERY_BUDGET
from bench.servers import API, API_NOCACHE, APIS, BASELINE, SERVER_LABELS, TUTORIAL


def _rps_against(rows: list[Row], server: str, scenario: str) -> float | None:
    """req/s of `server` on `scenario` in this run; None if it was not measured."""
    for other in rows:
        if other.server == server and other.scenario == scenario and other.results:
            return other.rps
    return None


def _ratio(row: Row, rows: list[Row]) -> float | None:
    """req/s against bare Django's answer of the same kind (its compare_to)."""
    if row.server == BASELINE or not row.compare_to or not row.results:
        return None
    bare = _rps_against(rows, BASELINE, row.compare_to)
    return row.rps / bare if bare else None


def _to_tutorial(row: Row, rows: list[Row]) -> float | None:
    """req/s against the tutorial's code on the same scenario."""
    if row.server not in APIS or not row.results:
        return None
    tutorial = _rps_against(rows, TUTORIAL, row.scenario)
    return row.rps / tutorial if tutorial else None


def _fmt(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def main_table(rows: list[Row]) -> str:
    lines = [
        "| scenario | server | req/s (median) | p50 ms | p99 ms | / bare "
        "| / tutorial | SQL queries/request | worker RSS (private) MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        label = SERVER_LABELS.get(row.server, row.server)
        if not row.results:
            lines.append(f"| {row.label} | {label} | failed | | | | | | |")
            continue
        lines.append(
            f"| {row.label} | {label} | {row.rps:.0f} | {row.p50:.1f} "
            f"| {row.p99:.1f} | {_fmt(_ratio(row, rows))} "
            f"| {_fmt(_to_tutorial(row, rows))} "
            f"| {row.queries if row.queries is not None else '-'} "
            f"| {row.rss_mb:.0f} ({row.uss_mb:.0f}) |"
        )
    return "\n".join(lines)


def scaling_table(by_size: dict[int, list[Row]]) -> str:
    lines = [
        "| courses | scenario | server | req/s (median) | p50 ms | p99 ms "
        "| / bare | / API at smallest size |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    smallest = min(by_size) if by_size else 0
    for size, rows in sorted(by_size.items()):
        for row in rows:
            label = SERVER_LABELS.get(row.server, row.server)
            if not row.results:
                lines.append(f"| {size:,} | {row.label} | {label} | failed | | | | |")
                continue
            growth = "-"
            if row.server in APIS:
                for first in by_size[smallest]:
                    if (first.scenario, first.server) == (
                        row.scenario,
                        row.server,
                    ) and first.results:
                        growth = f"{row.rps / first.rps:.2f}"
            lines.append(
                f"| {size:,} | {row.label} | {label} | {row.rps:.0f} "
                f"| {row.p50:.1f} | {row.p99:.1f} | {_fmt(_ratio(row, rows))} "
                f"| {growth} |"
            )
    return "\n".join(lines)


def workers_table(by_workers: dict[int, list[Row]]) -> str:
    lines = [
        "| workers | scenario | req/s (median) | p50 ms | p99 ms | / 1 worker |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    first = by_workers.get(min(by_workers)) if by_workers else None
    for workers, rows in sorted(by_workers.items()):
        for row in rows:
            if not row.results:
                lines.append(f"| {workers} | {row.label} | failed | | | |")
                continue
            base = next(
                (r for r in first or [] if r.scenario == row.scenario and r.results),
                None,
            )
            step = f"{row.rps / base.rps:.2f}" if base else "-"
            lines.append(
                f"| {workers} | {row.label} | {row.rps:.0f} | {row.p50:.1f} "
                f"| {row.p99:.1f} | {step} |"
            )
    return "\n".join(lines)


def connections_table(persistent: list[Row], per_request: list[Row]) -> str:
    lines = [
        "| DB_CONN_MAX_AGE | scenario | req/s (median) | p50 ms | p99 ms |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for setting, rows in (("600", persistent), ("0", per_request)):
        for row in rows:
            if row.server != API_NOCACHE or row.scenario not in (
                "list_anon",
                "detail_anon",
            ):
                continue
            if not row.results:
                lines.append(f"| {setting} | {row.label} | failed | | |")
                continue
            lines.append(
                f"| {setting} | {row.label} | {row.rps:.0f} | {row.p50:.1f} "
                f"| {row.p99:.1f} |"
            )
    return "\n".join(lines)


def targets(rows: list[Row], by_size: dict[int, list[Row]]) -> str:
    """Each target of docs/PERFORMANCE.md on the main table: met or MISSED."""
    found = {(r.scenario, r.server): r for r in rows if r.results}
    checks = []

    def rps(scenario: str, server: str) -> float | None:
        row = found.get((scenario, server))
        return row.rps if row else None

    def check(label: str, value: float | None, limit: float, at_most: bool = False):
        if value is None:
            checks.append(f"- {label}: not measured")
            return
        ok = value <= limit if at_most else value >= limit
        sign = "≤" if at_most else "≥"
        checks.append(
            f"- {label}: {value:.2f} ({sign} {limit}) {'met' if ok else 'MISSED'}"
        )

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    bare = {name: rps(name, BASELINE) for name in ("list_anon", "detail_anon")}
    for name, kind in (("list_anon", "list"), ("detail_anon", "detail")):
        check(
            f"anonymous {kind}, cache warm / bare",
            ratio(rps(name, API), bare[name]),
            1.2,
        )
        check(
            f"anonymous {kind}, cache off / bare",
            ratio(rps(name, API_NOCACHE), bare[name]),
            0.6,
        )
    check(
        "deep page, cache off / bare deep page",
        ratio(rps("list_deep", API_NOCACHE), rps("list_deep", BASELINE)),
        0.5,
    )
    check(
        "deep page / page 1, both cache off (within 20 %)",
        ratio(rps("list_deep", API_NOCACHE), rps("list_anon", API_NOCACHE)),
        0.8,
    )
    check(
        "signed-in detail / bare anonymous detail",
        ratio(rps("detail_signed", API), bare["detail_anon"]),
        0.5,
    )
    check(
        "304 revalidation / bare anonymous detail",
        ratio(rps("revalidate_304", API), bare["detail_anon"]),
        1.5,
    )
    # Never slower than the tutorial's code, in any scenario both serve.
    for row in rows:
        if row.server in APIS and (row.scenario, TUTORIAL) in found:
            check(
                f"{row.label}, {SERVER_LABELS[row.server]} / tutorial",
                _to_tutorial(row, rows),
                1.0,
            )
    if len(by_size) >= 2:
        sizes = sorted(by_size)

        def list_at(size: int) -> float | None:
            for row in by_size[size]:
                if row.scenario == "list_anon" and row.server in APIS and row.results:
                    return row.rps
            return None

        check(
            f"anonymous list (cache off) at {sizes[-1]:,} / at {sizes[0]:,} courses",
            ratio(list_at(sizes[-1]), list_at(sizes[0])),
            0.5,
        )
    for scenario, limit in (("webhook_duplicate", 3), ("webhook_first", 10)):
        row = found.get((scenario, API))
        value = float(row.queries) if row and row.queries is not None else None
        check(f"SQL queries, {scenario.replace('_', ' ')}", value, limit, at_most=True)
    over = [
        f"{row.scenario} on {row.server}: {row.queries} > {QUERY_BUDGET[row.scenario]}"
        for row in rows
        if row.server in APIS
        and row.queries is not None
        and row.queries > QUERY_BUDGET.get(row.scenario, row.queries)
    ]
    measured = [row for row in rows if row.server in APIS and row.queries is not None]
    if measured:
        checks.append(
            "- SQL queries per request, unchanged or lower in every scenario: "
            + ("met" if not over else "MISSED (" + "; ".join(over) + ")")
        )
    api_rss = max((r.rss_mb for r in rows if r.server in APIS), default=0)
    base_rss = max((r.rss_mb for r in rows if r.server == BASELINE), default=0)
    check("worker RSS / bare", ratio(api_rss, base_rss), 1.5, at_most=True)
    api_uss = max((r.uss_mb for r in rows if r.server in APIS), default=0)
    base_uss = max((r.uss_mb for r in rows if r.server == BASELINE), default=0)
    if api_uss and base_uss:
        checks.append(
            f"- (for information) worker private memory / bare: "
            f"{api_uss / base_uss:.2f} ({api_uss:.0f} MB / {base_uss:.0f} MB)"
        )
    signed_list = ratio(rps("list_signed", API), bare["list_anon"])
    if signed_list is not None:
        checks.append(
            f"- (for information) signed-in list / bare anonymous list: "
            f"{signed_list:.2f}"
        )
    return "\n".join(checks)


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    memory_gb = int(meminfo[1]) / 1024 / 1024
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk_banner = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.split()
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, "
        f"Python {platform.python_version()}, {' '.join(wrk_banner[:2])}"
    )


def postgres_version(url: str) -> str:
    with connect(url) as conn:
        cursor = conn.cursor()
        cursor.execute("SHOW server_version")
        return "PostgreSQL " + cursor.fetchone()[0]
