"""Detailed service records (DSR) and proofs of work: what an ended FS delivered, from what the
meters measured (`inputs`), built by the pure builder in `dsr/`, signed, validated or disputed.
"""
