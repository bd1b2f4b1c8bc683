"""The station registry and what it shows: importing registry files and their rules, targets and
what covers them, sites and charging stations, capabilities, availability, EV sessions and
their synchronisation with what the stations report.
"""
