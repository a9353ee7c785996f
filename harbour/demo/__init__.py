"""The demo: a fictional caseload walked through Harbour on this machine."""
