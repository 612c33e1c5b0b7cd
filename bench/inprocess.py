"""Time requests in-process with Django's test client: CPU and wall time per request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_10k \\
    REDIS_URL=redis://127.0.0.1:6379/11 python -m bench.inprocess
    python -m bench.inprocess --settings bench.baseline.settings list_anon
    python -m bench.inprocess --settings bench.tutorial.settings

No server, no network, no wrk: the time a worker spends on each request, which
is what a change to the request path moves. Each scenario is sent `--requests`
times, `--rounds` times over; the best round is kept (the least disturbed by
the rest of the machine). CPU time is this process's only (PostgreSQL and
Redis run elsewhere); wall time includes the waits on them. The same settings
as the benchmark's servers: DEBUG off, throttles on with a one-second window,
the shared cache in Redis when REDIS_URL is set. docs/PERFORMANCE.md records
each change's before and after with this command.
"""

import argparse
import os
import statistics
import sys
import time

from bench.load import BENCH_STUDENT

SIGNED_IN_STUDENT = "user_7"
HIGH_RATE = "1000000000/second"
SCENARIOS = (
    "list_anon",
    "list_deep",
    "detail_anon",
    "revalidate_304",
    "list_signed",
    "detail_signed",
    "outline_anon",
    "my_courses",
)
BASELINE_SCENARIOS = ("list_anon", "list_deep", "detail_anon")
TUTORIAL_SCENARIOS = (*BASELINE_SCENARIOS, "list_signed", "detail_signed", "my_courses")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=[])
    parser.add_argument("--settings", default="config.settings")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--deep-page", type=int, default=200)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a pyinstrument profile of each scenario instead of timing it",
    )
    parser.add_argument(
        "--cache-seconds",
        default=None,
        help="CATALOG_CACHE_SECONDS for the API (default: the settings' own)",
    )
    args = parser.parse_args(argv)
    is_baseline = args.settings == "bench.baseline.settings"
    defaults = {
        "bench.baseline.settings": BASELINE_SCENARIOS,
        "bench.tutorial.settings": TUTORIAL_SCENARIOS,
    }
    names = args.scenarios or list(defaults.get(args.settings, SCENARIOS))

    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    os.environ.setdefault("SECRET_KEY", "bench-inprocess")
    os.environ.update(
        DEBUG="False",
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        THROTTLE_ANON_RATE=HIGH_RATE,
        THROTTLE_USER_RATE=HIGH_RATE,
        # The request log goes to the handler as in production; not to the
        # terminal, where printing would be timed too.
        REQUEST_LOG_LEVEL=os.environ.get("REQUEST_LOG_LEVEL", "INFO"),
    )
    if args.cache_seconds is not None:
        os.environ["CATALOG_CACHE_SECONDS"] = args.cache_seconds
    clerk = None
    if not is_baseline:
        from courses.tests.fakes.clerk import FakeClerk

        clerk = FakeClerk(authorized_party="http://localhost:3000").start()
        for user_id in (SIGNED_IN_STUDENT, BENCH_STUDENT):
            clerk.add_user(user_id, email=f"{user_id}@example.com", first_name="B")
        os.environ.update(clerk.env(), FRONTEND_URL="http://localhost:3000")

    import django

    django.setup()
    import logging

    from django.core.cache import cache
    from django.test import Client

    from courses.models import Course, Lesson

    # The log line is still built and handled; its output goes nowhere.
    for handler in logging.getLogger().handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115

    active = list(
        Course.objects.filter(is_active=True).order_by("id").values_list("id", flat=1)
    )
    detail_ids = active[:: max(1, len(active) // 200)][:200]
    outline_course = (
        Lesson.objects.filter(course__is_active=True)
        .order_by("course_id")
        .values_list("course_id", flat=True)
        .first()
    )
    signed, student = {}, {}
    if clerk is not None:
        token = clerk.authorization(SIGNED_IN_STUDENT, expires_in=3600)
        signed = {"HTTP_AUTHORIZATION": token}
        token = clerk.authorization(BENCH_STUDENT, expires_in=3600)
        student = {"HTTP_AUTHORIZATION": token}
    client = Client(HTTP_HOST="127.0.0.1")

    def paths(name: str) -> list[tuple[str, dict]]:
        if name == "list_anon":
            return [("/api/courses/", {})]
        if name == "list_deep":
            return [(f"/api/courses/?page={args.deep_page}", {})]
        if name == "detail_anon":
            return [(f"/api/courses/{pk}/", {}) for pk in detail_ids]
        if name == "revalidate_304":
            etags = []
            for pk in detail_ids:
                response = client.get(f"/api/courses/{pk}/")
                etags.append((pk, response.headers.get("ETag", '"none"')))
            return [
                (f"/api/courses/{pk}/", {"HTTP_IF_NONE_MATCH": etag})
                for pk, etag in etags
            ]
        if name == "list_signed":
            return [("/api/courses/", signed)]
        if name == "detail_signed":
            return [(f"/api/courses/{pk}/", signed) for pk in detail_ids]
        if name == "outline_anon":
            return [(f"/api/courses/{outline_course}/outline/", {})]
        if name == "my_courses":
            return [("/api/my-courses/", student)]
        raise SystemExit(f"unknown scenario {name}")

    print(
        f"{args.settings}, CATALOG_CACHE_SECONDS="
        f"{os.environ.get('CATALOG_CACHE_SECONDS', 'default')}, "
        f"{args.rounds} x {args.requests} requests, best round",
        file=sys.stderr,
    )
    for name in names:
        cache.clear()
        requests = paths(name)
        if (
            name == "revalidate_304"
            and requests[0][1]["HTTP_IF_NONE_MATCH"] == '"none"'
        ):
            print(f"{name:<16} no ETag: not measured")
            continue
        expected = 304 if name == "revalidate_304" else 200
        for path, headers in requests:  # warm: imports, JWKS, caches
            status = client.get(path, **headers).status_code
            if status != expected:
                raise SystemExit(f"{name}: {path} answered {status}")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            with profiler:
                for index in range(args.requests * args.rounds):
                    path, headers = requests[index % len(requests)]
                    client.get(path, **headers)
            print(f"=== {name}: call tree ===")
            print(profiler.output_text(unicode=True, color=False))
            # Own time per function: where the time goes inside the libraries
            # the tree folds away.
            flat = profiler.output_text(unicode=True, color=False, flat=True)
            print(f"=== {name}: functions by own time ===")
            print("\n".join(flat.splitlines()[:45]))
            continue
        cpu_rounds, wall_rounds = [], []
        for _ in range(args.rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            for index in range(args.requests):
                path, headers = requests[index % len(requests)]
                client.get(path, **headers)
            cpu_rounds.append((time.process_time() - cpu) / args.requests * 1000)
            wall_rounds.append((time.perf_counter() - wall) / args.requests * 1000)
        print(
            f"{name:<16} cpu {min(cpu_rounds):6.3f} ms  wall {min(wall_rounds):6.3f} ms"
            f"  (median wall {statistics.median(wall_rounds):6.3f})"
        )
    if clerk is not None:
        clerk.stop()


if __name__ == "__main__":
    main()
