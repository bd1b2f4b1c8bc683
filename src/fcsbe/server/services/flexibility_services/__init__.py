"""Flexibility services: requests, the lifecycle, decisions and their rules, execution at the
stations (station plans, dynamic control, fallback), telemetry and measurements.

This domain owns the FS from the moment it is received until its stations are released; the
record it leaves behind belongs to `services.records`.
"""
