"""Staff sign-in for the web console: enrolment links, passwords, TOTP, sessions, lockout.

Services here follow the house rule (one transaction, a frozen result). Secrets never leave as
text except where a person must see them once: the enrolment link (printed for an admin, or sent
to the person's own route) and the TOTP secret on the enrolment page.
"""
