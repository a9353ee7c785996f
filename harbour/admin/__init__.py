"""Staffing an installation: agencies, staff accounts, key rotation, and `harbour init`."""
