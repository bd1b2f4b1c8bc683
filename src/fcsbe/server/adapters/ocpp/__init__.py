"""OCPP 2.1 / 2.0.1 / 1.6J: the station adapter that speaks OCPP-J to real charging stations.

`profiles` maps adapter commands to the calls of a station's OCPP version (pure), `ledger`
remembers per station which charging profiles and DER controls are installed, and `checker`
verifies a sequence of calls against the smart-charging rules of OCPP (docs/ocpp-mapping.md).
"""
