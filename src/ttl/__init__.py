"""Lifecycle rules, their pure evaluation, and the jobs that apply them across the cluster."""
