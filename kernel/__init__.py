"""The ground floor: settings, database, auth, web, mail, PDF, QR, badge layout, rate limits, hooks.

Imports no domain (events, ticketing, judging...) and nothing of the assembly (denhub).
"""
