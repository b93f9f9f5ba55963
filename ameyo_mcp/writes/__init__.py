"""The write path: every write command to Ameyo goes through here, once (ledger claims,
confirmation, audit), including bulk uploads from files."""
