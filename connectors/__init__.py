"""Connectors: pull (or take) department records into Kafka, each fact once.

Every connector has the same shape: a spec (the department's mapping file), a generator of native
rows with their location, and the shared ``pull`` loop that turns rows into source-record
envelopes, sends them to ``raw.<source>`` and dead-letters what cannot be read.
"""
