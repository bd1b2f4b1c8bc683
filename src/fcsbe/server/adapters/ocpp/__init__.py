"""The OCPP station adapter: charging stations connect over OCPP-J 2.1, 2.0.1 or 1.6."""
