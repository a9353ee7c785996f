"""Cases: referral, reading and assignment, people and threat sources, lifecycle moves, the schedule."""
