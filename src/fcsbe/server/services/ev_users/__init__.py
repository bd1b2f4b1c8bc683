"""EV users (UC 3.6): consent and limits that take effect at once (`ev_users`), and their access:
invitations, personal links, the operator's list and erasure (`access`).
"""
