"""Rules every layer may use: the one phone rule, times, and text safety (fences, redaction)."""
