"""Who may talk to the server: enrolment tokens and enrolments, the server's own party, the FO's
heartbeat (liveness of the link) and its webhook endpoint.
"""
