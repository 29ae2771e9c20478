"""The tiered block store: block math, tier files, admission and eviction, single-flight.

Knows no HTTP and no vendor: a miss calls a fetch function it is given.
"""
