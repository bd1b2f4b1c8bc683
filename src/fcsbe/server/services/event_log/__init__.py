"""The tamper-evident event log: appending and chaining (`log`), the RFC 9162 Merkle tree and
signed tree heads (`tree`), the audit that proves the log was never rewritten (`audit`), and
the security events that refused requests leave behind (`security_events`).
"""
