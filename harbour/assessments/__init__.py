"""Safety assessments: submitting one at any point of a case, and a supervisor's override of its level."""
