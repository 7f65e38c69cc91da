"""What acts on stored facts: rescue cases, maintenance supervision, statistics, elevator identity."""
