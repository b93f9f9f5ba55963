"""Rules every layer may use: the one phone rule, times, text safety (fences, redaction), and how a
process is named in the store (owners)."""
