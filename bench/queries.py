"""SQL queries per request, counted in-process with Django's test client.

Run by bench/measure.py in a subprocess with the same environment as the server
it stands for (DJANGO_SETTINGS_MODULE picks the project or the baseline):

    python -m bench.queries plan.json > counts.json

plan.json maps each scenario to {"warm": [request, ...], "measure": request,
"expected_status": status};
the warm-up requests run first (JWKS fetched and cached, lazy imports done),
then the queries of the measured request are counted. With --profile N, the
measured request is also repeated N times under pyinstrument and the profile
is printed to stderr.
"""

import argparse
import json
import os
import sys


def _send(client, request: dict):
    extra = {"HTTP_HOST": "127.0.0.1"}
    for name, value in request.get("headers", {}).items():
        if name.lower() == "content-type":
            continue
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    if request["method"] == "GET":
        return client.get(request["path"], **extra)
    return client.generic(
        request["method"],
        request["path"],
        data=(request.get("body") or "").encode(),
        content_type="application/json",
        **extra,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Count SQL queries per scenario.")
    parser.add_argument("plan")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with open(args.plan) as plan_file:
        plan = json.load(plan_file)
    client = Client()
    counts: dict[str, dict] = {}
    for name, scenario in plan.items():
        if args.only and name != args.only:
            continue
        for request in scenario["warm"]:
            _send(client, request)
        with CaptureQueriesContext(connection) as captured:
            response = _send(client, scenario["measure"])
        counts[name] = {
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "sql": [q["sql"] for q in captured.captured_queries],
        }
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(args.profile):
                    _send(client, scenario["measure"])
            print(f"=== {name}: call tree ===", file=sys.stderr)
            print(profiler.output_text(unicode=True, color=False), file=sys.stderr)
            # Where the time goes inside the libraries the tree folds away.
            flat = profiler.output_text(unicode=True, color=False, flat=True)
            print(f"=== {name}: functions by own time ===", file=sys.stderr)
            print("\n".join(flat.splitlines()[:60]), file=sys.stderr)
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main()
