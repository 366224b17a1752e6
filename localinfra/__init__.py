"""Real infrastructure on one machine, without Docker: a Kafka broker process, a Postgres server and
a Prefect server, started as child processes on loopback and stopped cleanly. Used by the demo, the tests
and the benchmarks alike."""
