"""Convene's benchmark suite (issue 7): `python -m benchmarks` or `make bench`.

Every scenario runs in a process of its own against a fresh stack: the Microsoft 365 emulator
(a separate process with Microsoft's limits and 100 ms +- 20 ms latency), Convene's web server
(uvicorn) and Huey worker processes, each on a fresh temporary CONVENE_VAR_DIR and database.
See README.md ("Benchmarks") for the scenarios, the figures and how the ceiling is computed.
"""
