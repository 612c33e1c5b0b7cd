"""The tutorial's read paths as it writes them: a peer for the benchmark.

Its views, serializers and Clerk authentication copied from the tutorial
(`/api/courses/`, `/api/courses/{id}/`, `/api/enrollments/`, `/api/my-courses/`,
`/api/health/`), with its settings (middleware, DRF defaults, local-memory
cache), over this project's models and database. Stripe (checkout, webhook)
is left out: the benchmark does not compare it.
"""
