"""Stage 4, verify: check an output like an adversary would."""
