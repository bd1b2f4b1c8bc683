"""Flexibility-service contracts: proposals and amendments, the operator's decisions, the rules
their terms must meet, contract-holder discovery and the credentials check.

Everything that decides whether an FO may ask for a service on a target starts here.
"""
